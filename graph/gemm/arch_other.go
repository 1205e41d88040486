//go:build !amd64

package gemm

// archKernels returns the portable kernels: no assembly is written for
// this platform.
func archKernels() (kernel[float32], kernel[float64]) {
	const name = "descent blocked GEMM, portable Go"
	return portableKernel[float32](name), portableKernel[float64](name)
}
