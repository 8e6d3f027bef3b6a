// AVX-512 kernels (F/BW/VL/DQ; VNNI is required by the dispatcher because the
// file is compiled with it). One 32-column panel is two zmm vectors.
//
// Only intrinsics and file-local functions here: an inline function from a
// shared header instantiated in this file could be the copy the linker keeps
// and carry AVX-512 instructions into code that runs on older CPUs.
// GCC 12 reports the deliberately undefined pass-through operand inside
// its own AVX-512 intrinsics (_mm512_undefined_*) as maybe uninitialised
// (clang has no such warning, and would warn about the unknown name).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "optimized/kernel_loops.h"
#include "optimized/matmul.h"
#include "optimized/vnni.h"

namespace needle::optimized::internal {
namespace {

static_assert(kPanel == 32 && kGroup == 32, "kernels assume 32-wide panels and groups");

inline const uint8_t* PanelData(const PackedView& w, int p) { return w.data + static_cast<size_t>(p) * w.panel_bytes; }

inline __m512 Bf16ToF32(const uint16_t* src) {
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}

inline void Int8Row(const uint8_t* row, __m512* lo, __m512* hi) {
  *lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row))));
  *hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16))));
}

inline void Int4Row(const uint8_t* row, __m512* lo, __m512* hi) {
  const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row)));
  const __m512i eight = _mm512_set1_epi32(8);
  *lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(bytes, _mm512_set1_epi32(15)), eight));
  *hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bytes, 4), eight));
}

inline __mmask16 LowMask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

inline void StoreRow(float* y, __m512 lo, __m512 hi, int width) {
  if (width == kPanel) {
    _mm512_storeu_ps(y, lo);
    _mm512_storeu_ps(y + 16, hi);
  } else {
    _mm512_mask_storeu_ps(y, LowMask(width), lo);
    _mm512_mask_storeu_ps(y + 16, LowMask(width - 16), hi);
  }
}

// m == 1: memory bound, weights are dequantised in registers and never stored.
void GemvPanel(const float* x, const PackedView& w, int p, float* y, int width) {
  const uint8_t* src = PanelData(w, p);
  const int in = w.in;
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  switch (w.type) {
    case WeightType::kF32: {
      const float* pw = reinterpret_cast<const float*>(src);
      // Four k in flight: eight independent chains cover the FMA latency.
      __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
      __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
      int k = 0;
      for (; k + 4 <= in; k += 4) {
        const float* r = pw + static_cast<size_t>(k) * kPanel;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_loadu_ps(r), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_loadu_ps(r + 16), a1);
        b0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 1]), _mm512_loadu_ps(r + 32), b0);
        b1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 1]), _mm512_loadu_ps(r + 48), b1);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 2]), _mm512_loadu_ps(r + 64), c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 2]), _mm512_loadu_ps(r + 80), c1);
        d0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 3]), _mm512_loadu_ps(r + 96), d0);
        d1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 3]), _mm512_loadu_ps(r + 112), d1);
      }
      for (; k < in; ++k) {
        const float* r = pw + static_cast<size_t>(k) * kPanel;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_loadu_ps(r), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), _mm512_loadu_ps(r + 16), a1);
      }
      a0 = _mm512_add_ps(_mm512_add_ps(a0, b0), _mm512_add_ps(c0, d0));
      a1 = _mm512_add_ps(_mm512_add_ps(a1, b1), _mm512_add_ps(c1, d1));
      break;
    }
    case WeightType::kBF16: {
      const uint16_t* pw = reinterpret_cast<const uint16_t*>(src);
      __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
      int k = 0;
      for (; k + 2 <= in; k += 2) {
        const uint16_t* r = pw + static_cast<size_t>(k) * kPanel;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), Bf16ToF32(r), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), Bf16ToF32(r + 16), a1);
        b0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 1]), Bf16ToF32(r + 32), b0);
        b1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k + 1]), Bf16ToF32(r + 48), b1);
      }
      for (; k < in; ++k) {
        const uint16_t* r = pw + static_cast<size_t>(k) * kPanel;
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), Bf16ToF32(r), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), Bf16ToF32(r + 16), a1);
      }
      a0 = _mm512_add_ps(a0, b0);
      a1 = _mm512_add_ps(a1, b1);
      break;
    }
    case WeightType::kInt8:
    case WeightType::kInt4: {
      const bool int4 = w.type == WeightType::kInt4;
      const int row_bytes = int4 ? kPanel / 2 : kPanel;
      const size_t group_bytes = kPanel * sizeof(float) + kGroup * row_bytes;
      for (int g = 0; g < in / kGroup; ++g) {
        const uint8_t* group = src + g * group_bytes;
        const uint8_t* values = group + kPanel * sizeof(float);
        const float* xg = x + g * kGroup;
        // Sums of x * q over the group, scaled once at the end.
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps();
        for (int k = 0; k < kGroup; k += 2) {
          __m512 lo, hi, lo2, hi2;
          if (int4) {
            Int4Row(values + k * row_bytes, &lo, &hi);
            Int4Row(values + (k + 1) * row_bytes, &lo2, &hi2);
          } else {
            Int8Row(values + k * row_bytes, &lo, &hi);
            Int8Row(values + (k + 1) * row_bytes, &lo2, &hi2);
          }
          s0 = _mm512_fmadd_ps(_mm512_set1_ps(xg[k]), lo, s0);
          s1 = _mm512_fmadd_ps(_mm512_set1_ps(xg[k]), hi, s1);
          t0 = _mm512_fmadd_ps(_mm512_set1_ps(xg[k + 1]), lo2, t0);
          t1 = _mm512_fmadd_ps(_mm512_set1_ps(xg[k + 1]), hi2, t1);
        }
        const float* scales = reinterpret_cast<const float*>(group);
        a0 = _mm512_fmadd_ps(_mm512_add_ps(s0, t0), _mm512_loadu_ps(scales), a0);
        a1 = _mm512_fmadd_ps(_mm512_add_ps(s1, t1), _mm512_loadu_ps(scales + 16), a1);
      }
      break;
    }
    case WeightType::kW8A8:  // MatMul sends these to the w8a8 kernels
    case WeightType::kW4A8:
      break;
  }
  StoreRow(y, a0, a1, width);
}

// Dequantises panel p into in x 32 floats, as DequantizePanel does.
void DequantizePanelAvx512(const PackedView& w, int p, float* out) {
  const uint8_t* src = PanelData(w, p);
  if (w.type == WeightType::kBF16) {
    const uint16_t* pw = reinterpret_cast<const uint16_t*>(src);
    for (size_t i = 0; i < static_cast<size_t>(w.in) * kPanel; i += 16) _mm512_storeu_ps(out + i, Bf16ToF32(pw + i));
    return;
  }
  const bool int4 = w.type == WeightType::kInt4;
  ForEachQuantizedGroup(w, p, [&](int g, const float* scales, const uint8_t* values, int row_bytes) {
    const __m512 scale0 = _mm512_loadu_ps(scales), scale1 = _mm512_loadu_ps(scales + 16);
    for (int k = 0; k < kGroup; ++k) {
      __m512 lo, hi;
      if (int4) {
        Int4Row(values + k * row_bytes, &lo, &hi);
      } else {
        Int8Row(values + k * row_bytes, &lo, &hi);
      }
      float* row = out + static_cast<size_t>(g * kGroup + k) * kPanel;
      _mm512_storeu_ps(row, _mm512_mul_ps(lo, scale0));
      _mm512_storeu_ps(row + 16, _mm512_mul_ps(hi, scale1));
    }
  });
}

// R rows x 32 columns of accumulators; R <= 8 keeps 16 of the 32 registers
// for them.
template <int R>
void MicroKernel(const float* x, int in, const float* panel, float* y, int ldy, int width) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int k = 0; k < in; ++k) {
    const __m512 w0 = _mm512_loadu_ps(panel + static_cast<size_t>(k) * kPanel);
    const __m512 w1 = _mm512_loadu_ps(panel + static_cast<size_t>(k) * kPanel + 16);
    for (int r = 0; r < R; ++r) {
      const __m512 xr = _mm512_set1_ps(x[static_cast<size_t>(r) * in + k]);
      acc[r][0] = _mm512_fmadd_ps(xr, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(xr, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) StoreRow(y + static_cast<size_t>(r) * ldy, acc[r][0], acc[r][1], width);
}

void GemmPanel(const float* x, int m, int in, const float* panel, float* y, int ldy, int width) {
  ForEachRowBlock<8>(m, [&](auto rows, int r) {
    MicroKernel<decltype(rows)::value>(x + static_cast<size_t>(r) * in, in, panel, y + static_cast<size_t>(r) * ldy,
                                       ldy, width);
  });
}

// ---- w8a8 and w4a8 with VNNI. VPDPBUSD multiplies unsigned by signed bytes, so the
// activations are stored as q + 128 and each group's sums need -128 * sum(wq)
// added: w8a8 starts its accumulators at that packed bias; w4a8, whose layout
// leaves the biases out to save decode's bandwidth, sums wq with one more
// VPDPBUSD per quad (by ones; independent of the rows). The int32 result is
// exactly sum(q * wq).

inline int32_t Load32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The w8a8 operands of quad j of a group (16 columns x 4 k each, for columns
// 0..15 and 16..31); w4a8 stores them as nibbles q + 8 (low: columns 0..15).
template <bool kInt4>
inline void LoadQuad(const uint8_t* quads, int j, __m512i* w0, __m512i* w1) {
  if constexpr (kInt4) {
    const __m512i bytes = _mm512_loadu_si512(quads + j * 2 * kPanel);
    const __m512i nibble = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8);
    *w0 = _mm512_sub_epi8(_mm512_and_si512(bytes, nibble), eight);
    *w1 = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(bytes, 4), nibble), eight);
  } else {
    *w0 = _mm512_loadu_si512(quads + j * 4 * kPanel);
    *w1 = _mm512_loadu_si512(quads + j * 4 * kPanel + 64);
  }
}

// R rows x 32 columns: 2R int32 and 2R fp32 accumulators (R <= 6 of 32 registers).
template <int R, bool kInt4>
void W8A8MicroKernel(const uint8_t* xq, int ldx, const float* xs, const uint8_t* panel, int groups, float* y, int ldy,
                     int width) {
  constexpr size_t kGroupBytes = IntegerGroupBytes(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
  __m512 f[R][2];
  for (int r = 0; r < R; ++r) f[r][0] = f[r][1] = _mm512_setzero_ps();
  for (int g = 0; g < groups; ++g) {
    const uint8_t* group = panel + g * kGroupBytes;
    const uint8_t* quads = group + IntegerGroupHeader(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
    __m512i bias0 = _mm512_setzero_si512(), bias1 = _mm512_setzero_si512();
    if constexpr (!kInt4) {
      bias0 = _mm512_loadu_si512(group + kPanel * sizeof(float));
      bias1 = _mm512_loadu_si512(group + kPanel * sizeof(float) + 64);
    }
    __m512i a[R][2];
    for (int r = 0; r < R; ++r) {
      a[r][0] = bias0;
      a[r][1] = bias1;
    }
    [[maybe_unused]] __m512i column_sum0 = _mm512_setzero_si512(), column_sum1 = _mm512_setzero_si512();
    const uint8_t* xg = xq + g * kGroup;
    for (int j = 0; j < kGroup / 4; ++j) {
      __m512i w0, w1;
      LoadQuad<kInt4>(quads, j, &w0, &w1);
      if constexpr (kInt4) {
        const __m512i ones = _mm512_set1_epi8(1);
        column_sum0 = DotBytes(column_sum0, ones, w0);
        column_sum1 = DotBytes(column_sum1, ones, w1);
      }
      for (int r = 0; r < R; ++r) {
        const __m512i xb = _mm512_set1_epi32(Load32(xg + static_cast<size_t>(r) * ldx + 4 * j));
        a[r][0] = DotBytes(a[r][0], xb, w0);
        a[r][1] = DotBytes(a[r][1], xb, w1);
      }
    }
    if constexpr (kInt4) {
      // The bias -128 * sum(wq) (a shift: the same bits as the product in two's complement).
      const __m512i minus0 = _mm512_slli_epi32(column_sum0, 7), minus1 = _mm512_slli_epi32(column_sum1, 7);
      for (int r = 0; r < R; ++r) {
        a[r][0] = _mm512_sub_epi32(a[r][0], minus0);
        a[r][1] = _mm512_sub_epi32(a[r][1], minus1);
      }
    }
    const __m512 s0 = _mm512_loadu_ps(reinterpret_cast<const float*>(group));
    const __m512 s1 = _mm512_loadu_ps(reinterpret_cast<const float*>(group) + 16);
    for (int r = 0; r < R; ++r) {
      f[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[r][0]), s0, f[r][0]);
      f[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[r][1]), s1, f[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m512 scale = _mm512_set1_ps(xs[r]);
    StoreRow(y + static_cast<size_t>(r) * ldy, _mm512_mul_ps(f[r][0], scale), _mm512_mul_ps(f[r][1], scale), width);
  }
}

template <bool kInt4>
void W8A8Panel(const QuantizedView& x, int m, const uint8_t* panel, int groups, float* y, int ldy, int width) {
  ForEachRowBlock<6>(m, [&](auto rows, int r) {
    W8A8MicroKernel<decltype(rows)::value, kInt4>(x.q + static_cast<size_t>(r) * x.in, x.in, x.scale + r, panel, groups,
                                                  y + static_cast<size_t>(r) * ldy, ldy, width);
  });
}

}  // namespace

void QuantizeRowsAvx512(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* /*group_sums*/) {
  for (int r = 0; r < m; ++r) {
    const float* xr = x + static_cast<size_t>(r) * in;
    __m512 mx = _mm512_setzero_ps();
    for (int k = 0; k < in; k += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(xr + k)));
    const float max = _mm512_reduce_max_ps(mx);
    const float inverse = max > 0.0f ? 127.0f / max : 0.0f;
    scale[r] = max / 127.0f;
    const __m512 inv = _mm512_set1_ps(inverse);
    const __m128i offset = _mm_set1_epi8(static_cast<char>(0x80));
    uint8_t* qr = q + static_cast<size_t>(r) * in;
    for (int k = 0; k < in; k += 16) {
      // Saturation to [-128, 127] never bites: |x * inverse| rounds to at most 127.
      const __m128i b = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + k), inv)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qr + k), _mm_xor_si128(b, offset));
    }
  }
}

void MatMulW8A8Avx512(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y) {
  for (int p = p0; p < p1; ++p) {
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    const auto panel = w.type == WeightType::kW4A8 ? W8A8Panel<true> : W8A8Panel<false>;
    panel(x, m, PanelData(w, p), w.in / kGroup, y + c0, w.out, width);
  }
}

void MatMulAvx512(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch) {
  FloatProductPanels(x, m, w, p0, p1, y, scratch, GemvPanel, DequantizePanelAvx512,
                     [&](const float* panel, float* yc, int width) { GemmPanel(x, m, w.in, panel, yc, w.out, width); });
}

}  // namespace needle::optimized::internal
