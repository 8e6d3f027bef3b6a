// The optimized engine's kernels against scalar definitions: the thread pool,
// weight packing and quantisation, and MatMul under every instruction set
// this CPU and build support.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "optimized/matmul.h"
#include "optimized/thread_pool.h"
#include "model/ops.h"

namespace needle::optimized {
namespace {

constexpr WeightType kAllTypes[] = {WeightType::kF32,  WeightType::kBF16, WeightType::kInt8,
                                    WeightType::kInt4, WeightType::kW8A8, WeightType::kW4A8};
// The types whose products keep fp32 activations.
constexpr WeightType kWeightOnlyTypes[] = {WeightType::kF32, WeightType::kBF16, WeightType::kInt8, WeightType::kInt4};
// The types whose products quantise the activations too.
constexpr WeightType kIntegerTypes[] = {WeightType::kW8A8, WeightType::kW4A8};

std::vector<float> RandomValues(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// The kernels of every instruction set this CPU and build support.
std::vector<const IsaKernels*> SupportedKernels() {
  std::vector<const IsaKernels*> kernels;
  for (Isa isa : kAllIsas) {
    if (IsaSupported(isa)) kernels.push_back(&KernelsFor(isa));
  }
  return kernels;
}

TEST(ThreadPoolTest, CoversEveryIndexOnceInGrainAlignedChunks) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int n : {0, 1, 2, 7, 64, 100, 1023}) {
      for (int grain : {1, 3, 16, 200}) {
        SCOPED_TRACE(testing::Message() << "threads " << threads << " n " << n << " grain " << grain);
        std::vector<std::atomic<int>> hits(n);
        std::atomic<int> chunks{0};
        std::atomic<bool> misaligned{false};
        pool.ParallelFor(n, grain, [&](int begin, int end) {
          chunks.fetch_add(1);
          if (begin % grain != 0 || (end != n && end % grain != 0) || begin >= end) misaligned = true;
          for (int i = begin; i < end; ++i) hits[i].fetch_add(1);
        });
        for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
        EXPECT_LE(chunks.load(), threads);
        EXPECT_FALSE(misaligned.load());
      }
    }
  }
}

TEST(ThreadPoolTest, RunsManyJobsInARow) {
  ThreadPool pool(3);
  std::atomic<long> total{0};
  for (int job = 0; job < 2000; ++job) {
    pool.ParallelFor(10, 1, [&](int begin, int end) {
      for (int i = begin; i < end; ++i) total.fetch_add(i);
    });
  }
  EXPECT_EQ(total.load(), 2000L * 45);
}

TEST(IsaTest, KernelTableHasARowPerIsaAndNamesParse) {
  int unsupported = 0;
  for (Isa isa : kAllIsas) {
    SCOPED_TRACE(IsaName(isa));
    EXPECT_EQ(*ParseIsa(IsaName(isa)), isa);
    if (IsaSupported(isa)) {
      EXPECT_EQ(KernelsFor(isa).isa, isa);
    } else {
      ++unsupported;
    }
  }
  EXPECT_GE(unsupported, 1);  // no build has both the x86 and the Arm kernels
  EXPECT_FALSE(ParseIsa("avx512").ok());
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  EXPECT_TRUE(IsaSupported(BestIsa()));
  EXPECT_TRUE(IsaSupported(DefaultIsa()));
}

TEST(PackedMatrixTest, ParsesAndNamesWeightTypes) {
  for (WeightType type : kAllTypes) {
    auto parsed = ParsePrecision(PrecisionName(type));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_FALSE(ParsePrecision("fp16").ok());
}

// The precision table's bytes per weight are the packing's, where no panel is padded.
TEST(PackedMatrixTest, PrecisionTableGivesThePackedSize) {
  ASSERT_EQ(Precisions().size(), std::size(kAllTypes));
  for (const PrecisionInfo& info : Precisions()) {
    SCOPED_TRACE(info.name);
    EXPECT_EQ(&InfoOf(info.precision), &info);
    constexpr int kIn = 256, kOut = 64;
    const std::vector<float> zeros(kIn * kOut, 0.0f);
    const absl::StatusOr<PackedMatrix> packed = PackedMatrix::Pack(zeros.data(), kIn, kOut, info.precision);
    ASSERT_TRUE(packed.ok());
    EXPECT_EQ(static_cast<double>(packed->bytes()), info.bytes_per_weight * kIn * kOut);
    EXPECT_EQ(PackedMatrixBytes(info.precision, kIn, kOut), static_cast<int64_t>(packed->bytes()));
  }
}

TEST(PackedMatrixTest, QuantisedTypesNeedWholeGroups) {
  const std::vector<float> w = RandomValues(40 * 8, 1);
  EXPECT_FALSE(PackedMatrix::Pack(w.data(), 40, 8, WeightType::kInt8).ok());
  EXPECT_FALSE(PackedMatrix::Pack(w.data(), 40, 8, WeightType::kInt4).ok());
  EXPECT_FALSE(PackedMatrix::Pack(w.data(), 40, 8, WeightType::kW8A8).ok());
  EXPECT_FALSE(PackedMatrix::Pack(w.data(), 40, 8, WeightType::kW4A8).ok());
  EXPECT_TRUE(PackedMatrix::Pack(w.data(), 40, 8, WeightType::kBF16).ok());
}

// Unpack gives back what was packed, up to the type's rounding: half a
// quantisation step per group and column for int8/int4, bf16's 8 bits.
TEST(PackedMatrixTest, QuantisationErrorIsWithinHalfAStep) {
  const int in = 96, out = 45;
  std::vector<float> w = RandomValues(static_cast<size_t>(in) * out, 2);
  for (int k = 0; k < 32; ++k) w[k * out + 3] = 0.0f;  // an all-zero group
  for (WeightType type : kAllTypes) {
    SCOPED_TRACE(PrecisionName(type));
    auto packed = PackedMatrix::Pack(w.data(), in, out, type);
    ASSERT_TRUE(packed.ok()) << packed.status();
    EXPECT_EQ(packed->in(), in);
    EXPECT_EQ(packed->out(), out);
    EXPECT_EQ(packed->type(), type);
    std::vector<float> deq(w.size());
    packed->Unpack(deq.data());
    for (int c = 0; c < out; ++c) {
      for (int g = 0; g < in / 32; ++g) {
        float max = 0.0f;
        for (int k = g * 32; k < g * 32 + 32; ++k) max = std::max(max, std::fabs(w[k * out + c]));
        for (int k = g * 32; k < g * 32 + 32; ++k) {
          const float v = w[k * out + c], d = deq[k * out + c];
          float bound = 0.0f;
          switch (type) {
            case WeightType::kF32:
              bound = 0.0f;
              break;
            case WeightType::kBF16:
              bound = std::fabs(v) * (1.0f / 256);
              break;
            case WeightType::kInt8:
            case WeightType::kW8A8:
              bound = max / 127 / 2 * 1.0001f;
              break;
            case WeightType::kInt4:
            case WeightType::kW4A8:
              bound = max / 7 / 2 * 1.0001f;
              break;
          }
          ASSERT_LE(std::fabs(v - d), bound) << "k " << k << " c " << c;
        }
      }
    }
  }
  // The packed sizes: what bandwidth figures count.
  auto f32 = PackedMatrix::Pack(w.data(), in, out, WeightType::kF32);
  auto int4 = PackedMatrix::Pack(w.data(), in, out, WeightType::kInt4);
  EXPECT_EQ(f32->bytes(), static_cast<size_t>(in) * 64 * 4);                 // two 32-column panels
  EXPECT_EQ(int4->bytes(), static_cast<size_t>(in / 32) * 2 * (128 + 512));  // scales + nibbles
}

// y = x @ deq(W) against the double-accumulating reference product with the
// dequantised weights, so only the kernels' fp32 rounding is measured: each
// output within 1e-5 of sum |x| |w| (fp32 sums of up to 512 terms).
void ExpectMatMulMatches(const IsaKernels& kernels, int m, int in, int out, WeightType type, ThreadPool* pool,
                         uint32_t seed) {
  SCOPED_TRACE(testing::Message() << PrecisionName(type) << " m " << m << " in " << in << " out " << out);
  const std::vector<float> w = RandomValues(static_cast<size_t>(in) * out, seed);
  const std::vector<float> x = RandomValues(static_cast<size_t>(m) * in, seed + 1);
  auto packed = PackedMatrix::Pack(w.data(), in, out, type);
  ASSERT_TRUE(packed.ok()) << packed.status();
  std::vector<float> deq(w.size()), expected(static_cast<size_t>(m) * out);
  packed->Unpack(deq.data());
  model::MatMul(x.data(), m, in, deq.data(), out, expected.data());
  std::vector<float> abs_x(x.size()), abs_w(deq.size()), magnitude(expected.size());
  std::transform(x.begin(), x.end(), abs_x.begin(), [](float v) { return std::fabs(v); });
  std::transform(deq.begin(), deq.end(), abs_w.begin(), [](float v) { return std::fabs(v); });
  model::MatMul(abs_x.data(), m, in, abs_w.data(), out, magnitude.data());
  // Poisoned output: every element must be written.
  std::vector<float> y(static_cast<size_t>(m) * out, std::nanf(""));
  MatMul(kernels, x.data(), m, *packed, y.data(), pool);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(y[i], expected[i], 1e-5f * magnitude[i] + 1e-7f) << "row " << i / out << " column " << i % out;
  }
}

TEST(IsaTest, MatMulMatchesDequantisedProductOnEveryIsa) {
  for (const IsaKernels* each : SupportedKernels()) {
    const IsaKernels& kernels = *each;
    SCOPED_TRACE(IsaName(kernels.isa));
    uint32_t seed = 10;
    for (WeightType type : kWeightOnlyTypes) {
      for (int m : {1, 2, 3, 7, 64, 130}) {
        for (int in : {32, 64, 96, 512}) {
          for (int out : {1, 7, 16, 33, 256, 512}) {
            // Many rows times a long K once per type (out = 33) is enough, and
            // keeps the test quick under qemu.
            if (m * in * out > 1024 * 1024 && out != 33) continue;
            ExpectMatMulMatches(kernels, m, in, out, type, nullptr, seed++);
            if (HasFatalFailure()) return;
          }
        }
      }
      // Float types take any input size.
      if (type == WeightType::kF32 || type == WeightType::kBF16) {
        for (int m : {1, 5, 9}) ExpectMatMulMatches(kernels, m, 41, 40, type, nullptr, seed++);
      }
    }
  }
}

TEST(IsaTest, MatMulSplitsAcrossThreadsWithTheSameResult) {
  for (const IsaKernels* each : SupportedKernels()) {
    const IsaKernels& kernels = *each;
    SCOPED_TRACE(IsaName(kernels.isa));
    for (int threads : {2, 3}) {
      ThreadPool pool(threads);
      for (WeightType type : kWeightOnlyTypes) {
        ExpectMatMulMatches(kernels, 1, 512, 1000, type, &pool, 100);
        ExpectMatMulMatches(kernels, 150, 256, 96, type, &pool, 200);
        ExpectMatMulMatches(kernels, 2, 64, 33, type, &pool, 300);  // below the threshold for threads
      }
    }
  }
}

// ---- w8a8 and w4a8: integer activations.

// Largest |q| of a weight type's integers.
int WeightLevels(WeightType type) { return type == WeightType::kW4A8 ? 7 : 127; }

// The w8a8/w4a8 product written out from its definition (matmul.h), independently
// of the packed layout: both operands quantised here, exact int32 dot products
// per group, then acc = fma(dot, w_scale, acc) in group order and y = acc * x_scale.
std::vector<float> W8A8Definition(const std::vector<float>& x, int m, const std::vector<float>& w, int in, int out,
                                  WeightType type) {
  const float levels = static_cast<float>(WeightLevels(type));
  std::vector<int> xq(x.size()), wq(w.size());
  std::vector<float> xs(m), ws(static_cast<size_t>(in / 32) * out);
  for (int r = 0; r < m; ++r) {
    float max = 0.0f;
    for (int k = 0; k < in; ++k) max = std::max(max, std::fabs(x[static_cast<size_t>(r) * in + k]));
    const float inverse = max > 0.0f ? 127.0f / max : 0.0f;
    xs[r] = max / 127.0f;
    for (int k = 0; k < in; ++k) {
      xq[static_cast<size_t>(r) * in + k] =
          static_cast<int>(std::nearbyint(x[static_cast<size_t>(r) * in + k] * inverse));
    }
  }
  for (int c = 0; c < out; ++c) {
    for (int g = 0; g < in / 32; ++g) {
      float max = 0.0f;
      for (int k = g * 32; k < g * 32 + 32; ++k) max = std::max(max, std::fabs(w[static_cast<size_t>(k) * out + c]));
      const float scale = max / levels;
      ws[static_cast<size_t>(g) * out + c] = scale;
      for (int k = g * 32; k < g * 32 + 32; ++k) {
        const size_t i = static_cast<size_t>(k) * out + c;
        wq[i] = scale > 0.0f ? static_cast<int>(std::nearbyint(w[i] / scale)) : 0;
      }
    }
  }
  std::vector<float> y(static_cast<size_t>(m) * out);
  for (int r = 0; r < m; ++r) {
    for (int c = 0; c < out; ++c) {
      float acc = 0.0f;
      for (int g = 0; g < in / 32; ++g) {
        int32_t dot = 0;
        for (int k = g * 32; k < g * 32 + 32; ++k) {
          dot += xq[static_cast<size_t>(r) * in + k] * wq[static_cast<size_t>(k) * out + c];
        }
        acc = std::fma(static_cast<float>(dot), ws[static_cast<size_t>(g) * out + c], acc);
      }
      y[static_cast<size_t>(r) * out + c] = acc * xs[r];
    }
  }
  return y;
}

// Every ISA's w8a8 and w4a8 product equals the definition bit for bit: the
// integer sums are exact and the float epilogue runs in the same order everywhere.
TEST(IsaTest, W8A8IsBitExactOnEveryIsa) {
  uint32_t seed = 500;
  for (WeightType type : kIntegerTypes) {
    for (int in : {32, 64, 96, 512}) {
      for (int out : {1, 7, 16, 31, 33, 100}) {
        for (int m = 1; m <= 17; ++m) {
          if (in == 512 && m % 4 != 1) continue;  // keeps the qemu run short
          SCOPED_TRACE(testing::Message() << PrecisionName(type) << " m " << m << " in " << in << " out " << out);
          std::vector<float> w = RandomValues(static_cast<size_t>(in) * out, seed++);
          std::vector<float> x = RandomValues(static_cast<size_t>(m) * in, seed++);
          for (int k = 0; k < 32; ++k) w[static_cast<size_t>(k) * out] = 0.0f;  // an all-zero weight group
          if (m > 2) std::fill(x.begin() + in, x.begin() + 2 * in, 0.0f);       // an all-zero row
          x[0] = 3.5f;  // a row whose largest value dominates the others
          const std::vector<float> expected = W8A8Definition(x, m, w, in, out, type);
          auto packed = PackedMatrix::Pack(w.data(), in, out, type);
          ASSERT_TRUE(packed.ok()) << packed.status();
          for (const IsaKernels* kernels : SupportedKernels()) {
            SCOPED_TRACE(IsaName(kernels->isa));
            std::vector<float> y(expected.size(), std::nanf(""));
            MatMul(*kernels, x.data(), m, *packed, y.data(), nullptr);
            for (size_t i = 0; i < y.size(); ++i) {
              ASSERT_EQ(y[i], expected[i]) << "row " << i / out << " column " << i % out;
            }
          }
        }
      }
    }
  }
}

// Operands at their largest magnitudes, with equal and opposite signs, push the
// kernels' narrow intermediate sums (int16 pairs, and AVX2 w4a8's int16 group
// sums) to their bounds; they must still equal the definition exactly.
TEST(IsaTest, W8A8IsExactAtTheExtremesOfItsIntegers) {
  constexpr int kIn = 96, kOut = 40, kM = 5;
  std::vector<float> w(static_cast<size_t>(kIn) * kOut), x(static_cast<size_t>(kM) * kIn);
  for (int k = 0; k < kIn; ++k) {
    for (int c = 0; c < kOut; ++c) w[static_cast<size_t>(k) * kOut + c] = c % 2 == 0 ? 1.0f : -1.0f;
    x[k] = 1.0f;                                  // every q = 127
    x[kIn + k] = -1.0f;                           // every q = -127
    x[2 * kIn + k] = k % 2 == 0 ? 1.0f : -1.0f;   // alternating
    x[3 * kIn + k] = k < kIn / 2 ? 1.0f : -1.0f;  // sign flips between groups
    x[4 * kIn + k] = k % 32 == 0 ? 1.0f : 0.01f;  // one large value per group
  }
  for (WeightType type : kIntegerTypes) {
    const std::vector<float> expected = W8A8Definition(x, kM, w, kIn, kOut, type);
    EXPECT_NEAR(expected[0], 96.0f, 1e-3f);  // 96 products of 1 * 1: the operands are exact
    auto packed = PackedMatrix::Pack(w.data(), kIn, kOut, type);
    ASSERT_TRUE(packed.ok()) << packed.status();
    for (const IsaKernels* kernels : SupportedKernels()) {
      SCOPED_TRACE(testing::Message() << PrecisionName(type) << " " << IsaName(kernels->isa));
      std::vector<float> y(expected.size(), std::nanf(""));
      MatMul(*kernels, x.data(), kM, *packed, y.data(), nullptr);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_EQ(y[i], expected[i]) << "row " << i / kOut << " column " << i % kOut;
      // Each row alone, as decode multiplies (some ISAs have a one-row kernel).
      for (int r = 0; r < kM; ++r) {
        std::vector<float> row(kOut, std::nanf(""));
        MatMul(*kernels, x.data() + static_cast<size_t>(r) * kIn, 1, *packed, row.data(), nullptr);
        for (int c = 0; c < kOut; ++c) ASSERT_EQ(row[c], expected[static_cast<size_t>(r) * kOut + c]) << "row " << r;
      }
    }
  }
}

// Runs `check` for w8a8 and w4a8 with the kernels of every ISA this CPU has.
void ForEachIntegerTypeOnEveryIsa(const std::function<void(WeightType, const IsaKernels&)>& check) {
  for (WeightType type : kIntegerTypes) {
    for (const IsaKernels* kernels : SupportedKernels()) {
      SCOPED_TRACE(testing::Message() << IsaName(kernels->isa) << " " << PrecisionName(type));
      check(type, *kernels);
    }
  }
}

// Against the fp32 product of the unquantised operands: per output the error
// is bounded by the two quantisations, sum_k (|dx_k| |w_k| + |x_k| |dw_k| +
// |dx_k| |dw_k|) with |dx| <= x_scale / 2 and |dw| <= w_scale / 2, plus fp32 rounding.
TEST(IsaTest, W8A8IsWithinTheQuantisationBoundOfFp32) {
  ThreadPool pool(2);
  uint32_t seed = 900;
  ForEachIntegerTypeOnEveryIsa([&](WeightType type, const IsaKernels& kernels) {
    for (const auto& [m, in, out] :
         std::vector<std::tuple<int, int, int>>{{1, 512, 300}, {9, 96, 45}, {130, 256, 70}}) {
      SCOPED_TRACE(testing::Message() << "m " << m << " in " << in << " out " << out);
      const std::vector<float> w = RandomValues(static_cast<size_t>(in) * out, seed++);
      const std::vector<float> x = RandomValues(static_cast<size_t>(m) * in, seed++);
      auto packed = PackedMatrix::Pack(w.data(), in, out, type);
      ASSERT_TRUE(packed.ok());
      std::vector<float> y(static_cast<size_t>(m) * out);
      MatMul(kernels, x.data(), m, *packed, y.data(), &pool);
      double worst_relative = 0.0;
      for (int r = 0; r < m; ++r) {
        float x_max = 0.0f;
        for (int k = 0; k < in; ++k) x_max = std::max(x_max, std::fabs(x[static_cast<size_t>(r) * in + k]));
        const double dx = x_max / 127.0 / 2;
        for (int c = 0; c < out; ++c) {
          double exact = 0.0, bound = 0.0, magnitude = 0.0;
          for (int g = 0; g < in / 32; ++g) {
            float w_max = 0.0f;
            for (int k = g * 32; k < g * 32 + 32; ++k) {
              w_max = std::max(w_max, std::fabs(w[static_cast<size_t>(k) * out + c]));
            }
            const double dw = w_max / WeightLevels(type) / 2;
            for (int k = g * 32; k < g * 32 + 32; ++k) {
              const double xv = x[static_cast<size_t>(r) * in + k], wv = w[static_cast<size_t>(k) * out + c];
              exact += xv * wv;
              magnitude += std::fabs(xv * wv);
              bound += dx * std::fabs(wv) + std::fabs(xv) * dw + dx * dw;
            }
          }
          const double error = std::fabs(y[static_cast<size_t>(r) * out + c] - exact);
          ASSERT_LE(error, bound * 1.001 + 1e-5 * magnitude) << "row " << r << " column " << c;
          worst_relative = std::max(worst_relative, error / bound);
        }
      }
      // The bound is the worst case; random rounding errors mostly cancel.
      EXPECT_LT(worst_relative, 0.5);
    }
  });
}

// Splitting over threads, and quantising once for several products, change no bit.
TEST(IsaTest, W8A8ThreadsAndSharedQuantisationAreExact) {
  ForEachIntegerTypeOnEveryIsa([&](WeightType type, const IsaKernels& kernels) {
    for (const auto& [m, in, out] :
         std::vector<std::tuple<int, int, int>>{{1, 512, 1000}, {150, 256, 96}, {2, 64, 33}}) {
      const std::vector<float> w = RandomValues(static_cast<size_t>(in) * out, 7);
      const std::vector<float> x = RandomValues(static_cast<size_t>(m) * in, 8);
      auto packed = PackedMatrix::Pack(w.data(), in, out, type);
      ASSERT_TRUE(packed.ok());
      std::vector<float> single(static_cast<size_t>(m) * out), split(single.size()), shared(single.size());
      MatMul(kernels, x.data(), m, *packed, single.data(), nullptr);
      for (int threads : {2, 3}) {
        ThreadPool pool(threads);
        MatMul(kernels, x.data(), m, *packed, split.data(), &pool);
        EXPECT_EQ(split, single) << "threads " << threads << " m " << m;
        QuantizedRows rows;
        rows.Quantize(kernels, x.data(), m, in, &pool);
        EXPECT_EQ(&rows.kernels(), &kernels);
        MatMul(rows, *packed, shared.data(), &pool);
        EXPECT_EQ(shared, single) << "threads " << threads << " m " << m;
      }
    }
  });
}

}  // namespace
}  // namespace needle::optimized
