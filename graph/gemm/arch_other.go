//go:build !amd64

package gemm

const namePortable = "descent blocked GEMM, portable Go"

// archKernels returns the portable kernels: no assembly is written for
// this platform.
func archKernels() (kernel[float32], kernel[float64]) {
	return portableKernel[float32](namePortable), portableKernel[float64](namePortable)
}

// supportedKernels returns the kernels this platform can run.
func supportedKernels() ([]kernel[float32], []kernel[float64]) {
	k32, k64 := archKernels()
	return []kernel[float32]{k32}, []kernel[float64]{k64}
}
