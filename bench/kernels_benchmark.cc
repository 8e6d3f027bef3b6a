// Throughput of the optimized engine's weight products (Google Benchmark).
//
//   build/release/bench/kernels_benchmark --benchmark_min_time=0.2
//
// One benchmark per instruction set this CPU has, weight type, row count
// (m = 1 is decode's GEMV, m = 1024 a full prefill's GEMM), shape of the 26M
// model (512x512 projections, 512x256 K/V, 512x8192 logits) and thread
// count; one decode step's products over distinct matrices (DecodeWeights), as
// a decode streams them; plus the reference engine's scalar product for comparison.
// Counters: GFLOP/s (2 flops per multiply-add; GOP/s for w8a8 and w4a8, whose
// multiply-adds are integer, quantising the activations included) and GB/s of
// packed weights. QuantizeRows times the w8a8 activation quantisation alone.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "needle/str_cat.h"
#include "optimized/attention.h"
#include "optimized/matmul.h"
#include "optimized/thread_pool.h"
#include "model/ops.h"

namespace needle::optimized {
namespace {

struct Shape {
  int in, out;
};
constexpr Shape kShapes[] = {{512, 512}, {512, 256}, {512, 8192}};

std::vector<float> RandomValues(size_t n) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// macs: multiply-adds per iteration; weight_bytes: bytes of weights read per iteration.
void SetCounters(benchmark::State& state, double macs, double weight_bytes, bool integer = false) {
  const double iterations = static_cast<double>(state.iterations());
  state.counters[integer ? "GOP/s" : "GFLOP/s"] =
      benchmark::Counter(2.0 * macs * iterations * 1e-9, benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(weight_bytes * iterations * 1e-9, benchmark::Counter::kIsRate);
}

void BM_MatMul(benchmark::State& state, Isa isa, WeightType type, int m, Shape shape, int threads) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("instruction set not available");
    return;
  }
  const IsaKernels& kernels = KernelsFor(isa);
  const std::vector<float> w = RandomValues(static_cast<size_t>(shape.in) * shape.out);
  const std::vector<float> x = RandomValues(static_cast<size_t>(m) * shape.in);
  std::vector<float> y(static_cast<size_t>(m) * shape.out);
  auto packed = PackedMatrix::Pack(w.data(), shape.in, shape.out, type);
  if (!packed.ok()) {
    state.SkipWithError(std::string(packed.status().message()).c_str());
    return;
  }
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    MatMul(kernels, x.data(), m, *packed, y.data(), pool.get());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, static_cast<double>(m) * shape.in * shape.out, static_cast<double>(packed->bytes()),
              QuantizesActivations(type));
}

void BM_QuantizeRows(benchmark::State& state, Isa isa, int m, int in) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("instruction set not available");
    return;
  }
  const IsaKernels& kernels = KernelsFor(isa);
  const std::vector<float> x = RandomValues(static_cast<size_t>(m) * in);
  QuantizedRows rows;
  for (auto _ : state) {
    rows.Quantize(kernels, x.data(), m, in, nullptr);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(x.size()) * sizeof(float) * state.iterations() * 1e-9,
                                              benchmark::Counter::kIsRate);
}

void BM_ReferenceMatMul(benchmark::State& state, int m, Shape shape) {
  const std::vector<float> w = RandomValues(static_cast<size_t>(shape.in) * shape.out);
  const std::vector<float> x = RandomValues(static_cast<size_t>(m) * shape.in);
  std::vector<float> y(static_cast<size_t>(m) * shape.out);
  for (auto _ : state) {
    model::MatMul(x.data(), m, shape.in, w.data(), shape.out, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, static_cast<double>(m) * shape.in * shape.out, static_cast<double>(w.size() * sizeof(float)));
}

// Every weight product of one decode step of the 26M model, each matrix its
// own: per decoder layer the self-attention's Q, K, V and output and the
// cross-attention's Q and output, then the logits (14.7 M weights). Unlike one
// MatMul repeated, whose panels stay in cache, the step's weights (11 MB at
// w4a8) stream from the last-level cache or memory as in a real decode.
void BM_DecodeWeights(benchmark::State& state, Isa isa, WeightType type, int threads) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("instruction set not available");
    return;
  }
  const IsaKernels& kernels = KernelsFor(isa);
  constexpr int kLayers = 8;
  constexpr Shape kLayerShapes[] = {{512, 512}, {512, 256}, {512, 256}, {512, 512}, {512, 512}, {512, 512}};
  std::vector<Shape> shapes;
  for (int l = 0; l < kLayers; ++l) shapes.insert(shapes.end(), std::begin(kLayerShapes), std::end(kLayerShapes));
  shapes.push_back({512, 8192});
  std::vector<PackedMatrix> matrices;
  double weights = 0, bytes = 0;
  for (Shape shape : shapes) {
    const std::vector<float> w = RandomValues(static_cast<size_t>(shape.in) * shape.out);
    absl::StatusOr<PackedMatrix> packed = PackedMatrix::Pack(w.data(), shape.in, shape.out, type);
    if (!packed.ok()) {
      state.SkipWithError(std::string(packed.status().message()).c_str());
      return;
    }
    weights += static_cast<double>(shape.in) * shape.out;
    bytes += static_cast<double>(packed->bytes());
    matrices.push_back(*std::move(packed));
  }
  const std::vector<float> x = RandomValues(512);
  std::vector<float> y(8192);
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    for (const PackedMatrix& m : matrices) MatMul(kernels, x.data(), 1, m, y.data(), pool.get());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, weights, bytes, QuantizesActivations(type));  // one row: a multiply-add per weight
}

// The encoder's self-attention at the 26M model's shape (8 heads, 4 KV heads,
// head_dim 64) over t tokens: with the projections in int8 it is half of a
// long prefill's multiply-adds. K/V in fp32, or in int8 as w8a8 and w4a8 keep
// them. Counter: GFLOP/s (GOP/s) of QK^T and PV.
template <typename T>
void BM_Attention(benchmark::State& state, Isa isa, int t, int threads) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("instruction set not available");
    return;
  }
  constexpr int kHeads = 8, kKvHeads = 4, kHeadDim = 64;
  const std::vector<float> q = RandomValues(static_cast<size_t>(t) * kHeads * kHeadDim);
  const std::vector<float> k = RandomValues(static_cast<size_t>(t) * kKvHeads * kHeadDim);
  const std::vector<float> v = RandomValues(k.size());
  const int stride = KeyStride(t);
  std::vector<T> key_t(static_cast<size_t>(kKvHeads) * kHeadDim * stride);
  std::vector<float> out(q.size());
  std::vector<int8_t> v_int8(v.size());
  std::vector<float> key_scales(static_cast<size_t>(kKvHeads) * stride), v_scales(key_scales.size());
  if constexpr (std::is_same_v<T, int8_t>) {
    QuantizeKeys(k.data(), 0, t, kKvHeads, kHeadDim, key_t.data(), key_scales.data(), stride);
    QuantizeValues(v.data(), t, kKvHeads, kHeadDim, v_int8.data(), v_scales.data(), stride);
  } else {
    TransposeKeys(k.data(), 0, t, kKvHeads, kHeadDim, key_t.data(), stride);
  }
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    if constexpr (std::is_same_v<T, int8_t>) {
      Attention(q.data(), t, KeysInt8{key_t.data(), key_scales.data(), stride},
                ValuesInt8{v_int8.data(), v_scales.data()}, t, kHeads, kKvHeads, kHeadDim, 0.125f, nullptr, out.data(),
                pool.get(), isa);
    } else {
      Attention(q.data(), t, KeysT{key_t.data(), stride}, v.data(), t, kHeads, kKvHeads, kHeadDim, 0.125f, nullptr,
                out.data(), pool.get(), isa);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      4.0 * t * t * kHeads * kHeadDim * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

// One decode step's cross-attention in `layer_count` decoder layers of the 26M
// model: one query position (8 heads) against 1024 encoder keys per layer, K/V in
// fp32, bf16 or int8 (as the engine keeps them per precision) and distinct per
// layer: one layer's sit in L2 (the kernel's arithmetic), all 8 layers' come
// from L3 or DRAM as in a real step. Counter: GB/s of K/V read (int8: with scales).
template <typename T>
void BM_DecodeCrossAttention(benchmark::State& state, Isa isa, int layer_count, int threads) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("instruction set not available");
    return;
  }
  constexpr int kHeads = 8, kKvHeads = 4, kHeadDim = 64, kKeys = 1024;
  constexpr size_t kKvValues = static_cast<size_t>(kKeys) * kKvHeads * kHeadDim;
  const int stride = KeyStride(kKeys);
  const std::vector<float> q = RandomValues(static_cast<size_t>(kHeads) * kHeadDim);
  std::vector<float> out(q.size());
  struct Layer {
    std::vector<T> key_t, v;
    std::vector<float> key_scales, value_scales;  // int8 only
  };
  std::vector<Layer> layers(layer_count);
  for (Layer& layer : layers) {
    const std::vector<float> k = RandomValues(kKvValues), values = RandomValues(kKvValues);
    layer.key_t.resize(static_cast<size_t>(kKvHeads) * kHeadDim * stride);
    if constexpr (std::is_same_v<T, int8_t>) {
      layer.v.resize(kKvValues);
      layer.key_scales.resize(static_cast<size_t>(kKvHeads) * stride);
      layer.value_scales.resize(layer.key_scales.size());
      QuantizeKeys(k.data(), 0, kKeys, kKvHeads, kHeadDim, layer.key_t.data(), layer.key_scales.data(), stride);
      QuantizeValues(values.data(), kKeys, kKvHeads, kHeadDim, layer.v.data(), layer.value_scales.data(), stride);
    } else {
      TransposeKeys(k.data(), 0, kKeys, kKvHeads, kHeadDim, layer.key_t.data(), stride);
      if constexpr (std::is_same_v<T, float>) {
        layer.v = values;
      } else {
        layer.v.resize(kKvValues);
        ToBf16(values.data(), kKvValues, layer.v.data());
      }
    }
  }
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    for (const Layer& layer : layers) {
      if constexpr (std::is_same_v<T, int8_t>) {
        Attention(q.data(), 1, KeysInt8{layer.key_t.data(), layer.key_scales.data(), stride},
                  ValuesInt8{layer.v.data(), layer.value_scales.data()}, kKeys, kHeads, kKvHeads, kHeadDim, 0.125f,
                  nullptr, out.data(), pool.get(), isa);
      } else {
        using Keys = std::conditional_t<std::is_same_v<T, float>, KeysT, KeysBf16>;
        Attention(q.data(), 1, Keys{layer.key_t.data(), stride}, layer.v.data(), kKeys, kHeads, kKvHeads, kHeadDim,
                  0.125f, nullptr, out.data(), pool.get(), isa);
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double bytes = 2.0 * kKvValues * sizeof(T) + (std::is_same_v<T, int8_t> ? 2.0 * kKeys * kKvHeads * 4 : 0.0);
  state.counters["GB/s"] = benchmark::Counter(layer_count * bytes * static_cast<double>(state.iterations()) * 1e-9,
                                              benchmark::Counter::kIsRate);
}

// The fixed cost of one ParallelFor with an empty body: what every product
// split across the pool pays.
void BM_ParallelForOverhead(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    pool.ParallelFor(64, 1, [](int begin, int end) { benchmark::DoNotOptimize(begin + end); });
  }
}
BENCHMARK(BM_ParallelForOverhead)->Arg(2);

void RegisterAll() {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot}) {
    if (!IsaSupported(isa)) continue;
    const std::string name = StrCat("QuantizeRows/", IsaName(isa), "/m:1024/512");
    benchmark::RegisterBenchmark(name.c_str(), BM_QuantizeRows, isa, 1024, 512)->Unit(benchmark::kMicrosecond);
    for (WeightType type : {WeightType::kF32, WeightType::kBF16, WeightType::kInt8, WeightType::kInt4,
                            WeightType::kW8A8, WeightType::kW4A8}) {
      for (int m : {1, 1024}) {
        for (Shape shape : kShapes) {
          // The scalar fallback's prefill logits take seconds per product.
          if (isa == Isa::kScalar && m > 1 && shape.out > 512) continue;
          for (int threads : {1, 2}) {
            const std::string name = StrCat("MatMul/", IsaName(isa), "/", PrecisionName(type), "/m:", m, "/", shape.in,
                                            "x", shape.out, "/threads:", threads);
            benchmark::RegisterBenchmark(name.c_str(), BM_MatMul, isa, type, m, shape, threads)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
          }
        }
      }
    }
  }
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot}) {
    if (!IsaSupported(isa)) continue;
    for (WeightType type : {WeightType::kF32, WeightType::kBF16, WeightType::kInt8, WeightType::kInt4,
                            WeightType::kW8A8, WeightType::kW4A8}) {
      for (int threads : {1, 2}) {
        const std::string name =
            StrCat("DecodeWeights/", IsaName(isa), "/", PrecisionName(type), "/26m/threads:", threads);
        benchmark::RegisterBenchmark(name.c_str(), BM_DecodeWeights, isa, type, threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon}) {
    if (!IsaSupported(isa)) continue;
    for (int threads : {1, 2}) {
      const std::string name = StrCat("Attention/", IsaName(isa), "/t:1024/threads:", threads);
      benchmark::RegisterBenchmark(name.c_str(), BM_Attention<float>, isa, 1024, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark((name + "/int8").c_str(), BM_Attention<int8_t>, isa, 1024, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      for (int layer_count : {1, 8}) {
        const std::string decode =
            StrCat("DecodeCrossAttention/", IsaName(isa), "/", layer_count, "x1024/threads:", threads);
        benchmark::RegisterBenchmark((decode + "/fp32").c_str(), BM_DecodeCrossAttention<float>, isa, layer_count,
                                     threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark((decode + "/bf16").c_str(), BM_DecodeCrossAttention<uint16_t>, isa, layer_count,
                                     threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark((decode + "/int8").c_str(), BM_DecodeCrossAttention<int8_t>, isa, layer_count,
                                     threads)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
  for (Shape shape : kShapes) {
    for (int m : {1, 1024}) {
      if (m > 1 && shape.out > 512) continue;
      const std::string name = StrCat("ReferenceMatMul/m:", m, "/", shape.in, "x", shape.out);
      benchmark::RegisterBenchmark(name.c_str(), BM_ReferenceMatMul, m, shape)->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace
}  // namespace needle::optimized

int main(int argc, char** argv) {
  needle::optimized::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
