// VPDPBUSD for the x86 kernels that keep arrays of int32 accumulators.
#ifndef NEEDLE_OPTIMIZED_VNNI_H_
#define NEEDLE_OPTIMIZED_VNNI_H_

#if defined(__x86_64__)
#include <immintrin.h>

namespace needle::optimized {
namespace {  // file-local in each includer, so no copy of it is shared across ISAs

// acc + the sums of 4 products of unsigned bytes of u8 and signed bytes of s8
// per 32-bit lane: _mm512_dpbusd_epi32(acc, u8, s8). Written as assembly because
// GCC 12 compiles the intrinsic, inside a loop over an array of accumulators
// (a register-blocked kernel's), into a copy of each accumulator to a scratch
// register and back plus a store of it to the stack at every step: three extra
// instructions per multiply. The "+v" operand keeps each accumulator in one
// register for the whole loop (reports/bench/HISTORY.md has what it changed).
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline __m512i DotBytes(__m512i acc, __m512i u8,
                                                                                     __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

}  // namespace
}  // namespace needle::optimized

#endif  // defined(__x86_64__)
#endif  // NEEDLE_OPTIMIZED_VNNI_H_
