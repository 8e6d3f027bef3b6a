// Loops outside the per-ISA kernel tables that still run over whole rows.
#ifndef NEEDLE_OPTIMIZED_MULTIVERSION_H_
#define NEEDLE_OPTIMIZED_MULTIVERSION_H_

// NEEDLE_AVX2_CLONES before a function compiles it twice on x86-64, for AVX2
// and for the baseline (SSE2), and the loader picks one from the CPU (function
// multiversioning). The RMS norms and the int8 rounding of attention rows are
// such loops (a tenth of a w8a8 prefill at SSE2's width). AVX2 without FMA, so
// no multiply-add is fused and both copies round alike, and one copy serves
// every AVX2 and AVX-512 CPU. Not under ThreadSanitizer: the loader runs the
// chooser (an IFUNC resolver) before the sanitizer's runtime is set up, and the
// instrumented resolver crashed every test program at start.
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define NEEDLE_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NEEDLE_AVX2_CLONES
#endif

#endif  // NEEDLE_OPTIMIZED_MULTIVERSION_H_
