// Prefill and decode throughput of a Needle engine (Google Benchmark).
//
//   NEEDLE_BENCH_MODEL=model.safetensors [NEEDLE_BENCH_ENGINE=reference|optimized]
//   [NEEDLE_BENCH_PRECISION=fp32|bf16|int8|int4|w8a8|w4a8] [NEEDLE_BENCH_THREADS=0 (all cores)]
//   build/release/bench/engine_benchmark --benchmark_repetitions=5
//
// items_per_second is tokens per second. Prefill counts encoder tokens; decode
// counts generated tokens after a prefill of the given length, as llama-bench's
// tg test does (a fixed number of steps, EOS ignored).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "needle/engine.h"
#include "needle/weights.h"

namespace {

const needle::Engine& SharedEngine() {
  static const std::unique_ptr<needle::Engine> engine = [] {
    const char* model = std::getenv("NEEDLE_BENCH_MODEL");
    const char* name = std::getenv("NEEDLE_BENCH_ENGINE");
    if (model == nullptr) {
      std::fprintf(stderr,
                   "set NEEDLE_BENCH_MODEL to a checkpoint, e.g. one made with\n"
                   "  python3 python/needle_convert.py random /tmp/needle-26m.safetensors --config 26m\n");
      std::exit(2);
    }
    auto weights = needle::ModelWeights::Load(model);
    if (!weights.ok()) {
      std::fprintf(stderr, "%s\n", std::string(weights.status().message()).c_str());
      std::exit(2);
    }
    needle::EngineOptions options;
    if (const char* precision = std::getenv("NEEDLE_BENCH_PRECISION")) options.precision = precision;
    if (const char* threads = std::getenv("NEEDLE_BENCH_THREADS")) options.threads = std::atoi(threads);
    auto created = needle::CreateEngine(name != nullptr ? name : "reference", *std::move(weights), options);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", std::string(created.status().message()).c_str());
      std::exit(2);
    }
    return *std::move(created);
  }();
  return *engine;
}

// "optimized fp32 2t": what the numbers were measured with.
std::string Label(const needle::Engine& engine) {
  const char* precision = std::getenv("NEEDLE_BENCH_PRECISION");
  const char* threads = std::getenv("NEEDLE_BENCH_THREADS");
  return std::string(engine.name()) + " " + (precision != nullptr ? precision : "fp32") + " " +
         (threads != nullptr ? threads : "all") + "t";
}

std::vector<int32_t> RandomTokens(int count, int vocab_size) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> id(6, vocab_size - 1);  // skip the special ids
  std::vector<int32_t> tokens(count);
  for (int32_t& token : tokens) token = id(rng);
  return tokens;
}

void BM_Prefill(benchmark::State& state) {
  const needle::Engine& engine = SharedEngine();
  const std::vector<int32_t> tokens = RandomTokens(state.range(0), engine.config().vocab_size);
  std::unique_ptr<needle::Session> session = engine.NewSession();
  for (auto _ : state) {
    if (!session->Prefill(tokens).ok()) state.SkipWithError("prefill failed");
  }
  state.SetItemsProcessed(state.iterations() * tokens.size());
  state.SetLabel(Label(engine));
}

void BM_Decode(benchmark::State& state) {
  const needle::Engine& engine = SharedEngine();
  const std::vector<int32_t> prompt = RandomTokens(state.range(0), engine.config().vocab_size);
  const std::vector<int32_t> generated = RandomTokens(state.range(1), engine.config().vocab_size);
  std::unique_ptr<needle::Session> session = engine.NewSession();
  for (auto _ : state) {
    state.PauseTiming();
    if (!session->Prefill(prompt).ok()) state.SkipWithError("prefill failed");
    state.ResumeTiming();
    for (int32_t token : generated) benchmark::DoNotOptimize(session->Decode(token));
  }
  state.SetItemsProcessed(state.iterations() * generated.size());
  state.SetLabel(Label(engine));
}

BENCHMARK(BM_Prefill)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decode)->Args({64, 100})->Args({1024, 100})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
