// Portable kernels: the fallback on CPUs without the SIMD extensions, and the
// definition of the packed layout (DequantizePanel) the SIMD kernels match.
#include <algorithm>
#include <cmath>
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
    case WeightType::kW8A8:
    case WeightType::kW4A8: {
      for (int g = 0; g < w.in / kGroup; ++g) {
        const uint8_t* group = src + g * IntegerGroupBytes(w.type);
        float scales[kPanel];
        std::memcpy(scales, group, sizeof(scales));
        const uint8_t* quads = group + IntegerGroupHeader(w.type);
        for (int k = 0; k < kGroup; ++k) {
          float* row = out + static_cast<size_t>(g * kGroup + k) * kPanel;
          for (int c = 0; c < kPanel; ++c) row[c] = static_cast<float>(IntegerWeight(w.type, quads, k, c)) * scales[c];
        }
      }
      return;
    }
  }
}

void QuantizeRowsScalar(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* /*group_sums*/) {
  for (int r = 0; r < m; ++r) {
    const float* xr = x + static_cast<size_t>(r) * in;
    float max = 0.0f;
    for (int k = 0; k < in; ++k) max = std::max(max, std::fabs(xr[k]));
    // Quantised with the reciprocal (one rounded multiply, as vector code does
    // it) and described by max / 127; round half to even, as the SIMD converts.
    const float inverse = max > 0.0f ? 127.0f / max : 0.0f;
    scale[r] = max / 127.0f;
    for (int k = 0; k < in; ++k) {
      const float v = std::clamp(std::nearbyint(xr[k] * inverse), -127.0f, 127.0f);
      q[static_cast<size_t>(r) * in + k] = static_cast<uint8_t>(static_cast<int8_t>(v));
    }
  }
}

// The definition of the w8a8 and w4a8 products: per group an exact int32 dot
// product, converted (exactly: |dot| <= 32 * 127 * 127 < 2^24) and accumulated
// as acc = fma(dot, w_scale, acc) in group order, then y = acc * x_scale.
void MatMulW8A8Scalar(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y) {
  const size_t group_bytes = IntegerGroupBytes(w.type);
  for (int p = p0; p < p1; ++p) {
    const uint8_t* src = w.panel(p);
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    for (int r = 0; r < m; ++r) {
      const int8_t* xr = reinterpret_cast<const int8_t*>(x.q) + static_cast<size_t>(r) * x.in;
      float acc[kPanel] = {};
      for (int g = 0; g < w.in / kGroup; ++g) {
        const uint8_t* group = src + g * group_bytes;
        float scales[kPanel];
        std::memcpy(scales, group, sizeof(scales));
        const uint8_t* quads = group + IntegerGroupHeader(w.type);
        const int8_t* xg = xr + g * kGroup;
        for (int c = 0; c < kPanel; ++c) {
          int32_t dot = 0;
          for (int k = 0; k < kGroup; ++k) dot += xg[k] * IntegerWeight(w.type, quads, k, c);
          acc[c] = std::fma(static_cast<float>(dot), scales[c], acc[c]);
        }
      }
      float* yr = y + static_cast<size_t>(r) * w.out + c0;
      for (int c = 0; c < width; ++c) yr[c] = acc[c] * x.scale[r];
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
