// AVX2 + FMA kernels. One 32-column panel is four ymm vectors; the GEMM
// micro-kernel works on half a panel (6 rows x 16 columns = 12 accumulators
// of the 16 registers).
//
// Only intrinsics and file-local functions here: an inline function from a
// shared header instantiated in this file could be the copy the linker keeps
// and carry AVX2 instructions into code that runs on older CPUs.
#include <immintrin.h>

#include <cstring>

#include "optimized/kernel_loops.h"
#include "optimized/matmul.h"

namespace needle::optimized::internal {
namespace {

static_assert(kPanel == 32 && kGroup == 32, "kernels assume 32-wide panels and groups");

inline const uint8_t* PanelData(const PackedView& w, int p) { return w.data + static_cast<size_t>(p) * w.panel_bytes; }

inline __m256 Bf16ToF32(const uint16_t* src) {
  const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

inline __m256 Int8ToF32(const uint8_t* src) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src))));
}

// Columns j..j+7 (j = 0 or 8) from the low nibbles of an int4 row, and
// columns j+16..j+23 from the high ones.
inline void Int4ToF32(const uint8_t* row, int j, __m256* lo, __m256* hi) {
  const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j)));
  const __m256i eight = _mm256_set1_epi32(8);
  *lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(bytes, _mm256_set1_epi32(15)), eight));
  *hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bytes, 4), eight));
}

// One row of an int8/int4 group as four vectors of columns 0-7, 8-15, 16-23, 24-31.
inline void QuantRow(const uint8_t* row, bool int4, __m256 v[4]) {
  if (int4) {
    Int4ToF32(row, 0, &v[0], &v[2]);
    Int4ToF32(row, 8, &v[1], &v[3]);
  } else {
    for (int j = 0; j < 4; ++j) v[j] = Int8ToF32(row + 8 * j);
  }
}

void StorePanelRow(float* y, const __m256 v[4], int width) {
  if (width == kPanel) {
    for (int j = 0; j < 4; ++j) _mm256_storeu_ps(y + 8 * j, v[j]);
    return;
  }
  alignas(32) float tmp[kPanel];
  for (int j = 0; j < 4; ++j) _mm256_store_ps(tmp + 8 * j, v[j]);
  std::memcpy(y, tmp, width * sizeof(float));
}

// Decoding reads every decoder weight once per token (about 11 MB at w4a8),
// more than stays in the last-level cache beside the cross-attention K/V, so the
// one-row products stream their panels from memory. There the hardware
// prefetchers alone left a 512x512 w4a8 product at a third of the bandwidth of
// one that fits in cache, so these kernels request the lines of the data they
// will read this far ahead: a few groups, or the same in rows of a bf16 panel.
constexpr int kPrefetchGroups = 4;
constexpr int kPrefetchRows = kPrefetchGroups * kGroup;

// Requests the `bytes` at p, a cache line at a time.
inline void PrefetchLines(const uint8_t* p, size_t bytes) {
  for (size_t line = 0; line < bytes; line += 64) __builtin_prefetch(p + line);
}

void GemvPanel(const float* x, const PackedView& w, int p, float* y, int width) {
  const uint8_t* src = PanelData(w, p);
  const int in = w.in;
  __m256 a[4], b[4];
  for (int j = 0; j < 4; ++j) a[j] = b[j] = _mm256_setzero_ps();
  switch (w.type) {
    case WeightType::kF32:
    case WeightType::kBF16: {
      const bool bf16 = w.type == WeightType::kBF16;
      const float* pf = reinterpret_cast<const float*>(src);
      const uint16_t* ph = reinterpret_cast<const uint16_t*>(src);
      auto load = [&](int k, int j) {
        const size_t i = static_cast<size_t>(k) * kPanel + 8 * j;
        return bf16 ? Bf16ToF32(ph + i) : _mm256_loadu_ps(pf + i);
      };
      constexpr size_t kBf16RowBytes = kPanel * sizeof(uint16_t);
      int k = 0;
      // Two k in flight: eight independent chains cover the FMA latency.
      for (; k + 2 <= in; k += 2) {
        // fp32 panels are left to the hardware prefetchers: requested as well, the
        // DecodeWeights benchmark measured 15% slower.
        if (bf16) PrefetchLines(src + (k + kPrefetchRows) * kBf16RowBytes, 2 * kBf16RowBytes);
        const __m256 x0 = _mm256_set1_ps(x[k]), x1 = _mm256_set1_ps(x[k + 1]);
        for (int j = 0; j < 4; ++j) a[j] = _mm256_fmadd_ps(x0, load(k, j), a[j]);
        for (int j = 0; j < 4; ++j) b[j] = _mm256_fmadd_ps(x1, load(k + 1, j), b[j]);
      }
      for (; k < in; ++k) {
        const __m256 x0 = _mm256_set1_ps(x[k]);
        for (int j = 0; j < 4; ++j) a[j] = _mm256_fmadd_ps(x0, load(k, j), a[j]);
      }
      for (int j = 0; j < 4; ++j) a[j] = _mm256_add_ps(a[j], b[j]);
      break;
    }
    case WeightType::kInt8:
    case WeightType::kInt4: {
      const bool int4 = w.type == WeightType::kInt4;
      const int row_bytes = int4 ? kPanel / 2 : kPanel;
      const size_t group_bytes = kPanel * sizeof(float) + kGroup * row_bytes;
      for (int g = 0; g < in / kGroup; ++g) {
        const uint8_t* group = src + g * group_bytes;
        PrefetchLines(group + kPrefetchGroups * group_bytes, group_bytes);
        const uint8_t* values = group + kPanel * sizeof(float);
        const float* xg = x + g * kGroup;
        __m256 s[4];  // sums of x * q over the group, scaled once at the end
        for (int j = 0; j < 4; ++j) s[j] = _mm256_setzero_ps();
        for (int k = 0; k < kGroup; ++k) {
          __m256 v[4];
          QuantRow(values + k * row_bytes, int4, v);
          const __m256 xk = _mm256_set1_ps(xg[k]);
          for (int j = 0; j < 4; ++j) s[j] = _mm256_fmadd_ps(xk, v[j], s[j]);
        }
        const float* scales = reinterpret_cast<const float*>(group);
        for (int j = 0; j < 4; ++j) a[j] = _mm256_fmadd_ps(s[j], _mm256_loadu_ps(scales + 8 * j), a[j]);
      }
      break;
    }
    case WeightType::kW8A8:  // MatMul sends these to the w8a8 kernels
    case WeightType::kW4A8:
      break;
  }
  StorePanelRow(y, a, width);
}

void DequantizePanelAvx2(const PackedView& w, int p, float* out) {
  const uint8_t* src = PanelData(w, p);
  if (w.type == WeightType::kBF16) {
    const uint16_t* ph = reinterpret_cast<const uint16_t*>(src);
    for (size_t i = 0; i < static_cast<size_t>(w.in) * kPanel; i += 8) _mm256_storeu_ps(out + i, Bf16ToF32(ph + i));
    return;
  }
  const bool int4 = w.type == WeightType::kInt4;
  ForEachQuantizedGroup(w, p, [&](int g, const float* scales, const uint8_t* values, int row_bytes) {
    for (int k = 0; k < kGroup; ++k) {
      __m256 v[4];
      QuantRow(values + k * row_bytes, int4, v);
      float* row = out + static_cast<size_t>(g * kGroup + k) * kPanel;
      for (int j = 0; j < 4; ++j) _mm256_storeu_ps(row + 8 * j, _mm256_mul_ps(v[j], _mm256_loadu_ps(scales + 8 * j)));
    }
  });
}

// R rows x 16 columns (half a panel, at `panel` + 0 or 16).
// The rows' pointers are set once: with the broadcast's address computed from
// r and k inside the loop, GCC kept a copy of every accumulator on the stack
// and stored all 12 at every k, which held the kernel to a third of the FMA rate.
template <int R>
void MicroKernel(const float* x, int in, const float* panel, float* y, int ldy, int width) {
  const float* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = x + static_cast<size_t>(r) * in;
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < in; ++k) {
    const __m256 w0 = _mm256_loadu_ps(panel + static_cast<size_t>(k) * kPanel);
    const __m256 w1 = _mm256_loadu_ps(panel + static_cast<size_t>(k) * kPanel + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 xr = _mm256_set1_ps(rows[r][k]);
      acc[r][0] = _mm256_fmadd_ps(xr, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xr, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* yr = y + static_cast<size_t>(r) * ldy;
    if (width >= 16) {
      _mm256_storeu_ps(yr, acc[r][0]);
      _mm256_storeu_ps(yr + 8, acc[r][1]);
    } else if (width > 0) {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, acc[r][0]);
      _mm256_store_ps(tmp + 8, acc[r][1]);
      std::memcpy(yr, tmp, width * sizeof(float));
    }
  }
}

void GemmHalfPanel(const float* x, int m, int in, const float* panel, float* y, int ldy, int width) {
  ForEachRowBlock<6>(m, [&](auto rows, int r) {
    MicroKernel<decltype(rows)::value>(x + static_cast<size_t>(r) * in, in, panel, y + static_cast<size_t>(r) * ldy,
                                       ldy, width);
  });
}

// ---- w8a8 and w4a8. VPMADDUBSW multiplies unsigned by signed bytes into saturating
// int16 pairs.
// w8a8: with |x| as the unsigned side and x's sign moved onto the weight
// (VPSIGNB) both sides stay within [-127, 127], a pair sums to at most
// 2 * 127 * 127 < 2^15, and the product is exact. VPMADDWD by ones widens.
// w4a8: the weights stay as stored, q + 8 in [1, 15], and are the unsigned
// side. A pair sums to at most 2 * 15 * 127 and a group's eight quads to at
// most 30,480 < 2^15, so the pairs add up in int16 over the whole group and
// are widened once; the + 8 comes back out as 8 * (the group's sum of x).

inline int32_t HorizontalSum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline int32_t Load32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The operands of quad j for half `half` of the panel (columns 0..7 and
// 8..15 of the half, 4 k each): w8a8's q, or w4a8's q + 8, which the layout
// holds in the low nibbles of the quad's 64 bytes for the first half and in the
// high ones for the second.
template <bool kInt4>
inline void LoadQuad(const uint8_t* quads, int j, int half, __m256i* w0, __m256i* w1) {
  if constexpr (kInt4) {
    const uint8_t* src = quads + j * 2 * kPanel;
    __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
    if (half == 1) {
      b0 = _mm256_srli_epi16(b0, 4);
      b1 = _mm256_srli_epi16(b1, 4);
    }
    const __m256i nibble = _mm256_set1_epi8(15);
    *w0 = _mm256_and_si256(b0, nibble);
    *w1 = _mm256_and_si256(b1, nibble);
  } else {
    const uint8_t* src = quads + j * 4 * kPanel + half * 64;
    *w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    *w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
  }
}

// R rows x 16 columns (half `half` of the panel).
template <int R, bool kInt4>
void W8A8MicroKernel(const uint8_t* xq, int ldx, const float* xs, const int32_t* x_sums, const uint8_t* panel,
                     int groups, int half, float* y, int ldy, int width) {
  constexpr size_t kGroupBytes = IntegerGroupBytes(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 f[R][2];
  for (int r = 0; r < R; ++r) f[r][0] = f[r][1] = _mm256_setzero_ps();
  for (int g = 0; g < groups; ++g) {
    const uint8_t* group = panel + g * kGroupBytes;
    // One row (decode) streams the panel; the second half finds it fetched by the first.
    if (R == 1 && half == 0) PrefetchLines(group + kPrefetchGroups * kGroupBytes, kGroupBytes);
    const uint8_t* quads = group + IntegerGroupHeader(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
    __m256i a[R][2];  // int16 pair sums for w4a8, int32 dot products for w8a8
    for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm256_setzero_si256();
    const uint8_t* xg = xq + g * kGroup;
#pragma GCC unroll 2
    for (int j = 0; j < kGroup / 4; ++j) {
      // At most two quads per pass, as in W4A8GemvPanel: unrolled whole, GCC
      // spills every product of the group to the stack before adding them up.
      __m256i w0, w1;
      LoadQuad<kInt4>(quads, j, half, &w0, &w1);
      for (int r = 0; r < R; ++r) {
        const __m256i xb = _mm256_set1_epi32(Load32(xg + static_cast<size_t>(r) * ldx + 4 * j));
        if constexpr (kInt4) {
          a[r][0] = _mm256_add_epi16(a[r][0], _mm256_maddubs_epi16(w0, xb));
          a[r][1] = _mm256_add_epi16(a[r][1], _mm256_maddubs_epi16(w1, xb));
        } else {
          const __m256i ax = _mm256_abs_epi8(xb);
          a[r][0] =
              _mm256_add_epi32(a[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, xb)), ones));
          a[r][1] =
              _mm256_add_epi32(a[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, xb)), ones));
        }
      }
    }
    if constexpr (kInt4) {
      for (int r = 0; r < R; ++r) {
        const __m256i offset = _mm256_set1_epi32(8 * x_sums[static_cast<size_t>(r) * groups + g]);
        a[r][0] = _mm256_sub_epi32(_mm256_madd_epi16(a[r][0], ones), offset);
        a[r][1] = _mm256_sub_epi32(_mm256_madd_epi16(a[r][1], ones), offset);
      }
    }
    const float* scales = reinterpret_cast<const float*>(group) + half * 16;
    const __m256 s0 = _mm256_loadu_ps(scales), s1 = _mm256_loadu_ps(scales + 8);
    for (int r = 0; r < R; ++r) {
      f[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[r][0]), s0, f[r][0]);
      f[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(a[r][1]), s1, f[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m256 scale = _mm256_set1_ps(xs[r]);
    const __m256 v0 = _mm256_mul_ps(f[r][0], scale), v1 = _mm256_mul_ps(f[r][1], scale);
    float* yr = y + static_cast<size_t>(r) * ldy;
    if (width >= 16) {
      _mm256_storeu_ps(yr, v0);
      _mm256_storeu_ps(yr + 8, v1);
    } else if (width > 0) {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, v0);
      _mm256_store_ps(tmp + 8, v1);
      std::memcpy(yr, tmp, width * sizeof(float));
    }
  }
}

template <bool kInt4>
void W8A8HalfPanel(const QuantizedView& x, int m, const uint8_t* panel, int groups, int half, float* y, int ldy,
                   int width) {
  ForEachRowBlock<4>(m, [&](auto rows, int r) {
    W8A8MicroKernel<decltype(rows)::value, kInt4>(x.q + static_cast<size_t>(r) * x.in, x.in, x.scale + r,
                                                  x.group_sums + static_cast<size_t>(r) * groups, panel, groups, half,
                                                  y + static_cast<size_t>(r) * ldy, ldy, width);
  });
}

// Decode's w4a8 product (one row of x): the whole panel from one load of each
// quad, whose low nibbles are columns 0..15 and high ones 16..31, where the
// half-panel kernel loads and broadcasts everything twice. Per column the
// arithmetic is the half-panel kernel's, so the results are identical.
void W4A8GemvPanel(const QuantizedView& x, const uint8_t* panel, int groups, float* y, int width) {
  constexpr size_t kGroupBytes = IntegerGroupBytes(WeightType::kW4A8);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 f[4];
  for (__m256& v : f) v = _mm256_setzero_ps();
  for (int g = 0; g < groups; ++g) {
    const uint8_t* group = panel + g * kGroupBytes;
    const uint8_t* quads = group + IntegerGroupHeader(WeightType::kW4A8);
    const uint8_t* xg = x.q + g * kGroup;
    PrefetchLines(group + kPrefetchGroups * kGroupBytes, kGroupBytes);
    __m256i a[4];  // int16 pair sums of columns 0..7, 8..15, 16..23, 24..31
    for (__m256i& v : a) v = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int j = 0; j < kGroup / 4; ++j) {
      // Two quads per pass: unrolled whole, GCC re-associates the adds into a
      // tree over all 32 products and spills them to the stack.
      // Both halves from the same 64 bytes: the compiler loads them once.
      __m256i w[4];
      LoadQuad<true>(quads, j, 0, &w[0], &w[1]);
      LoadQuad<true>(quads, j, 1, &w[2], &w[3]);
      const __m256i xb = _mm256_set1_epi32(Load32(xg + 4 * j));
      for (int i = 0; i < 4; ++i) a[i] = _mm256_add_epi16(a[i], _mm256_maddubs_epi16(w[i], xb));
    }
    const __m256i offset = _mm256_set1_epi32(8 * x.group_sums[g]);
    const float* scales = reinterpret_cast<const float*>(group);
    for (int i = 0; i < 4; ++i) {
      const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(a[i], ones), offset);
      f[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_loadu_ps(scales + 8 * i), f[i]);
    }
  }
  const __m256 scale = _mm256_set1_ps(x.scale[0]);
  if (width == kPanel) {
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(y + 8 * i, _mm256_mul_ps(f[i], scale));
    return;
  }
  alignas(32) float out[kPanel];
  for (int i = 0; i < 4; ++i) _mm256_store_ps(out + 8 * i, _mm256_mul_ps(f[i], scale));
  std::memcpy(y, out, width * sizeof(float));
}

}  // namespace

void QuantizeRowsAvx2(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* group_sums) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int r = 0; r < m; ++r) {
    const float* xr = x + static_cast<size_t>(r) * in;
    __m256 mx = _mm256_setzero_ps();
    for (int k = 0; k < in; k += 8) mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(xr + k), abs_mask));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, mx);
    float max = 0.0f;
    for (float v : lanes) max = max > v ? max : v;
    const float inverse = max > 0.0f ? 127.0f / max : 0.0f;
    scale[r] = max / 127.0f;
    const __m256 inv = _mm256_set1_ps(inverse);
    uint8_t* qr = q + static_cast<size_t>(r) * in;
    int32_t* sums = group_sums + static_cast<size_t>(r) * (in / kGroup);
    for (int k = 0; k < in; k += kGroup) {
      __m256i v[4];
      for (int i = 0; i < 4; ++i) v[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + k + 8 * i), inv));
      // The packs interleave 128-bit lanes; the permutation puts the dwords back in order.
      const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qr + k), _mm256_permutevar8x32_epi32(bytes, order));
      // |v| <= 127, so the packs did not saturate and these are the sums of the stored bytes.
      sums[k / kGroup] = HorizontalSum(_mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3])));
    }
  }
}

void MatMulW8A8Avx2(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y) {
  for (int p = p0; p < p1; ++p) {
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    if (m == 1 && w.type == WeightType::kW4A8) {
      W4A8GemvPanel(x, PanelData(w, p), w.in / kGroup, y + c0, width);
      continue;
    }
    const auto half_panel = w.type == WeightType::kW4A8 ? W8A8HalfPanel<true> : W8A8HalfPanel<false>;
    half_panel(x, m, PanelData(w, p), w.in / kGroup, 0, y + c0, w.out, width);
    if (width > 16) half_panel(x, m, PanelData(w, p), w.in / kGroup, 1, y + c0 + 16, w.out, width - 16);
  }
}

void MatMulAvx2(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch) {
  // Two half panels of 16 columns each.
  FloatProductPanels(x, m, w, p0, p1, y, scratch, GemvPanel, DequantizePanelAvx2,
                     [&](const float* panel, float* yc, int width) {
                       GemmHalfPanel(x, m, w.in, panel, yc, w.out, width);
                       if (width > 16) GemmHalfPanel(x, m, w.in, panel + 16, yc + 16, w.out, width - 16);
                     });
}

}  // namespace needle::optimized::internal
