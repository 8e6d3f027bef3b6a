// Packing, run-time ISA dispatch and threading of the weight products.
//
// Hand-written intrinsics rather than Highway: Debian 12 ships Highway 1.0.3
// only as a shared library while the aarch64 phone binary is linked
// statically, so Highway would have to be vendored; and the kernels are few
// and small (one GEMV and one register-blocked GEMM per instruction set, over
// one packed layout), so per-ISA files compiled with their own -m flags and
// chosen from what HostCpu() reports (needle/cpu.h) cost little and let each use
// its own register blocking (8x32 on AVX-512, 6x16 on AVX2 and NEON).
#include "optimized/matmul.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>

#include "needle/str_cat.h"
#include "optimized/thread_pool.h"

namespace needle::optimized {
namespace {

using internal::IntegerGroupBytes;
using internal::IntegerGroupHeader;
using internal::kGroup;
using internal::kPanel;

// One row per ISA, in Isa's order; an ISA without kernels in this build keeps the scalar ones.
constexpr IsaKernels kScalarKernels{Isa::kScalar, internal::MatMulScalar, internal::QuantizeRowsScalar,
                                    internal::MatMulW8A8Scalar, false};
const IsaKernels kKernels[] = {
    kScalarKernels,
#if defined(NEEDLE_HAVE_X86_KERNELS)
    {Isa::kAvx2, internal::MatMulAvx2, internal::QuantizeRowsAvx2, internal::MatMulW8A8Avx2, true},
    {Isa::kAvx512Vnni, internal::MatMulAvx512, internal::QuantizeRowsAvx512, internal::MatMulW8A8Avx512, false},
#else
    kScalarKernels, kScalarKernels,
#endif
#if defined(NEEDLE_HAVE_NEON_KERNELS)
    {Isa::kNeon, internal::MatMulNeon, internal::QuantizeRowsNeon, internal::MatMulW8A8Neon, false},
    {Isa::kNeonDot, internal::MatMulNeon, internal::QuantizeRowsNeon, internal::MatMulW8A8NeonDot, false},
#else
    kScalarKernels, kScalarKernels,
#endif
};
static_assert(std::size(kKernels) == std::size(kAllIsas));

size_t UnpaddedPanelBytes(WeightType type, int in) {
  const size_t groups = static_cast<size_t>(in) / kGroup;
  switch (type) {
    case WeightType::kF32:
      return static_cast<size_t>(in) * kPanel * sizeof(float);
    case WeightType::kBF16:
      return static_cast<size_t>(in) * kPanel * sizeof(uint16_t);
    case WeightType::kInt8:
      return groups * (kPanel * sizeof(float) + kGroup * kPanel);
    case WeightType::kInt4:
      return groups * (kPanel * sizeof(float) + kGroup * kPanel / 2);
    case WeightType::kW8A8:
    case WeightType::kW4A8:
      return groups * IntegerGroupBytes(type);
  }
  return 0;
}

// Quantises one group of kGroup weights w[0], w[stride], ... of one column.
float QuantizeGroup(const float* w, size_t stride, int levels, int8_t* q) {
  float max = 0.0f;
  for (int k = 0; k < kGroup; ++k) max = std::max(max, std::fabs(w[k * stride]));
  const float scale = max / static_cast<float>(levels);
  for (int k = 0; k < kGroup; ++k) {
    const float v = scale > 0.0f ? std::nearbyint(w[k * stride] / scale) : 0.0f;
    q[k] = static_cast<int8_t>(std::clamp(v, static_cast<float>(-levels), static_cast<float>(levels)));
  }
  return scale;
}

void PackPanel(const float* w, int in, int out, WeightType type, int p, uint8_t* dst) {
  const int c0 = p * kPanel;
  const int width = std::min(kPanel, out - c0);
  // Column c of the panel at row k, zero past the matrix.
  auto at = [&](int k, int c) { return c < width ? w[static_cast<size_t>(k) * out + c0 + c] : 0.0f; };
  switch (type) {
    case WeightType::kF32: {
      float* d = reinterpret_cast<float*>(dst);
      for (int k = 0; k < in; ++k) {
        for (int c = 0; c < kPanel; ++c) d[static_cast<size_t>(k) * kPanel + c] = at(k, c);
      }
      return;
    }
    case WeightType::kBF16: {
      uint16_t* d = reinterpret_cast<uint16_t*>(dst);
      for (int k = 0; k < in; ++k) {
        for (int c = 0; c < kPanel; ++c) d[static_cast<size_t>(k) * kPanel + c] = RoundToBf16Bits(at(k, c));
      }
      return;
    }
    case WeightType::kInt8:
    case WeightType::kInt4: {
      const bool int4 = type == WeightType::kInt4;
      const size_t group_bytes = kPanel * sizeof(float) + kGroup * kPanel / (int4 ? 2 : 1);
      float column[kGroup];
      int8_t q[kPanel][kGroup];
      for (int g = 0; g < in / kGroup; ++g) {
        uint8_t* group = dst + g * group_bytes;
        float scales[kPanel];
        for (int c = 0; c < kPanel; ++c) {
          for (int k = 0; k < kGroup; ++k) column[k] = at(g * kGroup + k, c);
          scales[c] = QuantizeGroup(column, 1, int4 ? 7 : 127, q[c]);
        }
        std::memcpy(group, scales, sizeof(scales));
        uint8_t* values = group + sizeof(scales);
        for (int k = 0; k < kGroup; ++k) {
          if (int4) {
            for (int j = 0; j < kPanel / 2; ++j) {
              values[k * kPanel / 2 + j] = static_cast<uint8_t>((q[j][k] + 8) | ((q[j + kPanel / 2][k] + 8) << 4));
            }
          } else {
            for (int c = 0; c < kPanel; ++c) values[k * kPanel + c] = static_cast<uint8_t>(q[c][k]);
          }
        }
      }
      return;
    }
    case WeightType::kW8A8:
    case WeightType::kW4A8: {
      const bool int4 = type == WeightType::kW4A8;
      const size_t group_bytes = IntegerGroupBytes(type);
      float column[kGroup];
      int8_t q[kPanel][kGroup];
      for (int g = 0; g < in / kGroup; ++g) {
        uint8_t* group = dst + g * group_bytes;
        float scales[kPanel];
        int32_t biases[kPanel];
        for (int c = 0; c < kPanel; ++c) {
          for (int k = 0; k < kGroup; ++k) column[k] = at(g * kGroup + k, c);
          scales[c] = QuantizeGroup(column, 1, int4 ? 7 : 127, q[c]);
          if (int4) continue;  // w4a8 has no biases
          int32_t sum = 0;
          for (int k = 0; k < kGroup; ++k) sum += q[c][k];
          biases[c] = -128 * sum;
        }
        std::memcpy(group, scales, sizeof(scales));
        if (!int4) std::memcpy(group + sizeof(scales), biases, sizeof(biases));
        uint8_t* values = group + IntegerGroupHeader(type);
        for (int j = 0; j < kGroup / 4; ++j) {
          for (int c = 0; c < kPanel; ++c) {
            for (int i = 0; i < 4; ++i) {
              const int k = 4 * j + i;
              if (!int4) {
                values[(j * kPanel + c) * 4 + i] = static_cast<uint8_t>(q[c][k]);
              } else if (c < kPanel / 2) {
                values[(j * kPanel / 2 + c) * 4 + i] |= static_cast<uint8_t>(q[c][k] + 8);
              } else {
                values[(j * kPanel / 2 + c - kPanel / 2) * 4 + i] |= static_cast<uint8_t>((q[c][k] + 8) << 4);
              }
            }
          }
        }
      }
      return;
    }
  }
}

// Per-thread room for one dequantised panel; grows once to the widest `in`.
float* Scratch(int in) {
  thread_local std::vector<float> scratch;
  const size_t need = static_cast<size_t>(in) * kPanel;
  if (scratch.size() < need) scratch.resize(need);
  return scratch.data();
}

}  // namespace

size_t internal::PanelBytes(WeightType type, int in) { return (UnpaddedPanelBytes(type, in) + 63) / 64 * 64; }

const IsaKernels& KernelsFor(Isa isa) { return kKernels[static_cast<size_t>(isa)]; }

}  // namespace needle::optimized

namespace needle {

int64_t PackedMatrixBytes(Precision precision, int in, int out) {
  const int64_t panels = (out + optimized::internal::kPanel - 1) / optimized::internal::kPanel;
  return panels * static_cast<int64_t>(optimized::internal::PanelBytes(precision, in));
}

}  // namespace needle

namespace needle::optimized {

absl::StatusOr<PackedMatrix> PackedMatrix::Pack(const float* w, int in, int out, WeightType type) {
  if (in <= 0 || out <= 0) return absl::InvalidArgumentError(StrCat("bad matrix shape ", in, "x", out));
  if (type != WeightType::kF32 && type != WeightType::kBF16 && in % kGroup != 0) {
    return absl::InvalidArgumentError(
        StrCat(PrecisionName(type), " needs an input size that is a multiple of ", kGroup, ", not ", in));
  }
  PackedMatrix packed;
  internal::PackedView& v = packed.view_;
  v.type = type;
  v.in = in;
  v.out = out;
  v.panels = (out + kPanel - 1) / kPanel;
  v.panel_bytes = internal::PanelBytes(type, in);
  const size_t total = v.panel_bytes * v.panels;
  packed.data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, total)));
  if (packed.data_ == nullptr) return absl::ResourceExhaustedError(StrCat("cannot allocate ", total, " bytes"));
  std::memset(packed.data_.get(), 0, total);
  v.data = packed.data_.get();
  for (int p = 0; p < v.panels; ++p) PackPanel(w, in, out, type, p, packed.data_.get() + p * v.panel_bytes);
  return packed;
}

size_t PackedMatrix::bytes() const { return view_.panel_bytes * view_.panels; }

void PackedMatrix::Unpack(float* w) const {
  std::vector<float> panel(static_cast<size_t>(view_.in) * kPanel);
  for (int p = 0; p < view_.panels; ++p) {
    internal::DequantizePanel(view_, p, panel.data());
    const int width = std::min(kPanel, view_.out - p * kPanel);
    for (int k = 0; k < view_.in; ++k) {
      std::memcpy(w + static_cast<size_t>(k) * view_.out + p * kPanel, &panel[static_cast<size_t>(k) * kPanel],
                  width * sizeof(float));
    }
  }
}

void QuantizedRows::Reserve(int rows, int in) {
  const size_t need = static_cast<size_t>(rows) * in;
  if (q_.size() < need) q_.resize(need);
  if (scale_.size() < static_cast<size_t>(rows)) scale_.resize(rows);
  if (group_sums_.size() < need / kGroup) group_sums_.resize(need / kGroup);
}

void QuantizedRows::QuantizeRange(const float* x, int begin, int end) {
  const size_t offset = static_cast<size_t>(begin) * in_;
  kernels_->quantize_rows(x + offset, end - begin, in_, q_.data() + offset, scale_.data() + begin,
                          group_sums_.data() + offset / kGroup);
}

void QuantizedRows::Quantize(const IsaKernels& kernels, const float* x, int m, int in, ThreadPool* pool) {
  Reserve(m, in);
  m_ = m;
  in_ = in;
  kernels_ = &kernels;
  // A row costs about as much as a few hundred multiply-adds: only long inputs are worth a dispatch.
  constexpr int kMinParallelRows = 64;
  if (pool == nullptr || pool->size() == 1 || m < kMinParallelRows) {
    QuantizeRange(x, 0, m);
    return;
  }
  pool->ParallelFor(m, 16, [&](int begin, int end) { QuantizeRange(x, begin, end); });
}

void MatMul(const QuantizedRows& x, const PackedMatrix& w, float* y, ThreadPool* pool) {
  const internal::PackedView& v = w.view();
  const internal::QuantizedView xv = x.view();
  const internal::W8A8KernelFn kernel = x.kernels().matmul_integer;
  const int m = x.rows();
  const int threads = pool != nullptr ? pool->size() : 1;
  constexpr double kMinParallelMacs = 64 * 1024;
  const double macs = static_cast<double>(m) * v.in * v.out;
  if (threads == 1 || macs < kMinParallelMacs) {
    kernel(xv, m, v, 0, v.panels, y);
    return;
  }
  // As for the float products: (row block, panel) tasks, panels fastest.
  constexpr int kRowBlock = 128;
  const int row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const int tasks = row_blocks * v.panels;
  pool->ParallelFor(tasks, 1, [&](int begin, int end) {
    for (int t = begin; t < end;) {
      const int block = t / v.panels, p0 = t % v.panels;
      const int p1 = std::min(v.panels, p0 + (end - t));
      const int r0 = block * kRowBlock, rows = std::min(kRowBlock, m - r0);
      const int32_t* sums =
          xv.group_sums != nullptr ? xv.group_sums + static_cast<size_t>(r0) * (xv.in / kGroup) : nullptr;
      const internal::QuantizedView block_rows{xv.q + static_cast<size_t>(r0) * xv.in, xv.scale + r0, sums, xv.in};
      kernel(block_rows, rows, v, p0, p1, y + static_cast<size_t>(r0) * v.out);
      t += p1 - p0;
    }
  });
}

void MatMul(const IsaKernels& kernels, const float* x, int m, const PackedMatrix& w, float* y, ThreadPool* pool) {
  const internal::PackedView& v = w.view();
  if (QuantizesActivations(v.type)) {
    thread_local QuantizedRows rows;
    rows.Quantize(kernels, x, m, v.in, pool);
    MatMul(rows, w, y, pool);
    return;
  }
  const internal::KernelFn kernel = kernels.matmul;
  const int threads = pool != nullptr ? pool->size() : 1;
  // Below this many multiply-adds, waking the workers costs more than it saves.
  constexpr double kMinParallelMacs = 64 * 1024;
  const double macs = static_cast<double>(m) * v.in * v.out;
  if (threads == 1 || macs < kMinParallelMacs) {
    kernel(x, m, v, 0, v.panels, y, Scratch(v.in));
    return;
  }
  // Tasks are (row block, panel) pairs, panels varying fastest: a thread
  // keeps its block of x in cache while it streams panels through. Few rows
  // (decode) make one row block, split by panels only.
  constexpr int kRowBlock = 128;
  const int row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const int tasks = row_blocks * v.panels;
  pool->ParallelFor(tasks, 1, [&](int begin, int end) {
    float* scratch = Scratch(v.in);
    for (int t = begin; t < end;) {
      const int block = t / v.panels, p0 = t % v.panels;
      const int p1 = std::min(v.panels, p0 + (end - t));
      const int r0 = block * kRowBlock, rows = std::min(kRowBlock, m - r0);
      kernel(x + static_cast<size_t>(r0) * v.in, rows, v, p0, p1, y + static_cast<size_t>(r0) * v.out, scratch);
      t += p1 - p0;
    }
  });
}

}  // namespace needle::optimized
