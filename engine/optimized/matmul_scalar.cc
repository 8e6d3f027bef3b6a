// Portable kernels: the fallback on CPUs without the SIMD extensions, and the
// definition of the packed layout (DequantizePanel) the SIMD kernels match.
#include <cstring>

#include "optimized/matmul.h"

namespace needle::optimized::internal {

void DequantizePanel(const PackedView& w, int p, float* out) {
  const uint8_t* src = w.panel(p);
  switch (w.type) {
    case WeightType::kF32:
      std::memcpy(out, src, static_cast<size_t>(w.in) * kPanel * sizeof(float));
      return;
    case WeightType::kBF16:
      for (size_t i = 0; i < static_cast<size_t>(w.in) * kPanel; ++i) {
        uint16_t half;
        std::memcpy(&half, src + 2 * i, sizeof(half));
        const uint32_t bits = static_cast<uint32_t>(half) << 16;
        std::memcpy(out + i, &bits, sizeof(bits));
      }
      return;
    case WeightType::kInt8:
    case WeightType::kInt4: {
      const bool int4 = w.type == WeightType::kInt4;
      const size_t group_bytes = kPanel * sizeof(float) + kGroup * kPanel / (int4 ? 2 : 1);
      for (int g = 0; g < w.in / kGroup; ++g) {
        const uint8_t* group = src + g * group_bytes;
        float scales[kPanel];
        std::memcpy(scales, group, sizeof(scales));
        const uint8_t* values = group + sizeof(scales);
        for (int k = 0; k < kGroup; ++k) {
          float* row = out + static_cast<size_t>(g * kGroup + k) * kPanel;
          for (int c = 0; c < kPanel; ++c) {
            int q;
            if (int4) {
              const uint8_t byte = values[k * kPanel / 2 + c % (kPanel / 2)];
              q = (c < kPanel / 2 ? byte & 15 : byte >> 4) - 8;
            } else {
              q = static_cast<int8_t>(values[k * kPanel + c]);
            }
            row[c] = static_cast<float>(q) * scales[c];
          }
        }
      }
      return;
    }
  }
}

void MatMulScalar(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch) {
  for (int p = p0; p < p1; ++p) {
    const float* panel = scratch;
    if (w.type == WeightType::kF32) {
      panel = reinterpret_cast<const float*>(w.panel(p));
    } else {
      DequantizePanel(w, p, scratch);
    }
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    for (int r = 0; r < m; ++r) {
      const float* xr = x + static_cast<size_t>(r) * w.in;
      float acc[kPanel] = {};
      for (int k = 0; k < w.in; ++k) {
        const float* wk = panel + static_cast<size_t>(k) * kPanel;
        for (int c = 0; c < kPanel; ++c) acc[c] += xr[k] * wk[c];
      }
      std::memcpy(y + static_cast<size_t>(r) * w.out + c0, acc, width * sizeof(float));
    }
  }
}

}  // namespace needle::optimized::internal
