package study

import (
	"errors"
	"strings"
	"testing"

	"github.com/descentlab/descent/nn"
	"github.com/descentlab/descent/optim"
)

// TestErrConfigIdentity checks that a study's configuration errors match
// nn's and optim's ErrConfig, and the other way round.
func TestErrConfigIdentity(t *testing.T) {
	_, shardErr := ParseShard("3/2")
	_, variantErr := ParseVariant("minibatch(0)")
	_, optimErr := optim.New("sgd", nil) // lr is required
	for _, err := range []error{shardErr, variantErr, optimErr} {
		for _, s := range []error{ErrConfig, nn.ErrConfig, optim.ErrConfig} {
			if !errors.Is(err, s) {
				t.Errorf("error %v does not match %q", err, s)
			}
		}
	}
}

// TestConfigErrorSaidOnce checks that a study error wrapping a lower
// package's configuration error (an unknown optimizer, a bad variant)
// matches every package's ErrConfig and says "invalid configuration" at
// most once, now that they are one value.
func TestConfigErrorSaidOnce(t *testing.T) {
	good := `{
  "model": {"builtin": "xor-2-10-1"},
  "data": {"name": "xor"},
  "grid": {"variants": ["full"], "optimizers": [{"name": "sgd"}], "lrs": [0.5], "seeds": [1]},
  "budget": {"epochs": 2}
}`
	for _, bad := range []struct{ old, new string }{
		{`"name": "sgd"`, `"name": "sgdx"`},
		{`"name": "sgd"`, `"name": "adam", "hyper": {"momentum": 0.9}`},
		{`"variants": ["full"]`, `"variants": ["tiny"]`},
	} {
		f, err := Parse(strings.NewReader(strings.Replace(good, bad.old, bad.new, 1)), "bad.json")
		if err == nil {
			_, err = f.Study()
		}
		if err == nil {
			t.Fatalf("%s: no error", bad.new)
		}
		for _, s := range []error{ErrConfig, nn.ErrConfig, optim.ErrConfig} {
			if !errors.Is(err, s) {
				t.Errorf("%s: error %v does not match %q", bad.new, err, s)
			}
		}
		if n := strings.Count(err.Error(), ErrConfig.Error()); n > 1 {
			t.Errorf("%s: error %q says %q %d times, want at most once", bad.new, err, ErrConfig, n)
		}
	}
}
