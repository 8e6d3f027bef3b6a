// The loops every instruction set's products share: over the panels of a
// float product, and over the row blocks of a register-blocked kernel. Each
// ISA's file instantiates them with its own kernels, under its own flags.
#ifndef NEEDLE_OPTIMIZED_KERNEL_LOOPS_H_
#define NEEDLE_OPTIMIZED_KERNEL_LOOPS_H_

#include <type_traits>

#include "optimized/matmul.h"

namespace needle::optimized::internal {

template <int kRows, typename Block>
inline void RemainderRowBlock(int rows, int r, const Block& block) {
  if constexpr (kRows > 0) {
    if (rows == kRows) return block(std::integral_constant<int, kRows>{}, r);
    RemainderRowBlock<kRows - 1>(rows, r, block);
  }
}

// Calls block(rows, r) for rows [0, m): blocks of kRows rows starting at r =
// 0, kRows, ..., then the remaining m % kRows rows (if any) as one block. The
// row count arrives as a std::integral_constant, so that each count gets its
// own micro-kernel with its accumulators in registers.
template <int kRows, typename Block>
inline void ForEachRowBlock(int m, const Block& block) {
  int r = 0;
  for (; r + kRows <= m; r += kRows) block(std::integral_constant<int, kRows>{}, r);
  RemainderRowBlock<kRows - 1>(m - r, r, block);
}

// The float product (KernelFn) over panels [p0, p1): one row (decode) takes
// gemv(x, w, p, y, width); more rows take the panel as fp32 (read in place at
// fp32, else dequantize(w, p, scratch) first) and gemm(panel, y, width), the
// ISA's register-blocked product of all m rows with it.
template <typename Gemv, typename Dequantize, typename Gemm>
inline void FloatProductPanels(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch,
                               const Gemv& gemv, const Dequantize& dequantize, const Gemm& gemm) {
  for (int p = p0; p < p1; ++p) {
    const int c0 = p * kPanel;
    const int width = w.out - c0 < kPanel ? w.out - c0 : kPanel;
    if (m == 1) {
      gemv(x, w, p, y + c0, width);
      continue;
    }
    const float* panel = scratch;
    if (w.type == WeightType::kF32) {
      panel = reinterpret_cast<const float*>(w.panel(p));
    } else {
      dequantize(w, p, scratch);
    }
    gemm(panel, y + c0, width);
  }
}

// The groups of panel p of an int8 or int4 matrix, in order: group(g, scales,
// values, row_bytes) for g in [0, w.in / kGroup), where `scales` are the
// group's kPanel column scales and `values` its kGroup rows of packed weights,
// `row_bytes` apart (kPanel bytes, or kPanel / 2 for int4).
template <typename Group>
inline void ForEachQuantizedGroup(const PackedView& w, int p, const Group& group) {
  const int row_bytes = w.type == WeightType::kInt4 ? kPanel / 2 : kPanel;
  const size_t group_bytes = kPanel * sizeof(float) + kGroup * row_bytes;
  const uint8_t* panel = w.data + static_cast<size_t>(p) * w.panel_bytes;
  for (int g = 0; g < w.in / kGroup; ++g) {
    const uint8_t* start = panel + g * group_bytes;
    group(g, reinterpret_cast<const float*>(start), start + kPanel * sizeof(float), row_bytes);
  }
}

}  // namespace needle::optimized::internal

#endif  // NEEDLE_OPTIMIZED_KERNEL_LOOPS_H_
