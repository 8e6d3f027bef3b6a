// Loops outside the per-ISA kernel tables that still run over whole rows.
#ifndef NEEDLE_OPTIMIZED_MULTIVERSION_H_
#define NEEDLE_OPTIMIZED_MULTIVERSION_H_

// NEEDLE_AVX2_CLONES before a function compiles it twice on x86-64, for AVX2
// and for the baseline (SSE2), and the loader picks one from the CPU (function
// multiversioning). The RMS norms and the int8 rounding of attention rows are
// such loops: at SSE2's 4 floats (2 doubles) a step they took a tenth of a w8a8
// prefill. AVX2 without FMA, so no multiply-add is fused and both copies round
// alike; AVX-512 would not pay on rows of 64 to 512 values.
#if defined(__x86_64__)
#define NEEDLE_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NEEDLE_AVX2_CLONES
#endif

#endif  // NEEDLE_OPTIMIZED_MULTIVERSION_H_
