package gemm

// archKernels returns the AVX2/FMA assembly kernels when the CPU and the
// operating system support them (checked with CPUID and XGETBV), else the
// portable kernels.
func archKernels() (kernel[float32], kernel[float64]) {
	if !hasAVX2FMA() {
		const name = "descent blocked GEMM, portable Go (no AVX2/FMA)"
		return portableKernel[float32](name), portableKernel[float64](name)
	}
	const name = "descent blocked GEMM, AVX2/FMA assembly"
	return kernel[float32]{name: name, mr: 6, nr: 16, micro: sgemmKernel6x16, axpy: saxpyAVX2},
		kernel[float64]{name: name, mr: 6, nr: 8, micro: dgemmKernel6x8, axpy: daxpyAVX2}
}

func hasAVX2FMA() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // the OS saves XMM and YMM state
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0 // AVX2
}

// Implemented in arch_amd64.s.

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc, accumulate int, alpha, beta float32)

//go:noescape
func dgemmKernel6x8(kc int, a, b, c *float64, ldc, accumulate int, alpha, beta float64)

//go:noescape
func saxpyAVX2(alpha float32, x, y []float32)

//go:noescape
func daxpyAVX2(alpha float64, x, y []float64)
