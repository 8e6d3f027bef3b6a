// Weight matrices packed for the kernels, and the products the engine runs.
//
// Weights are stored as upstream does, (in, out): y = x @ W. Packing
// reorders (and for bf16/int8/int4 quantises) them into the layout the
// chosen instruction set reads fastest; the source may be a memory-mapped
// checkpoint and is not kept.
#ifndef NEEDLE_OPTIMIZED_MATMUL_H_
#define NEEDLE_OPTIMIZED_MATMUL_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/bf16.h"
#include "needle/cpu.h"
#include "needle/precision.h"

namespace needle::optimized {

class ThreadPool;

// Weight types are the precisions (needle/precision.h). int8 and int4 keep
// the activations in fp32.
// kW8A8 ("w8a8") has the same int8 weights and also quantises the activations:
// each row of x to int8 with one fp32 scale (symmetric, max |x| -> 127), so
// that a group of 32 inputs is an exact int32 dot product:
//   y[r, c] = xs[r] * sum_g fma-accumulated float(dot_g(xq[r], wq[:, c])) * ws[g, c]
// (the exact float order is MatMulW8A8Scalar's, which every ISA reproduces bit for bit).
// kW4A8 ("w4a8") is the same product with int4 weights (q in [-7, 7], as kInt4):
// half the weight bytes of w8a8 for decode, which reads every weight per token,
// and the same integer dot products (nibbles become bytes by a mask and a subtraction).
using WeightType = Precision;

// The packed layout, shared by every instruction set so that a matrix packed
// once runs under any of them (the kernels are chosen per product, not per matrix).
//
// Output columns are cut into panels of kPanel columns (the last one padded
// with zeros); panel p is one contiguous block of panel_bytes, walking the
// input dimension k in order:
//   kF32:  in x kPanel floats, k-major.
//   kBF16: in x kPanel bf16 (upper halves of fp32), k-major.
//   kInt8: per group of kGroup k: kPanel fp32 scales, then kGroup x kPanel int8.
//   kInt4: per group of kGroup k: kPanel fp32 scales, then kGroup rows of
//          kPanel/2 bytes; byte j holds column j in its low nibble and column
//          j + kPanel/2 in its high nibble, each as q + 8 with q in [-7, 7].
//   kW8A8: per group of kGroup k: kPanel fp32 scales, kPanel int32 biases
//          (-128 * the column's sum of q over the group, for the unsigned-
//          activation trick of x86 VNNI), then kGroup/4 quads of kPanel x 4
//          int8: quad j holds, per column c, q at k = 4j..4j+3 contiguously
//          (the operand shape of VPDPBUSD and SDOT).
//   kW4A8: per group of kGroup k: kPanel fp32 scales (no biases: decode reads
//          every byte of every panel per token, and the biases were a third of
//          them), then kGroup/4 quads holding q in [-7, 7] as q + 8 in nibbles:
//          each quad is 64 bytes, byte b holding entry b of columns 0..15
//          (column b / 4, k = 4j + b % 4) in its low nibble and entry b of
//          columns 16..31 in its high nibble, so that one mask (or shift) and
//          one subtraction give the kW8A8 operand of 16 columns.
// Panels start on 64-byte boundaries.
namespace internal {

inline constexpr int kPanel = 32;
inline constexpr int kGroup = 32;

// Bytes of one group of a w8a8 or w4a8 panel before its quads (scales, and w8a8's biases), and in all.
inline constexpr size_t IntegerGroupHeader(WeightType type) {
  return kPanel * (sizeof(float) + (type == WeightType::kW8A8 ? sizeof(int32_t) : 0));
}
inline constexpr size_t IntegerGroupBytes(WeightType type) {
  return IntegerGroupHeader(type) + kGroup * kPanel / (type == WeightType::kW4A8 ? 2 : 1);
}
// q of row k (< kGroup), column c of a w8a8/w4a8 group's quads: the layout's definition.
inline int IntegerWeight(WeightType type, const uint8_t* quads, int k, int c) {
  if (type == WeightType::kW8A8) return static_cast<int8_t>(quads[(k / 4 * kPanel + c) * 4 + k % 4]);
  const uint8_t byte = quads[(k / 4 * (kPanel / 2) + c % (kPanel / 2)) * 4 + k % 4];
  return (c < kPanel / 2 ? byte & 15 : byte >> 4) - 8;
}

// Bytes of one packed panel of `in` rows: the layout above, rounded up to 64.
size_t PanelBytes(WeightType type, int in);

struct PackedView {
  WeightType type;
  int in, out, panels;
  size_t panel_bytes;
  const uint8_t* data;
  const uint8_t* panel(int p) const { return data + static_cast<size_t>(p) * panel_bytes; }
};

// y[r, columns of panels [p0, p1)] = x[r, :] @ W for r in [0, m); x has row
// stride w.in, y row stride w.out. `scratch` holds w.in * kPanel floats (room
// to dequantise one panel).
using KernelFn = void (*)(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch);
void MatMulScalar(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch);
void MatMulAvx2(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch);
void MatMulAvx512(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch);
void MatMulNeon(const float* x, int m, const PackedView& w, int p0, int p1, float* y, float* scratch);

// The scalar dequantisation of panel p into in x kPanel floats, the
// definition every kernel's on-the-fly dequantisation must match.
void DequantizePanel(const PackedView& w, int p, float* out);

// w8a8/w4a8: rows of x quantised by one ISA's quantiser, in the form its kernel
// reads: `in` bytes per row (int8 q, or q + 128 as uint8 for x86 VNNI), one
// fp32 scale per row, and for AVX2 per row the sum of q over each group of
// kGroup (in / kGroup sums; its w4a8 kernel corrects its unsigned weights with
// them). No other kernel reads sums, so for other ISAs group_sums is null.
struct QuantizedView {
  const uint8_t* q;
  const float* scale;
  const int32_t* group_sums;
  int in;
};
// Quantises rows [0, m) of x (row stride in) into q (stride in) and scale,
// and the group sums (stride in / kGroup) where the ISA's kernel reads them.
using QuantizeFn = void (*)(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* group_sums);
// y[r, columns of panels [p0, p1)] for r in [0, m); y row stride w.out.
using W8A8KernelFn = void (*)(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y);
void QuantizeRowsScalar(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* group_sums);
void QuantizeRowsAvx2(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* group_sums);
void QuantizeRowsAvx512(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* group_sums);  // q + 128
void QuantizeRowsNeon(const float* x, int m, int in, uint8_t* q, float* scale, int32_t* group_sums);
void MatMulW8A8Scalar(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y);
void MatMulW8A8Avx2(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y);
void MatMulW8A8Avx512(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y);
void MatMulW8A8Neon(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y);
void MatMulW8A8NeonDot(const QuantizedView& x, int m, const PackedView& w, int p0, int p1, float* y);

}  // namespace internal

// The kernels of one instruction set, one row per ISA: an engine looks its row
// up once (KernelsFor its options' ISA) and hands it to every product.
struct IsaKernels {
  Isa isa;
  internal::KernelFn matmul;              // fp32, bf16, int8, int4 weights
  internal::QuantizeFn quantize_rows;     // w8a8/w4a8 input rows
  internal::W8A8KernelFn matmul_integer;  // w8a8/w4a8 weights times quantize_rows' rows
  bool quantize_writes_group_sums;        // AVX2's w4a8 kernel reads per-group sums of q
};
// The row of `isa`, which must be supported (IsaSupported); an ISA this build
// has no kernels for gets the scalar ones.
const IsaKernels& KernelsFor(Isa isa);

class PackedMatrix {
 public:
  // w: in x out floats, row-major. `in` must be a multiple of 32 for int8/int4.
  static absl::StatusOr<PackedMatrix> Pack(const float* w, int in, int out, WeightType type);

  PackedMatrix() = default;
  int in() const { return view_.in; }
  int out() const { return view_.out; }
  WeightType type() const { return view_.type; }
  size_t bytes() const;  // packed size, for bandwidth figures
  // The weights as the kernels see them (dequantised), in x out row-major.
  void Unpack(float* w) const;

  const internal::PackedView& view() const { return view_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  internal::PackedView view_{WeightType::kF32, 0, 0, 0, 0, nullptr};
  std::unique_ptr<uint8_t, Free> data_;
};

// Rows of activations quantised once for several w8a8 products that read the
// same input (Q/K/V of one layer, the cross-attention K/V of every layer).
// The form depends on the kernels that quantised them, and the products use
// those kernels' integer product.
class QuantizedRows {
 public:
  // Allocates room for `rows` rows of `in` values up front (none later if they fit).
  void Reserve(int rows, int in);
  void Quantize(const IsaKernels& kernels, const float* x, int m, int in, ThreadPool* pool);
  int rows() const { return m_; }
  int in() const { return in_; }
  const IsaKernels& kernels() const { return *kernels_; }
  internal::QuantizedView view() const {
    return {q_.data(), scale_.data(), kernels_->quantize_writes_group_sums ? group_sums_.data() : nullptr, in_};
  }

 private:
  void QuantizeRange(const float* x, int begin, int end);

  std::vector<uint8_t> q_;
  std::vector<float> scale_;
  std::vector<int32_t> group_sums_;
  int m_ = 0, in_ = 0;
  const IsaKernels* kernels_ = &KernelsFor(Isa::kScalar);
};

// y[m x out] = x[m x in] @ W, x and y row-major. Splits over output columns
// (and rows when m is large) across the pool; pool may be null (one thread).
// A w8a8/w4a8 matrix quantises x first (in a per-thread buffer).
void MatMul(const IsaKernels& kernels, const float* x, int m, const PackedMatrix& w, float* y, ThreadPool* pool);
// The w8a8/w4a8 product of already quantised rows; w must be kW8A8 or kW4A8 with w.in() == x.in().
void MatMul(const QuantizedRows& x, const PackedMatrix& w, float* y, ThreadPool* pool);

}  // namespace needle::optimized

#endif  // NEEDLE_OPTIMIZED_MATMUL_H_
