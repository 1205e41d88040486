package nn

import "math/rand/v2"

// Random streams derived from a model's seed. Each purpose has its own
// stream so that, for example, changing the batch size (which changes how
// much shuffling is drawn) never changes the initial weights.
const (
	streamInit    = 1
	streamShuffle = 2
	streamDropout = 3
)

// newStream returns the PCG source of one purpose for a seed. The two PCG
// words are derived by SplitMix64 so that nearby seeds and purposes give
// unrelated streams.
func newStream(seed uint64, purpose uint64) *rand.PCG {
	return rand.NewPCG(splitmix(seed^splitmix(purpose)), splitmix(seed+purpose*0x9e3779b97f4a7c15))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
