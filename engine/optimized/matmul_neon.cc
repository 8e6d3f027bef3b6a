// NEON kernels for aarch64. One 32-column panel is eight q vectors; the GEMM
// micro-kernel works on half a panel (6 rows x 16 columns = 24 accumulators
// of the 32 registers). Activations stay fp32, so no dot-product
// instructions are used yet; an int8-activation path with SDOT would have to
// check HWCAP_ASIMDDP before use (the file is compiled with +dotprod).
#include <arm_neon.h>

#include <cstring>

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

void StorePanelRow(float* y, const float32x4_t v[8], int width) {
  if (width == kPanel) {
    for (int j = 0; j < 8; ++j) vst1q_f32(y + 4 * j, v[j]);
    return;
  }
  float tmp[kPanel];
  for (int j = 0; j < 8; ++j) vst1q_f32(tmp + 4 * j, v[j]);
  std::memcpy(y, tmp, width * sizeof(float));
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
  const int row_bytes = int4 ? kPanel / 2 : kPanel;
  const size_t group_bytes = kPanel * sizeof(float) + kGroup * row_bytes;
  for (int g = 0; g < w.in / kGroup; ++g) {
    const uint8_t* group = src + g * group_bytes;
    const float* scales = reinterpret_cast<const float*>(group);
    const uint8_t* values = group + kPanel * sizeof(float);
    for (int k = 0; k < kGroup; ++k) {
      float32x4_t v[8];
      QuantRow(values + k * row_bytes, int4, v);
      float* row = out + static_cast<size_t>(g * kGroup + k) * kPanel;
      for (int j = 0; j < 8; ++j) vst1q_f32(row + 4 * j, vmulq_f32(v[j], vld1q_f32(scales + 4 * j)));
    }
  }
}

// R rows x 16 columns (half a panel, at `panel` + 0 or 16).
template <int R>
void MicroKernel(const float* x, int in, const float* panel, float* y, int ldy, int width) {
  float32x4_t acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_f32(0.0f);
  }
  for (int k = 0; k < in; ++k) {
    const float* wk = panel + static_cast<size_t>(k) * kPanel;
    const float32x4_t w0 = vld1q_f32(wk), w1 = vld1q_f32(wk + 4), w2 = vld1q_f32(wk + 8), w3 = vld1q_f32(wk + 12);
    for (int r = 0; r < R; ++r) {
      const float xr = x[static_cast<size_t>(r) * in + k];
      acc[r][0] = vfmaq_n_f32(acc[r][0], w0, xr);
      acc[r][1] = vfmaq_n_f32(acc[r][1], w1, xr);
      acc[r][2] = vfmaq_n_f32(acc[r][2], w2, xr);
      acc[r][3] = vfmaq_n_f32(acc[r][3], w3, xr);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* yr = y + static_cast<size_t>(r) * ldy;
    if (width >= 16) {
      for (int j = 0; j < 4; ++j) vst1q_f32(yr + 4 * j, acc[r][j]);
    } else if (width > 0) {
      float tmp[16];
      for (int j = 0; j < 4; ++j) vst1q_f32(tmp + 4 * j, acc[r][j]);
      std::memcpy(yr, tmp, width * sizeof(float));
    }
  }
}

void GemmHalfPanel(const float* x, int m, int in, const float* panel, float* y, int ldy, int width) {
  constexpr int kRows = 6;
  int r = 0;
  for (; r + kRows <= m; r += kRows) {
    MicroKernel<kRows>(x + static_cast<size_t>(r) * in, in, panel, y + static_cast<size_t>(r) * ldy, ldy, width);
  }
  const float* xr = x + static_cast<size_t>(r) * in;
  float* yr = y + static_cast<size_t>(r) * ldy;
  switch (m - r) {
    case 5:
      return MicroKernel<5>(xr, in, panel, yr, ldy, width);
    case 4:
      return MicroKernel<4>(xr, in, panel, yr, ldy, width);
    case 3:
      return MicroKernel<3>(xr, in, panel, yr, ldy, width);
    case 2:
      return MicroKernel<2>(xr, in, panel, yr, ldy, width);
    case 1:
      return MicroKernel<1>(xr, in, panel, yr, ldy, width);
    default:
      return;
  }
}

}  // namespace

void MatMulNeon(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch) {
  for (int p = p0; p < p1; ++p) {
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    if (m == 1) {
      GemvPanel(x, w, p, y + c0, width);
      continue;
    }
    const float* panel = scratch;
    if (w.type == WeightType::kF32) {
      panel = reinterpret_cast<const float*>(PanelData(w, p));
    } else {
      DequantizePanelNeon(w, p, scratch);
    }
    GemmHalfPanel(x, m, w.in, panel, y + c0, w.out, width);
    if (width > 16) GemmHalfPanel(x, m, w.in, panel + 16, y + c0 + 16, w.out, width - 16);
  }
}

}  // namespace needle::optimized::internal
