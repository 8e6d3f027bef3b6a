#include "needle/bench/runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "needle/config.h"
#include "needle/json.h"
#include "needle/str_cat.h"
#include "needle/subprocess.h"
#include "needle/tokenizer.h"
#include "needle/weights.h"

namespace needle::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int32_t kFirstOrdinaryId = kToolsId + 1;  // ids below are special tokens
constexpr uint32_t kPromptSeed = 1234;

int64_t Nanoseconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

int32_t ArgMax(absl::Span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

struct Timing {
  int64_t timed_ns = 0;
  double ttft_ms = 0;
};

absl::StatusOr<Timing> RunOnce(const Engine& engine, const TestSpec& spec, const std::vector<int32_t>& prompt) {
  std::unique_ptr<Session> session = engine.NewSession();
  const Clock::time_point start = Clock::now();
  if (absl::Status status = session->Prefill(prompt); !status.ok()) return status;
  const Clock::time_point prefilled = Clock::now();
  Clock::time_point first_token = prefilled;
  int32_t token = kEosId;  // the decoder's start token, as in generation
  for (int step = 0; step < std::max(spec.n_gen, 1); ++step) {
    absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
    if (!logits.ok()) return logits.status();
    token = ArgMax(*logits);
    if (step == 0) first_token = Clock::now();
  }
  const Clock::time_point end = Clock::now();

  Timing timing;
  if (spec.n_prompt > 0 && spec.n_gen > 0) {
    timing.timed_ns = Nanoseconds(start, end);
  } else if (spec.n_prompt > 0) {
    timing.timed_ns = Nanoseconds(start, prefilled);
  } else {
    timing.timed_ns = Nanoseconds(prefilled, end);
  }
  timing.ttft_ms = Nanoseconds(start, first_token) / 1e6;
  return timing;
}

// The row's settings and test fields, before any sample.
Row RowFor(const TestSpec& spec, int warmup, int repetitions) {
  Row row;
  row.engine = spec.engine;
  row.precision = spec.precision;
  row.n_threads = spec.threads;
  row.test = spec.TestName();
  row.n_prompt = spec.n_prompt;
  row.n_gen = spec.n_gen;
  row.n_depth = spec.n_prompt > 0 ? 0 : spec.n_depth;
  row.repetitions = repetitions;
  row.warmup = warmup;
  return row;
}

double TokensPerSecond(const TestSpec& spec, int64_t ns) {
  const int64_t tokens = static_cast<int64_t>(spec.n_prompt) + spec.n_gen;
  return tokens / (std::max<int64_t>(ns, 1) / 1e9);
}

template <typename T>
absl::StatusOr<T> PeerField(const nlohmann::json& reply, const char* key) {
  const auto it = reply.find(key);
  if (it == reply.end()) return absl::InvalidArgumentError(StrCat("its reply has no \"", key, "\""));
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(StrCat("its \"", key, "\" has the wrong type: ", it->dump()));
  }
}

// Pins the calling thread to each test's CPU mask, and back to the affinity
// it had for tests without one. Engines start their threads after pinning,
// and peers are started after it, so both inherit the mask.
class Pinning {
 public:
  absl::Status Pin(const std::string& mask) {
    if (mask == current_) return absl::OkStatus();
    if (!original_.has_value()) {
      absl::StatusOr<std::vector<int>> cpus = CurrentCpus();
      if (!cpus.ok()) return cpus.status();
      original_ = *std::move(cpus);
    }
    absl::Status pinned = mask.empty() ? SetCpus(*original_) : SetCpuMask(mask);
    if (pinned.ok()) current_ = mask;
    return pinned;
  }

 private:
  std::string current_;
  std::optional<std::vector<int>> original_;
};

// Sleeps `seconds`, asking `stop` every 100 ms; false when stopped.
bool Delay(double seconds, const std::function<bool()>& stop) {
  const Clock::time_point end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    if (stop && stop()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(100), end - Clock::now()));
  }
  return true;
}

std::string ModelType(const ModelConfig& c) {
  return fmt::format("needle d{} h{}/{} L{}+{} v{}", c.d_model, c.num_heads, c.num_kv_heads, c.num_encoder_layers,
                     c.num_decoder_layers, c.vocab_size);
}

}  // namespace

std::vector<int32_t> PromptTokens(int count, int vocab_size, uint32_t seed) {
  // splitmix64: std::uniform_int_distribution differs between standard libraries.
  uint64_t state = seed;
  const uint64_t range = vocab_size > kFirstOrdinaryId ? vocab_size - kFirstOrdinaryId : 1;
  std::vector<int32_t> tokens(count);
  for (int32_t& token : tokens) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    token = kFirstOrdinaryId + static_cast<int32_t>(z % range);
  }
  return tokens;
}

absl::StatusOr<Row> RunTest(const Engine& engine, const TestSpec& spec, int warmup, int repetitions,
                            const ProgressFn& progress, const std::function<bool()>& stop, bool verbose) {
  const ModelConfig& config = engine.config();
  if (config.vocab_size <= kFirstOrdinaryId) {
    return absl::InvalidArgumentError(StrCat("vocab_size ", config.vocab_size, " leaves no ordinary token ids"));
  }
  const int prefill = spec.n_prompt > 0 ? spec.n_prompt : spec.n_depth;
  if (prefill <= 0 || (spec.n_prompt <= 0 && spec.n_gen <= 0) || repetitions < 1 || warmup < 0) {
    return absl::InvalidArgumentError(StrCat("test ", spec.TestName(), ": nothing to time"));
  }
  const std::vector<int32_t> prompt = PromptTokens(prefill, config.vocab_size, kPromptSeed);

  Row row = RowFor(spec, warmup, repetitions);
  row.engine = std::string(engine.name());
  row.isa = engine.info().isa;  // empty for an engine without per-ISA kernels

  for (int run = 0; run < warmup + repetitions; ++run) {
    if (stop && stop()) {
      return absl::CancelledError(
          StrCat("stopped after ", std::max(0, run - warmup), " of ", repetitions, " repetitions"));
    }
    const std::string name = run < warmup ? StrCat("warm-up ", run + 1, "/", warmup)
                                          : StrCat("repetition ", run - warmup + 1, "/", repetitions);
    if (progress && !verbose) progress(name);
    absl::StatusOr<Timing> timing = RunOnce(engine, spec, prompt);
    if (!timing.ok()) return timing.status();
    if (progress && verbose) {
      progress(fmt::format("{}: {:.3f} ms timed, {:.2f} t/s, TTFT {:.3f} ms", name, timing->timed_ns / 1e6,
                           TokensPerSecond(spec, timing->timed_ns), timing->ttft_ms));
    }
    if (run < warmup) continue;
    row.samples_ns.push_back(timing->timed_ns);
    row.samples_ts.push_back(TokensPerSecond(spec, timing->timed_ns));
    row.samples_ttft_ms.push_back(timing->ttft_ms);
  }
  Summarize(row);
  return row;
}

absl::StatusOr<Row> RunPeerTest(const Peer& peer, const TestSpec& spec, int warmup, int repetitions,
                                std::chrono::seconds timeout, const ProgressFn& log) {
  std::vector<std::string> argv = peer.command;
  const std::vector<std::string> flags = {"--model",       spec.model,
                                          "--threads",     std::to_string(spec.threads),
                                          "--precision",   spec.precision,
                                          "--n-prompt",    std::to_string(spec.n_prompt),
                                          "--n-gen",       std::to_string(spec.n_gen),
                                          "--n-depth",     std::to_string(spec.n_prompt > 0 ? 0 : spec.n_depth),
                                          "--repetitions", std::to_string(repetitions),
                                          "--warmup",      std::to_string(warmup)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string who = StrCat("peer ", peer.name);
  if (log) log(StrCat("running ", ShellJoin(argv)));
  absl::StatusOr<CommandResult> result = RunCommand(argv, timeout);
  if (!result.ok())
    return absl::Status(result.status().code(), StrCat(who, ": ", std::string(result.status().message())));
  if (!result->Succeeded()) return absl::InternalError(StrCat(who, " ", result->Describe()));
  const nlohmann::json reply = ParseJson(result->out).value_or(nlohmann::json(nlohmann::json::value_t::discarded));
  const auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(StrCat(who, " (", ShellJoin(argv), "): ", why));
  };
  if (reply.is_discarded() || !reply.is_object()) return invalid("its stdout is not one JSON object");

  Row row = RowFor(spec, warmup, repetitions);
  absl::StatusOr<std::string> runtime = PeerField<std::string>(reply, "runtime");
  absl::StatusOr<std::string> engine = PeerField<std::string>(reply, "engine");
  absl::StatusOr<std::string> precision = PeerField<std::string>(reply, "precision");
  absl::StatusOr<std::vector<int64_t>> samples_ns = PeerField<std::vector<int64_t>>(reply, "samples_ns");
  absl::StatusOr<std::vector<double>> ttft = PeerField<std::vector<double>>(reply, "samples_ttft_ms");
  absl::StatusOr<int64_t> rss = PeerField<int64_t>(reply, "peak_rss_bytes");
  for (const absl::Status& status :
       {runtime.status(), engine.status(), precision.status(), samples_ns.status(), ttft.status(), rss.status()}) {
    if (!status.ok()) return invalid(std::string(status.message()));
  }
  if (*precision != spec.precision) return invalid(StrCat("it ran ", *precision, ", not ", spec.precision));
  if (samples_ns->size() != static_cast<size_t>(repetitions) || ttft->size() != samples_ns->size()) {
    return invalid(StrCat("it reported ", samples_ns->size(), " times and ", ttft->size(), " TTFTs for ", repetitions,
                          " repetitions"));
  }
  if (std::any_of(samples_ns->begin(), samples_ns->end(), [](int64_t ns) { return ns <= 0; })) {
    return invalid("a time is not positive");
  }
  row.runtime = *runtime;
  row.engine = *engine;
  if (const auto isa = reply.find("isa"); isa != reply.end() && isa->is_string()) row.isa = isa->get<std::string>();
  row.samples_ns = *samples_ns;
  for (int64_t ns : row.samples_ns) row.samples_ts.push_back(TokensPerSecond(spec, ns));
  row.samples_ttft_ms = *ttft;
  row.peak_rss_bytes = *rss;
  Summarize(row);
  return row;
}

absl::StatusOr<std::vector<MachinePeak>> MeasurePlanPeaks(const Plan& plan, const ProgressFn& progress) {
  std::vector<std::pair<int, std::string>> settings;  // (threads, CPU mask)
  for (const TestSpec& spec : plan.tests) settings.emplace_back(spec.threads, spec.cpu_mask);
  std::sort(settings.begin(), settings.end());
  settings.erase(std::unique(settings.begin(), settings.end()), settings.end());
  Pinning pinning;
  std::vector<MachinePeak> peaks;
  for (const auto& [threads, mask] : settings) {
    if (absl::Status pinned = pinning.Pin(mask); !pinned.ok()) return pinned;
    if (progress) {
      progress(StrCat("measuring the machine's peaks on ", threads, " thread", threads == 1 ? "" : "s",
                      mask.empty() ? "" : StrCat(" (CPUs ", mask, ")")));
    }
    peaks.push_back(MeasurePeak(threads));
    peaks.back().cpu_mask = mask;
  }
  if (absl::Status restored = pinning.Pin(""); !restored.ok()) return restored;
  return peaks;
}

absl::StatusOr<double> EstimatePlanSeconds(const Params& params, const Plan& plan) {
  // Least-work rates per thread, from the 26M model on a 2.5 GHz Xeon
  // (reports/bench/xeon-2core-26m.md): the reference engine's scalar loops,
  // the optimized engine's kernels; decode is mostly memory and overhead, far
  // below the prefill rate and gains less from threads (modelled as their
  // square root). Peers start an interpreter for every row.
  constexpr double kReferenceFlops = 1.2e9, kReferenceDecodeFlops = 1.0e9;
  constexpr double kOptimizedFlops = 20e9, kOptimizedDecodeFlops = 5e9;
  constexpr double kEngineSetupSeconds = 0.5, kPeerStartSeconds = 3;
  std::map<std::string, ModelConfig> configs;
  double seconds = 0;
  std::string instance;
  for (size_t i = 0; i < plan.tests.size(); ++i) {
    const TestSpec& spec = plan.tests[i];
    if (configs.count(spec.model) == 0) {
      absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::Load(spec.model);
      if (!weights.ok()) return weights.status();
      configs[spec.model] = (*weights)->config();
    }
    const ModelConfig& config = configs.at(spec.model);
    const bool reference = spec.peer < 0 && spec.engine == "reference";
    const double threads = reference ? 1 : spec.threads;
    const double prefill_rate = (reference ? kReferenceFlops : kOptimizedFlops) * threads;
    const double decode_rate = (reference ? kReferenceDecodeFlops : kOptimizedDecodeFlops) * std::sqrt(threads);
    // Each run: its prefill (the untimed one of a generation test too), then at least one decode step.
    const int prefill = spec.n_prompt > 0 ? spec.n_prompt : spec.n_depth;
    absl::StatusOr<RowWork> prefill_work = WorkOf(config, "fp32", prefill, 0, 0);
    absl::StatusOr<RowWork> decode_work = WorkOf(config, "fp32", 0, std::max(spec.n_gen, 1), prefill);
    if (!prefill_work.ok()) return prefill_work.status();
    if (!decode_work.ok()) return decode_work.status();
    const double run = prefill_work->flop / prefill_rate + decode_work->flop / decode_rate;
    seconds += run * (params.warmup + params.repetitions);
    const std::string key =
        StrCat(spec.model, "\n", spec.engine, "\n", spec.precision, "\n", spec.threads, "\n", spec.cpu_mask);
    if (spec.peer >= 0) seconds += kPeerStartSeconds;
    if (key != instance) seconds += kEngineSetupSeconds;
    instance = key;
    if (i > 0) seconds += params.delay_seconds;
  }
  return seconds;
}

absl::StatusOr<PlanResult> RunPlan(const Params& params, const Plan& plan, const SystemInfo& system,
                                   const ProgressFn& progress, const std::vector<MachinePeak>& peaks) {
  RunHooks hooks;
  hooks.progress = progress;
  return RunPlan(params, plan, system, hooks, peaks);
}

absl::StatusOr<PlanResult> RunPlan(const Params& params, const Plan& plan, const SystemInfo& system,
                                   const RunHooks& hooks, const std::vector<MachinePeak>& peaks) {
  struct Model {
    std::shared_ptr<const ModelWeights> weights;
    int64_t size = 0;
  };
  // Every file is checked before anything runs: a bad path should not surface after an hour of measuring.
  std::map<std::string, Model> models;
  for (const TestSpec& spec : plan.tests) {
    if (models.count(spec.model) != 0) continue;
    absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::Load(spec.model);
    if (!weights.ok()) return weights.status();
    std::error_code error;
    const auto size = std::filesystem::file_size(spec.model, error);
    models[spec.model] = {*std::move(weights), error ? -1 : static_cast<int64_t>(size)};
  }

  const ProgressFn& progress = hooks.progress;
  const auto stopped = [&] { return hooks.stop && hooks.stop(); };
  PlanResult result;
  const auto keep = [&](Row row) {
    if (hooks.on_row) hooks.on_row(row);
    result.rows.push_back(std::move(row));
  };
  Pinning pinning;
  std::unique_ptr<Engine> engine;
  std::string engine_key;
  for (size_t i = 0; i < plan.tests.size(); ++i) {
    const TestSpec& spec = plan.tests[i];
    if (i > 0 && params.delay_seconds > 0) {
      if (progress) progress(fmt::format("waiting {} s (--delay)", params.delay_seconds));
      Delay(params.delay_seconds, hooks.stop);
    }
    if (stopped()) {
      result.interrupted = fmt::format("stopped before row {}/{}", i + 1, plan.tests.size());
      break;
    }
    const Model& model = models.at(spec.model);
    const std::string label =
        fmt::format("row {}/{}: {} {} {} {}t{} {}", i + 1, plan.tests.size(),
                    std::filesystem::path(spec.model).filename().string(), spec.engine, spec.precision, spec.threads,
                    spec.cpu_mask.empty() ? "" : StrCat(" ", spec.cpu_mask), spec.TestName());
    const auto fill_common = [&](Row& row, const std::string& started) {
      row.test_time = started;
      row.host = system.host;
      row.cpu_info = system.cpu_info;
      row.n_cpu_cores = system.n_cpu_cores;
      row.build_commit = system.build_commit;
      row.os_version = system.os_version;
      row.model_filename = spec.model;
      row.model_type = ModelType(model.weights->config());
      row.model_size = model.size;
      row.model_n_params = CountParameters(model.weights->config()).total();
      row.cpu_mask = spec.cpu_mask;
      for (const MachinePeak& peak : peaks) {
        if (peak.threads == row.n_threads && peak.cpu_mask == spec.cpu_mask) {
          FillRoofline(model.weights->config(), peak, row);
        }
      }
    };
    const std::string key = StrCat(spec.model, "\n", spec.engine, "\n", spec.precision, "\n", spec.threads, "\n",
                                   spec.cpu_mask, "\n", spec.peer);
    if (key != engine_key) {
      // The previous engine's packed weights go first, so that they do not count in the next row's peak RSS;
      // and its threads keep the mask they started with, so a new mask needs a new engine.
      engine.reset();
      engine_key.clear();
      if (absl::Status pinned = pinning.Pin(spec.cpu_mask); !pinned.ok()) return pinned;
    }
    if (spec.peer >= 0) {
      engine_key = key;  // the machine is the peer's now
      if (progress) progress(StrCat(label, ": running ", plan.peers[spec.peer].name));
      ProgressFn log;
      if (progress && hooks.verbose) log = [&](std::string_view line) { progress(StrCat(label, ": ", line)); };
      const std::string started = UtcTimestamp();
      absl::StatusOr<Row> row = RunPeerTest(plan.peers[spec.peer], spec, params.warmup, params.repetitions,
                                            std::chrono::seconds(params.timeout_seconds), log);
      if (!row.ok()) {
        result.peer_failures.push_back(
            absl::Status(row.status().code(), StrCat(label, ": ", std::string(row.status().message()))));
        continue;
      }
      fill_common(*row, started);
      keep(*std::move(row));
      continue;
    }
    if (engine == nullptr) {
      EngineOptions options;
      options.precision = spec.precision;
      options.threads = spec.threads;
      absl::StatusOr<std::unique_ptr<Engine>> created = CreateEngine(spec.engine, model.weights, options);
      if (!created.ok()) {
        return absl::Status(created.status().code(),
                            StrCat(spec.model, ": ", spec.engine, " ", spec.precision, " ", spec.threads,
                                   " threads: ", std::string(created.status().message())));
      }
      engine = *std::move(created);
      engine_key = key;
    }
    ProgressFn run_progress;
    if (progress) run_progress = [&](std::string_view run) { progress(StrCat(label, ": ", run)); };

    // A failed reset leaves the high-water mark of the whole process so far: still an upper bound.
    (void)ResetPeakRss();
    const std::string started = UtcTimestamp();
    absl::StatusOr<Row> row =
        RunTest(*engine, spec, params.warmup, params.repetitions, run_progress, hooks.stop, hooks.verbose);
    if (!row.ok() && absl::IsCancelled(row.status())) {
      result.interrupted = StrCat("stopped during row ", i + 1, "/", plan.tests.size(), " (",
                                  std::string(row.status().message()), "; left out)");
      break;
    }
    if (!row.ok()) return absl::Status(row.status().code(), StrCat(label, ": ", std::string(row.status().message())));
    row->peak_rss_bytes = PeakRssBytes();
    fill_common(*row, started);
    keep(*std::move(row));
  }
  engine.reset();
  if (absl::Status restored = pinning.Pin(""); !restored.ok()) return restored;
  return result;
}

}  // namespace needle::bench
