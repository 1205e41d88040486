package study

import (
	"errors"
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
