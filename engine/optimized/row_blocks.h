// The row loop every instruction set's register-blocked products share.
#ifndef NEEDLE_OPTIMIZED_ROW_BLOCKS_H_
#define NEEDLE_OPTIMIZED_ROW_BLOCKS_H_

#include <type_traits>

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

}  // namespace needle::optimized::internal

#endif  // NEEDLE_OPTIMIZED_ROW_BLOCKS_H_
