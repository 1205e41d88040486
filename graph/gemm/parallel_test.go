package gemm

import "testing"

func TestChunkSize(t *testing.T) {
	for _, tc := range []struct {
		d, unit, work, want int
		why                 string
	}{
		{60000, 12, 60000 * 128 * 784, 3756, "sixteen chunks at most"},
		{60000, 12, 60000 * 10 * 128, 3756, "77 million multiply-adds: sixteen chunks of about four million"},
		{1200, 12, 1200 * 9 * 100, 600, "two chunks at least"},
		{128, 32, 3 * chunkWork, 64, "three chunks' worth of 128 columns: multiples of 32"},
	} {
		if got := chunkSize(tc.d, tc.unit, tc.work); got != tc.want {
			t.Errorf("chunkSize(%d, %d, %d) = %d, want %d (%s)", tc.d, tc.unit, tc.work, got, tc.want, tc.why)
		}
	}
}
