package gemm

import "testing"

func TestChunkSize(t *testing.T) {
	for _, tc := range []struct {
		d, unit, minSize, want int
		why                    string
	}{
		{60000, 12, 96, 3756, "sixteen chunks of a large dimension"},
		{784, 12, 96, 96, "no chunk below the minimum"},
		{128, 12, 96, 72, "two chunks when the dimension holds fewer than two minimums"},
		{128, 32, 64, 64, "two chunks of columns"},
		{30, 12, 96, 24, "a multiple of the unit"},
	} {
		if got := chunkSize(tc.d, tc.unit, tc.minSize); got != tc.want {
			t.Errorf("chunkSize(%d, %d, %d) = %d, want %d (%s)", tc.d, tc.unit, tc.minSize, got, tc.want, tc.why)
		}
	}
}
