// NEON kernels for aarch64. One 32-column panel is eight q vectors; the GEMM
// micro-kernel works on half a panel (6 rows x 16 columns = 24 accumulators
// of the 32 registers). The w8a8 products have two integer paths: SDOT
// (MatMulW8A8NeonDot, only called when HWCAP_ASIMDDP says the CPU has it,
// since the file is compiled with +dotprod) and SMULL + SADALP for the rest.
#include <arm_neon.h>

#include <cstring>

#include "optimized/kernel_loops.h"
#include "optimized/matmul.h"

namespace needle::optimized::internal {
namespace {

static_assert(kPanel == 32 && kGroup == 32, "kernels assume 32-wide panels and groups");

inline const uint8_t* PanelData(const PackedView& w, int p) { return w.data + static_cast<size_t>(p) * w.panel_bytes; }

inline float32x4_t Bf16ToF32(const uint16_t* src) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(src), 16)); }

// 16 int8 values as four float vectors.
inline void WidenInt8(int8x16_t q, float32x4_t v[4]) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_s8(vget_high_s8(q));
  v[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
  v[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
  v[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
  v[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
}

// One row of an int8/int4 group as eight vectors of four columns.
inline void QuantRow(const uint8_t* row, bool int4, float32x4_t v[8]) {
  if (int4) {
    const uint8x16_t bytes = vld1q_u8(row);
    const int8x16_t eight = vdupq_n_s8(8);
    WidenInt8(vsubq_s8(vreinterpretq_s8_u8(vandq_u8(bytes, vdupq_n_u8(15))), eight), v);
    WidenInt8(vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4)), eight), v + 4);
  } else {
    WidenInt8(vld1q_s8(reinterpret_cast<const int8_t*>(row)), v);
    WidenInt8(vld1q_s8(reinterpret_cast<const int8_t*>(row + 16)), v + 4);
  }
}

// Unrolled, and taking the array by reference: stored in a loop from an array
// that decays to a pointer, GCC kept the callers' accumulators in memory and
// stored all of them at every step of the callers' loops.
void StorePanelRow(float* y, const float32x4_t (&v)[8], int width) {
  float tmp[kPanel];
  float* out = width == kPanel ? y : tmp;
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) vst1q_f32(out + 4 * j, v[j]);
  if (width != kPanel) std::memcpy(y, tmp, width * sizeof(float));
}

void GemvPanel(const float* x, const PackedView& w, int p, float* y, int width) {
  const uint8_t* src = PanelData(w, p);
  const int in = w.in;
  float32x4_t a[8];
  for (int j = 0; j < 8; ++j) a[j] = vdupq_n_f32(0.0f);
  switch (w.type) {
    case WeightType::kF32: {
      const float* pf = reinterpret_cast<const float*>(src);
      for (int k = 0; k < in; ++k) {
        const float* r = pf + static_cast<size_t>(k) * kPanel;
        for (int j = 0; j < 8; ++j) a[j] = vfmaq_n_f32(a[j], vld1q_f32(r + 4 * j), x[k]);
      }
      break;
    }
    case WeightType::kBF16: {
      const uint16_t* ph = reinterpret_cast<const uint16_t*>(src);
      for (int k = 0; k < in; ++k) {
        const uint16_t* r = ph + static_cast<size_t>(k) * kPanel;
        for (int j = 0; j < 8; ++j) a[j] = vfmaq_n_f32(a[j], Bf16ToF32(r + 4 * j), x[k]);
      }
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
        float32x4_t s[8];  // sums of x * q over the group, scaled once at the end
        for (int j = 0; j < 8; ++j) s[j] = vdupq_n_f32(0.0f);
        for (int k = 0; k < kGroup; ++k) {
          float32x4_t v[8];
          QuantRow(values + k * row_bytes, int4, v);
          for (int j = 0; j < 8; ++j) s[j] = vfmaq_n_f32(s[j], v[j], xg[k]);
        }
        const float* scales = reinterpret_cast<const float*>(group);
        for (int j = 0; j < 8; ++j) a[j] = vfmaq_f32(a[j], s[j], vld1q_f32(scales + 4 * j));
      }
      break;
    }
    case WeightType::kW8A8:  // MatMul sends these to the w8a8 kernels
    case WeightType::kW4A8:
      break;
  }
  StorePanelRow(y, a, width);
}

void DequantizePanelNeon(const PackedView& w, int p, float* out) {
  const uint8_t* src = PanelData(w, p);
  if (w.type == WeightType::kBF16) {
    const uint16_t* ph = reinterpret_cast<const uint16_t*>(src);
    for (size_t i = 0; i < static_cast<size_t>(w.in) * kPanel; i += 4) vst1q_f32(out + i, Bf16ToF32(ph + i));
    return;
  }
  const bool int4 = w.type == WeightType::kInt4;
  ForEachQuantizedGroup(w, p, [&](int g, const float* scales, const uint8_t* values, int row_bytes) {
    for (int k = 0; k < kGroup; ++k) {
      float32x4_t v[8];
      QuantRow(values + k * row_bytes, int4, v);
      float* row = out + static_cast<size_t>(g * kGroup + k) * kPanel;
      for (int j = 0; j < 8; ++j) vst1q_f32(row + 4 * j, vmulq_f32(v[j], vld1q_f32(scales + 4 * j)));
    }
  });
}

// R rows x 16 columns (half a panel, at `panel` + 0 or 16).
template <int R>
void MicroKernel(const float* x, int in, const float* panel, float* y, int ldy, int width) {
  // One array per 4-column slice, and the stores below unrolled: with one
  // [R][4] array, or the stores in a loop, GCC stored every accumulator to the
  // stack at every k.
  float32x4_t acc0[R], acc1[R], acc2[R], acc3[R];
  const float* rows[R];
  for (int r = 0; r < R; ++r) {
    acc0[r] = acc1[r] = acc2[r] = acc3[r] = vdupq_n_f32(0.0f);
    rows[r] = x + static_cast<size_t>(r) * in;
  }
  for (int k = 0; k < in; ++k) {
    const float* wk = panel + static_cast<size_t>(k) * kPanel;
    const float32x4_t w0 = vld1q_f32(wk), w1 = vld1q_f32(wk + 4), w2 = vld1q_f32(wk + 8), w3 = vld1q_f32(wk + 12);
    for (int r = 0; r < R; ++r) {
      const float xr = rows[r][k];
      acc0[r] = vfmaq_n_f32(acc0[r], w0, xr);
      acc1[r] = vfmaq_n_f32(acc1[r], w1, xr);
      acc2[r] = vfmaq_n_f32(acc2[r], w2, xr);
      acc3[r] = vfmaq_n_f32(acc3[r], w3, xr);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float tmp[16];
    float* yr = y + static_cast<size_t>(r) * ldy;
    float* out = width >= 16 ? yr : tmp;
    vst1q_f32(out, acc0[r]);
    vst1q_f32(out + 4, acc1[r]);
    vst1q_f32(out + 8, acc2[r]);
    vst1q_f32(out + 12, acc3[r]);
    if (width < 16 && width > 0) std::memcpy(yr, tmp, width * sizeof(float));
  }
}

void GemmHalfPanel(const float* x, int m, int in, const float* panel, float* y, int ldy, int width) {
  ForEachRowBlock<6>(m, [&](auto rows, int r) {
    MicroKernel<decltype(rows)::value>(x + static_cast<size_t>(r) * in, in, panel, y + static_cast<size_t>(r) * ldy,
                                       ldy, width);
  });
}

// ---- w8a8 and w4a8: exact int32 dot products per group of 32, then the fp32
// epilogue in MatMulW8A8Scalar's order (fused multiply-add per group, one
// multiply by the row's scale).

// The w8a8 bytes of quad j for half kHalf of the panel (16 columns x 4 k) in
// four registers; w4a8 keeps the first half in the low nibbles of the quad's
// 64 bytes and the second in the high ones, as q + 8.
// The half is a template parameter: as a run-time one, GCC kept the int4
// choice of mask or shift as a branch inside the k loops.
template <bool kInt4, int kHalf>
inline void LoadQuad(const uint8_t* quads, int j, int8x16_t w[4]) {
  for (int i = 0; i < 4; ++i) {
    if constexpr (kInt4) {
      const uint8x16_t bytes = vld1q_u8(quads + j * 2 * kPanel + 16 * i);
      const uint8x16_t nibbles = kHalf == 0 ? vandq_u8(bytes, vdupq_n_u8(15)) : vshrq_n_u8(bytes, 4);
      w[i] = vsubq_s8(vreinterpretq_s8_u8(nibbles), vdupq_n_s8(8));
    } else {
      w[i] = vld1q_s8(reinterpret_cast<const int8_t*>(quads + j * 4 * kPanel + kHalf * 64 + 16 * i));
    }
  }
}

inline int32_t Load32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The fp32 sums over groups live in `f` (R x 16 floats on the stack), read and
// written once per group: held in registers next to the int32 accumulators,
// they made GCC spill inside the k loop (3 rows of SDOT, 2 of SMULL).
template <int R>
void W8A8Store(const float* f, const float* xs, float* y, int ldy, int width) {
  for (int r = 0; r < R; ++r) {
    float* yr = y + static_cast<size_t>(r) * ldy;
    float tmp[16];
    for (int i = 0; i < 4; ++i) vst1q_f32(tmp + 4 * i, vmulq_n_f32(vld1q_f32(f + 16 * r + 4 * i), xs[r]));
    std::memcpy(yr, tmp, (width < 16 ? width : 16) * sizeof(float));
  }
}

// f[r][4i..4i+3] += float(a[r][i]) * scales[4i..], the group's epilogue.
template <int R>
inline void W8A8AddGroup(float* f, const int32x4_t (*a)[4], const float* scales) {
  for (int i = 0; i < 4; ++i) {
    const float32x4_t s = vld1q_f32(scales + 4 * i);
    for (int r = 0; r < R; ++r) {
      float* fr = f + 16 * r + 4 * i;
      vst1q_f32(fr, vfmaq_f32(vld1q_f32(fr), vcvtq_f32_s32(a[r][i]), s));
    }
  }
}

// SDOT, R rows x 16 columns (half kHalf of the panel). A q register of x
// holds four quads; the by-element form broadcasts one of them.
template <int L, int R, bool kInt4, int kHalf>
inline void DotQuad(int32x4_t (*a)[4], const uint8_t* quads, int j, const int8x16_t* xv) {
  int8x16_t w[4];
  LoadQuad<kInt4, kHalf>(quads, j, w);
  for (int r = 0; r < R; ++r) {
    for (int i = 0; i < 4; ++i) a[r][i] = vdotq_laneq_s32(a[r][i], w[i], xv[r], L);
  }
}

template <int R, bool kInt4, int kHalf>
void W8A8DotMicroKernel(const int8_t* xq, int ldx, const float* xs, const uint8_t* panel, int groups, float* y,
                        int ldy, int width) {
  constexpr size_t kGroupBytes = IntegerGroupBytes(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
  alignas(16) float f[R * 16] = {};
  for (int g = 0; g < groups; ++g) {
    const uint8_t* group = panel + g * kGroupBytes;
    const uint8_t* quads = group + IntegerGroupHeader(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
    int32x4_t a[R][4];
    for (int r = 0; r < R; ++r) {
      for (int i = 0; i < 4; ++i) a[r][i] = vdupq_n_s32(0);
    }
    for (int jj = 0; jj < kGroup / 16; ++jj) {
      int8x16_t xv[R];
      for (int r = 0; r < R; ++r) xv[r] = vld1q_s8(xq + static_cast<size_t>(r) * ldx + g * kGroup + 16 * jj);
      DotQuad<0, R, kInt4, kHalf>(a, quads, 4 * jj, xv);
      DotQuad<1, R, kInt4, kHalf>(a, quads, 4 * jj + 1, xv);
      DotQuad<2, R, kInt4, kHalf>(a, quads, 4 * jj + 2, xv);
      DotQuad<3, R, kInt4, kHalf>(a, quads, 4 * jj + 3, xv);
    }
    W8A8AddGroup<R>(f, a, reinterpret_cast<const float*>(group) + kHalf * 16);
  }
  W8A8Store<R>(f, xs, y, ldy, width);
}

// Without SDOT: SMULL of one quad of x (repeated) by two columns' quads gives
// eight int16 products (|q| <= 127, so exact); SADALP adds neighbouring pairs
// into int32 lanes [c k01, c k23, c+1 k01, c+1 k23], and a final pairwise add
// per group leaves one sum per column.
template <int R, bool kInt4, int kHalf>
void W8A8MicroKernel(const int8_t* xq, int ldx, const float* xs, const uint8_t* panel, int groups, float* y, int ldy,
                     int width) {
  constexpr size_t kGroupBytes = IntegerGroupBytes(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
  alignas(16) float f[R * 16] = {};
  for (int g = 0; g < groups; ++g) {
    const uint8_t* group = panel + g * kGroupBytes;
    const uint8_t* quads = group + IntegerGroupHeader(kInt4 ? WeightType::kW4A8 : WeightType::kW8A8);
    int32x4_t a[R][8];
    for (int r = 0; r < R; ++r) {
      for (int i = 0; i < 8; ++i) a[r][i] = vdupq_n_s32(0);
    }
    for (int j = 0; j < kGroup / 4; ++j) {
      int8x16_t w[4];
      LoadQuad<kInt4, kHalf>(quads, j, w);
      for (int r = 0; r < R; ++r) {
        const int8x8_t xd =
            vreinterpret_s8_s32(vdup_n_s32(Load32(xq + static_cast<size_t>(r) * ldx + g * kGroup + 4 * j)));
        for (int i = 0; i < 4; ++i) {
          a[r][2 * i] = vpadalq_s16(a[r][2 * i], vmull_s8(vget_low_s8(w[i]), xd));
          a[r][2 * i + 1] = vpadalq_s16(a[r][2 * i + 1], vmull_s8(vget_high_s8(w[i]), xd));
        }
      }
    }
    int32x4_t sums[R][4];
    for (int r = 0; r < R; ++r) {
      for (int i = 0; i < 4; ++i) sums[r][i] = vpaddq_s32(a[r][2 * i], a[r][2 * i + 1]);
    }
    W8A8AddGroup<R>(f, sums, reinterpret_cast<const float*>(group) + kHalf * 16);
  }
  W8A8Store<R>(f, xs, y, ldy, width);
}

template <bool kDot, bool kInt4, int kHalf>
void W8A8HalfPanel(const QuantizedView& x, int m, const uint8_t* panel, int groups, float* y, int ldy, int width) {
  const int8_t* q = reinterpret_cast<const int8_t*>(x.q);
  // SDOT's kernel has the registers for 3 rows, the widening one for 2.
  ForEachRowBlock<kDot ? 3 : 2>(m, [&](auto rows, int r) {
    constexpr int kRows = decltype(rows)::value;
    const int8_t* xr = q + static_cast<size_t>(r) * x.in;
    float* yr = y + static_cast<size_t>(r) * ldy;
    if constexpr (kDot) {
      W8A8DotMicroKernel<kRows, kInt4, kHalf>(xr, x.in, x.scale + r, panel, groups, yr, ldy, width);
    } else {
      W8A8MicroKernel<kRows, kInt4, kHalf>(xr, x.in, x.scale + r, panel, groups, yr, ldy, width);
    }
  });
}

template <bool kDot>
void MatMulW8A8(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y) {
  for (int p = p0; p < p1; ++p) {
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    const bool int4 = w.type == WeightType::kW4A8;
    const auto first = int4 ? W8A8HalfPanel<kDot, true, 0> : W8A8HalfPanel<kDot, false, 0>;
    const auto second = int4 ? W8A8HalfPanel<kDot, true, 1> : W8A8HalfPanel<kDot, false, 1>;
    first(x, m, PanelData(w, p), w.in / kGroup, y + c0, w.out, width);
    if (width > 16) second(x, m, PanelData(w, p), w.in / kGroup, y + c0 + 16, w.out, width - 16);
  }
}

}  // namespace

void QuantizeRowsNeon(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* /*group_sums*/) {
  for (int r = 0; r < m; ++r) {
    const float* xr = x + static_cast<size_t>(r) * in;
    float32x4_t mx = vdupq_n_f32(0.0f);
    for (int k = 0; k < in; k += 4) mx = vmaxq_f32(mx, vabsq_f32(vld1q_f32(xr + k)));
    const float max = vmaxvq_f32(mx);
    const float inverse = max > 0.0f ? 127.0f / max : 0.0f;
    scale[r] = max / 127.0f;
    int8_t* qr = reinterpret_cast<int8_t*>(q) + static_cast<size_t>(r) * in;
    for (int k = 0; k < in; k += 8) {
      // Round to nearest even, as nearbyint; |x * inverse| rounds to at most 127.
      const int32x4_t lo = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xr + k), inverse));
      const int32x4_t hi = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xr + k + 4), inverse));
      vst1_s8(qr + k, vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi))));
    }
  }
}

void MatMulW8A8Neon(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y) {
  MatMulW8A8<false>(x, m, w, p0, p1, y);
}

void MatMulW8A8NeonDot(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y) {
  MatMulW8A8<true>(x, m, w, p0, p1, y);
}

void MatMulNeon(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch) {
  // Two half panels of 16 columns each.
  FloatProductPanels(x, m, w, p0, p1, y, scratch, GemvPanel, DequantizePanelNeon,
                     [&](const float* panel, float* yc, int width) {
                       GemmHalfPanel(x, m, w.in, panel, yc, w.out, width);
                       if (width > 16) GemmHalfPanel(x, m, w.in, panel + 16, yc + 16, w.out, width - 16);
                     });
}

}  // namespace needle::optimized::internal
