#include "needle/bench/roofline.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "needle/cpu.h"
#include "needle/precision.h"
#include "needle/str_cat.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define NEEDLE_ROOFLINE_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define NEEDLE_ROOFLINE_NEON 1
#endif

namespace needle::bench {
namespace {

using Clock = std::chrono::steady_clock;

// FMA latency is 4-5 cycles with two pipes on current cores: ten or more
// independent chains keep both busy.
constexpr int kChains = 12;
constexpr double kMinRunSeconds = 0.1;
constexpr int kRuns = 3;
constexpr int64_t kDramBufferBytes = int64_t{256} << 20;
constexpr int64_t kCacheBufferBytes = int64_t{8} << 20;
constexpr int64_t kSweepBlock = 512;  // bytes one iteration of a read kernel takes

// A value no compiler can see through, so that a product of constants is
// neither hoisted out of its loop nor computed once for every chain.
template <typename T>
inline void Opaque(T& value) {
  asm volatile("" : "+r"(value));
}

// Each kernel runs `reps` iterations and returns a value that depends on all of
// them, which the caller keeps.
using ComputeKernel = double (*)(int64_t reps);
using ReadKernel = double (*)(const uint8_t* data, int64_t bytes, int64_t sweeps);

// Lanes are summed through memory: GCC 12 warns falsely inside _mm512_reduce_* (its bug 105593).
template <typename Lane, size_t kLanes>
double SumLanes(const Lane (&lanes)[kLanes]) {
  double sum = 0;
  for (Lane lane : lanes) sum += static_cast<double>(lane);
  return sum;
}

// kChains independent FMA chains on vectors of V; inlined into each ISA's
// target function, which decides the instructions.
template <typename V>
__attribute__((always_inline)) inline double Fp32FmaChains(int64_t reps) {
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = V{} + 0.001f * i;
  const V scale = V{} + 0.999f, add = V{} + 0.001f;
  for (int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * scale + add;
  }
  for (int i = 1; i < kChains; ++i) acc[0] += acc[i];
  float lanes[sizeof(V) / sizeof(float)];
  std::memcpy(lanes, &acc[0], sizeof(lanes));
  return SumLanes(lanes);
}

using Float16Lanes = float __attribute__((vector_size(64)));
using Float8Lanes = float __attribute__((vector_size(32)));
using Float4Lanes = float __attribute__((vector_size(16)));

#if defined(NEEDLE_ROOFLINE_X86)
__attribute__((target("avx512f"))) double Fp32Avx512(int64_t reps) { return Fp32FmaChains<Float16Lanes>(reps); }
__attribute__((target("avx2,fma"))) double Fp32Avx2(int64_t reps) { return Fp32FmaChains<Float8Lanes>(reps); }

// The bf16 and int8 kernels are one inline-assembly block per iteration over
// twelve (eight for AVX2) named accumulators: with the intrinsics, GCC 12 copies
// every accumulator once per instruction or keeps them in memory, which
// halved the measured rate. kChains must stay 12 for these.
#define NEEDLE_FOR_12(X) X("0") X("1") X("2") X("3") X("4") X("5") X("6") X("7") X("8") X("9") X("10") X("11")
#define NEEDLE_FOR_8(X) X("0") X("1") X("2") X("3") X("4") X("5") X("6") X("7")
#define NEEDLE_CHAINS_12(C) C(c0), C(c1), C(c2), C(c3), C(c4), C(c5), C(c6), C(c7), C(c8), C(c9), C(c10), C(c11)
#define NEEDLE_CHAINS_8(C) C(c0), C(c1), C(c2), C(c3), C(c4), C(c5), C(c6), C(c7)
#define NEEDLE_DPBF16(n) "vdpbf16ps %[b], %[a], %" n "\n\t"
#define NEEDLE_DPBUSD(n) "vpdpbusd %[s8], %[u8], %" n "\n\t"
// u8 x s8 pairs summed to int16 (vpmaddubsw), pairs of those to int32 (vpmaddwd by ones), accumulated.
#define NEEDLE_MADDUBS(n)                    \
  "vpmaddubsw %[s8], %[u8], %[pairs]\n\t"    \
  "vpmaddwd %[ones], %[pairs], %[pairs]\n\t" \
  "vpaddd %[pairs], %" n ", %" n "\n\t"

__attribute__((target("avx512f,avx512bf16"))) double Bf16Avx512(int64_t reps) {
  __m512 c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;
  c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = _mm512_set1_ps(0.001f);
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.25f), _mm512_set1_ps(0.25f));
  for (int64_t r = 0; r < reps; ++r) {
    asm(NEEDLE_FOR_12(NEEDLE_DPBF16) : NEEDLE_CHAINS_12("+v") : [a] "v"(a), [b] "v"(b));
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                        _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))));
  _mm512_storeu_ps(
      lanes, _mm512_add_ps(_mm512_loadu_ps(lanes), _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11))));
  return SumLanes(lanes);
}

__attribute__((target("avx512f,avx512vnni"))) double Int8Vnni(int64_t reps) {
  __m512i c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;
  c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = _mm512_set1_epi32(1);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(3);
  for (int64_t r = 0; r < reps; ++r) {
    asm(NEEDLE_FOR_12(NEEDLE_DPBUSD) : NEEDLE_CHAINS_12("+v") : [u8] "v"(a), [s8] "v"(b));
  }
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                                              _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7))));
  _mm512_storeu_si512(lanes, _mm512_add_epi32(_mm512_loadu_si512(lanes),
                                              _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11))));
  return SumLanes(lanes);
}

// Eight accumulators, the three constants and the pairs fill 12 of the 16 registers.
constexpr int kAvx2Int8Chains = 8;
__attribute__((target("avx2"))) double Int8Avx2(int64_t reps) {
  __m256i c0, c1, c2, c3, c4, c5, c6, c7, pairs;
  c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = _mm256_set1_epi32(1);
  const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  for (int64_t r = 0; r < reps; ++r) {
    asm(NEEDLE_FOR_8(NEEDLE_MADDUBS)
        : NEEDLE_CHAINS_8("+x"), [pairs] "=&x"(pairs)
        : [u8] "x"(a), [s8] "x"(b), [ones] "x"(ones));
  }
  int32_t lanes[8];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes),
                      _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                                       _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7))));
  return SumLanes(lanes);
}
#undef NEEDLE_FOR_12
#undef NEEDLE_FOR_8
#undef NEEDLE_CHAINS_12
#undef NEEDLE_CHAINS_8
#undef NEEDLE_DPBF16
#undef NEEDLE_DPBUSD
#undef NEEDLE_MADDUBS

__attribute__((target("avx512f"))) double ReadAvx512(const uint8_t* data, int64_t bytes, int64_t sweeps) {
  __m512i acc[8];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  for (int64_t s = 0; s < sweeps; ++s) {
    asm volatile("" ::: "memory");  // every sweep reads the memory again
    for (int64_t offset = 0; offset < bytes; offset += kSweepBlock) {
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        acc[i] = _mm512_add_epi64(acc[i], _mm512_load_si512(data + offset + 64 * i));
      }
    }
  }
  for (int i = 1; i < 8; ++i) acc[0] = _mm512_add_epi64(acc[0], acc[i]);
  int64_t lanes[8];
  _mm512_storeu_si512(lanes, acc[0]);
  return SumLanes(lanes);
}

__attribute__((target("avx2"))) double ReadAvx2(const uint8_t* data, int64_t bytes, int64_t sweeps) {
  __m256i acc[8];
  for (__m256i& a : acc) a = _mm256_setzero_si256();
  for (int64_t s = 0; s < sweeps; ++s) {
    asm volatile("" ::: "memory");
    for (int64_t offset = 0; offset < bytes; offset += kSweepBlock / 2) {
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        acc[i] = _mm256_add_epi64(acc[i], _mm256_load_si256(reinterpret_cast<const __m256i*>(data + offset + 32 * i)));
      }
    }
  }
  for (int i = 1; i < 8; ++i) acc[0] = _mm256_add_epi64(acc[0], acc[i]);
  int64_t lanes[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), acc[0]);
  return SumLanes(lanes);
}
#endif  // NEEDLE_ROOFLINE_X86

#if defined(NEEDLE_ROOFLINE_NEON)
double Fp32Neon(int64_t reps) { return Fp32FmaChains<Float4Lanes>(reps); }

__attribute__((target("arch=armv8.2-a+dotprod"))) double Int8NeonDot(int64_t reps) {
  int32x4_t acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = vdupq_n_s32(i);
  const int8x16_t a = vdupq_n_s8(1), b = vdupq_n_s8(3);
  for (int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = vdotq_s32(acc[i], a, b);
  }
  for (int i = 1; i < kChains; ++i) acc[0] = vaddq_s32(acc[0], acc[i]);
  return vaddvq_s32(acc[0]);
}

// Without SDOT: the widening multiply-accumulate, 8 int8 products into int16
// lanes per instruction (wrapping, which costs nothing here).
double Int8NeonWiden(int64_t reps) {
  int16x8_t acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = vdupq_n_s16(i);
  const int8x8_t a = vdup_n_s8(1), b = vdup_n_s8(3);
  for (int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = vmlal_s8(acc[i], a, b);
  }
  for (int i = 1; i < kChains; ++i) acc[0] = vaddq_s16(acc[0], acc[i]);
  return vaddvq_s16(acc[0]);
}

double ReadNeon(const uint8_t* data, int64_t bytes, int64_t sweeps) {
  uint64x2_t acc[8];
  for (uint64x2_t& a : acc) a = vdupq_n_u64(0);
  for (int64_t s = 0; s < sweeps; ++s) {
    asm volatile("" ::: "memory");
    for (int64_t offset = 0; offset < bytes; offset += 128) {
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        acc[i] = vaddq_u64(acc[i], vld1q_u64(reinterpret_cast<const uint64_t*>(data + offset + 16 * i)));
      }
    }
  }
  for (int i = 1; i < 8; ++i) acc[0] = vaddq_u64(acc[0], acc[i]);
  return static_cast<double>(vaddvq_u64(acc[0]));
}
#endif  // NEEDLE_ROOFLINE_NEON

double Fp32Scalar(int64_t reps) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 0.001f * i;
  for (int64_t r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.999f + 0.001f;
  }
  double sum = 0;
  for (float a : acc) sum += a;
  return sum;
}

double Int8Scalar(int64_t reps) {
  int32_t acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = i;
  int8_t a = 1;
  const int8_t b = 3;
  for (int64_t r = 0; r < reps; ++r) {
    Opaque(a);
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] += static_cast<int32_t>(a) * b;
  }
  double sum = 0;
  for (int32_t v : acc) sum += v;
  return sum;
}

double ReadScalar(const uint8_t* data, int64_t bytes, int64_t sweeps) {
  uint64_t acc[8] = {};
  for (int64_t s = 0; s < sweeps; ++s) {
    asm volatile("" ::: "memory");
    for (int64_t offset = 0; offset < bytes; offset += 64) {
      const uint64_t* words = reinterpret_cast<const uint64_t*>(data + offset);
      for (int i = 0; i < 8; ++i) acc[i] += words[i];
    }
  }
  uint64_t sum = 0;
  for (uint64_t a : acc) sum += a;
  return static_cast<double>(sum);
}

// The kernels this CPU runs best, with the operations one iteration does.
struct Kernels {
  ComputeKernel fp32 = Fp32Scalar;
  double fp32_ops = 2.0 * kChains;
  std::string fp32_isa = "scalar";
  ComputeKernel bf16 = nullptr;  // none: no bf16 instructions
  double bf16_ops = 0;
  ComputeKernel int8 = Int8Scalar;
  double int8_ops = 2.0 * kChains;
  std::string int8_isa = "scalar";
  ReadKernel read = ReadScalar;
};

Kernels BestKernels() {
  Kernels k;
  [[maybe_unused]] const CpuFeatures& cpu = HostCpu();
#if defined(NEEDLE_ROOFLINE_X86)
  if (cpu.avx512f) {
    k.fp32 = Fp32Avx512, k.fp32_ops = 2.0 * kChains * 16, k.fp32_isa = "avx512";
    k.read = ReadAvx512;
  } else if (cpu.avx2 && cpu.fma) {
    k.fp32 = Fp32Avx2, k.fp32_ops = 2.0 * kChains * 8, k.fp32_isa = "avx2";
  }
  if (!cpu.avx512f && cpu.avx2) k.read = ReadAvx2;
  if (cpu.avx512bf16) k.bf16 = Bf16Avx512, k.bf16_ops = 2.0 * kChains * 32;  // 16 lanes x 2 pairs
  if (cpu.avx512f && cpu.avx512vnni) {
    k.int8 = Int8Vnni, k.int8_ops = 2.0 * kChains * 64, k.int8_isa = "avx512vnni";
  } else if (cpu.avx2) {
    k.int8 = Int8Avx2, k.int8_ops = 2.0 * kAvx2Int8Chains * 32, k.int8_isa = "avx2";
  }
#elif defined(NEEDLE_ROOFLINE_NEON)
  k.fp32 = Fp32Neon, k.fp32_ops = 2.0 * kChains * 4, k.fp32_isa = "neon";
  k.read = ReadNeon;
  if (cpu.neon_dot) {
    k.int8 = Int8NeonDot, k.int8_ops = 2.0 * kChains * 16, k.int8_isa = "neon-sdot";
  } else {
    k.int8 = Int8NeonWiden, k.int8_ops = 2.0 * kChains * 8, k.int8_isa = "neon-smlal";
  }
#endif
  return k;
}

// Keeps every kernel's result alive, so that no run is optimised away.
std::atomic<double> g_sink{0};

// Seconds for every thread to run body(thread, reps), started together.
double TimeOnThreads(int threads, int64_t reps, const std::function<double(int, int64_t)>& body) {
  std::vector<std::thread> workers;
  std::vector<double> results(threads, 0);
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { results[t] = body(t, reps); });
  for (std::thread& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (double result : results)
    g_sink.store(g_sink.load(std::memory_order_relaxed) + result, std::memory_order_relaxed);
  return seconds;
}

// Work per second of `threads` threads each doing `work_per_rep` per rep:
// reps doubled until a run takes kMinRunSeconds, then the best of kRuns runs.
double BestRate(int threads, double work_per_rep, const std::function<double(int, int64_t)>& body) {
  int64_t reps = 1;
  double seconds = TimeOnThreads(threads, reps, body);
  while (seconds < kMinRunSeconds / 4) {
    reps *= 2;
    seconds = TimeOnThreads(threads, reps, body);
  }
  reps = std::max<int64_t>(1, static_cast<int64_t>(reps * kMinRunSeconds / seconds));
  double best = 0;
  for (int run = 0; run < kRuns; ++run) {
    seconds = TimeOnThreads(threads, reps, body);
    best = std::max(best, threads * work_per_rep * reps / seconds);
  }
  return best;
}

double ComputeRate(int threads, ComputeKernel kernel, double ops_per_rep) {
  return BestRate(threads, ops_per_rep, [kernel](int, int64_t reps) { return kernel(reps); });
}

// Read bytes per second over `total_bytes` split between the threads, each
// slice allocated here and first written by its own thread; 0 when the
// memory cannot be had.
double ReadRate(int threads, ReadKernel kernel, int64_t total_bytes) {
  const int64_t slice = std::max<int64_t>(kSweepBlock, total_bytes / threads / kSweepBlock * kSweepBlock);
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<uint8_t, Free>> slices;
  for (int t = 0; t < threads; ++t) slices.emplace_back(static_cast<uint8_t*>(std::aligned_alloc(64, slice)));
  if (std::any_of(slices.begin(), slices.end(), [](const auto& p) { return p == nullptr; })) return 0;
  TimeOnThreads(threads, 1, [&](int t, int64_t) {
    std::memset(slices[t].get(), 1, slice);
    return 0.0;
  });
  return BestRate(threads, static_cast<double>(slice),
                  [&](int t, int64_t sweeps) { return kernel(slices[t].get(), slice, sweeps); });
}

int64_t CacheBufferBytes() {
  // Half the last-level cache leaves room for everything else in it; 8 MiB at most. The cache sizes are
  // a glibc extension of sysconf, and aarch64 kernels often do not report them: 4 MiB then.
  long last_level = 0;
#if defined(_SC_LEVEL3_CACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
  last_level = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (last_level <= 0) last_level = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  if (last_level <= 0) return int64_t{4} << 20;
  return std::min<int64_t>(kCacheBufferBytes, last_level / 2);
}

std::string Figure(double value) { return value >= 100 ? fmt::format("{:.0f}", value) : fmt::format("{:.1f}", value); }

}  // namespace

MachinePeak MeasurePeak(int threads) {
  threads = std::max(1, threads);
  const Kernels kernels = BestKernels();
  MachinePeak peak;
  peak.threads = threads;
  peak.fp32_isa = kernels.fp32_isa;
  peak.int8_isa = kernels.int8_isa;
  peak.fp32_flops = ComputeRate(threads, kernels.fp32, kernels.fp32_ops);
  peak.bf16_native = kernels.bf16 != nullptr;
  peak.bf16_flops = peak.bf16_native ? ComputeRate(threads, kernels.bf16, kernels.bf16_ops) : peak.fp32_flops;
  peak.int8_ops = ComputeRate(threads, kernels.int8, kernels.int8_ops);
  peak.dram_buffer_bytes = kDramBufferBytes;
  peak.dram_bytes_per_s = ReadRate(threads, kernels.read, kDramBufferBytes);
  peak.cache_buffer_bytes = CacheBufferBytes();
  peak.cache_bytes_per_s = ReadRate(threads, kernels.read, peak.cache_buffer_bytes);
  return peak;
}

double PeakFlopsFor(const MachinePeak& peak, std::string_view precision_name) {
  const absl::StatusOr<Precision> precision = ParsePrecision(precision_name);
  if (!precision.ok()) return peak.fp32_flops;  // a peer's own precision: its products are taken as fp32
  if (QuantizesActivations(*precision)) return peak.int8_ops;
  if (*precision == Precision::kBF16) return peak.bf16_flops;
  return peak.fp32_flops;
}

std::string DescribePeak(const MachinePeak& peak) {
  return fmt::format(
      "peak, {} thread{}{}: fp32 {} GFLOP/s ({}), bf16 {}{}, int8 {} GOP/s ({}); DRAM {} GB/s, L3 {} GB/s",
      peak.threads, peak.threads == 1 ? "" : "s", peak.cpu_mask.empty() ? "" : StrCat(" on CPUs ", peak.cpu_mask),
      Figure(peak.fp32_flops / 1e9), peak.fp32_isa, Figure(peak.bf16_flops / 1e9),
      peak.bf16_native ? "" : " (= fp32: no bf16 instructions)", Figure(peak.int8_ops / 1e9), peak.int8_isa,
      Figure(peak.dram_bytes_per_s / 1e9), Figure(peak.cache_bytes_per_s / 1e9));
}

absl::StatusOr<RowWork> WorkOf(const ModelConfig& config, std::string_view precision_name, int n_prompt, int n_gen,
                               int n_depth) {
  const absl::StatusOr<Precision> precision = ParsePrecision(precision_name);
  if (!precision.ok()) return precision.status();
  const double d = config.d_model, kv = config.kv_dim(), hd = config.head_dim(), vocab = config.vocab_size;
  const double le = config.num_encoder_layers, ld = config.num_decoder_layers;
  const double dd = static_cast<double>(PackedMatrixBytes(*precision, config.d_model, config.d_model));
  const double dkv = static_cast<double>(PackedMatrixBytes(*precision, config.d_model, config.kv_dim()));
  const double output = static_cast<double>(PackedMatrixBytes(*precision, config.d_model, config.vocab_size));

  RowWork work;
  if (n_prompt > 0) {
    const double n = n_prompt;
    work.flop += 2 * (le * n * (2 * d * d + 2 * d * kv) + le * 2 * n * n * d + ld * n * 2 * d * kv);
    const double norm_scales = le * (d + 2 * hd) + d + ld * hd;  // encoder norms, final norm, cross k_norm
    work.bytes += le * (2 * dd + 2 * dkv) + ld * 2 * dkv + n * d * 4 + norm_scales * 4;
  }
  if (n_gen > 0) {
    const double t = n_prompt > 0 ? n_prompt : n_depth, g = n_gen;
    // Positions attended to over the steps: 1 + 2 + ... + g.
    const double self_positions = g * (g + 1) / 2;
    work.flop +=
        2 * (g * ld * (4 * d * d + 2 * d * kv) + ld * 2 * d * self_positions + g * ld * 2 * d * t + g * d * vocab);
    const double norm_scales = ld * (2 * d + 3 * hd) + d;  // block norms, self q/k and cross q norms, final
    // The cross-attention K/V in the form the optimized engine keeps them at this precision.
    const double cross_kv_bytes = static_cast<double>(CrossKvBytesPerToken(*precision, config));
    const double per_step = ld * (4 * dd + 2 * dkv) + output + ld * t * cross_kv_bytes + d * 4 + norm_scales * 4;
    work.bytes += g * per_step + ld * 2 * kv * 4 * self_positions;
  }
  return work;
}

void FillRoofline(const ModelConfig& config, const MachinePeak& peak, Row& row) {
  absl::StatusOr<RowWork> work = WorkOf(config, row.precision, row.n_prompt, row.n_gen, row.n_depth);
  if (!work.ok()) return;
  row.work_flop = work->flop;
  row.work_bytes = work->bytes;
  row.peak_flops = PeakFlopsFor(peak, row.precision);
  row.peak_bytes_per_s = peak.dram_bytes_per_s;
}

}  // namespace needle::bench
