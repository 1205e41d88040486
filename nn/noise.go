package nn

// GradientNoise is an estimate of the gradient noise scale of McCandlish et
// al. (2018, "An Empirical Model of Large-Batch Training", Appendix A):
// with G the gradient of the loss over the whole training set and Σ the
// covariance of per-example gradients, a batch of B rows drawn with
// replacement has E|G_B|² = |G|² + tr(Σ)/B, so that squared gradient
// norms at two batch sizes, B_small < B_big, give unbiased estimates
//
//	|G|²  ≈ (B_big |G_big|² − B_small |G_small|²) / (B_big − B_small)
//	tr(Σ) ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)
//
// and the simple noise scale B_simple = tr(Σ)/|G|², the batch size around
// which larger batches stop paying off. A record averages both estimates
// over its probes before taking the ratio (a ratio of averages, as the
// paper does, since the ratio of one noisy pair is badly biased).
// callbacks.GradientNoiseScale records one per epoch in EpochRecord.Noise
// (callbacks.NoiseEstimates computes the two estimates).
type GradientNoise struct {
	// Small and Big are the two batch sizes, in rows.
	Small, Big int
	// Probes is the number of (small, big) pairs averaged; 0 means no
	// estimate was made.
	Probes int
	// GradSq is the mean estimate of |G|², TraceCov that of tr(Σ).
	GradSq, TraceCov float64
	// Simple is TraceCov / GradSq, B_simple. It is noisy, and negative or
	// huge when GradSq is near zero (late in training, few probes).
	Simple float64
}
