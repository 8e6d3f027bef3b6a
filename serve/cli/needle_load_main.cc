// needle-load: a load test of an OpenAI-compatible server (needle-serve)
// with dataset requests, checked for correctness as well as speed.
//
//   1. Reference pass: each of the first --items dataset items is sent once,
//      alone and not streamed; its calls are the expected answer.
//   2. Load: --clients threads send --requests requests in all (items in
//      turn, every other one streamed), stopping early at --max_seconds.
//      A response counts as wrong when its calls differ from the reference
//      answer: a greedy model must answer the same whatever the load.
//   3. With --server_pid, the server's resident memory is sampled throughout:
//      after the reference pass (warm), at its highest, and at the end.
//
// The report (Markdown on stdout, JSON with --json) has the counts, request
// rate, latency and time-to-first-token percentiles and the memory figures.
// The exit status is 1 when any request failed or was wrong.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "cli/command_line.h"
#include "needle/evals/dataset.h"
#include "needle/evals/openai_system.h"
#include "needle/evals/stats.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/call.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, url, "http://127.0.0.1:8080", "server base URL (/v1/chat/completions is appended)");
ABSL_FLAG(std::string, dataset, "needle:datasets/needle15/test.jsonl", "dataset spec, as needle-eval takes it");
ABSL_FLAG(int, items, 40, "distinct dataset items sent (the first ones)");
ABSL_FLAG(int, clients, 16, "concurrent clients");
ABSL_FLAG(int, requests, 800, "requests sent under load, in all");
ABSL_FLAG(double, max_seconds, 300, "stop sending new requests after this long");
ABSL_FLAG(int, server_pid, 0, "process id of the server, to sample its resident memory (0: do not)");
ABSL_FLAG(std::string, json, "", "also write the report as JSON to this file");

namespace needle::serve {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The calls of an output in canonical form, or the raw text when it is unreadable.
std::string Answer(const std::string& text) {
  const toolcalls::ParsedOutput parsed = toolcalls::ParseOutput(text);
  return parsed.parsed ? toolcalls::CallsToJson(parsed.calls) : "unparsed: " + text;
}

// VmRSS of a process in bytes; -1 when it cannot be read (the process is gone).
int64_t ResidentBytes(int pid) {
  std::ifstream status(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Samples a process's resident memory every 100 ms until destroyed.
class MemorySampler {
 public:
  explicit MemorySampler(int pid) : pid_(pid) {
    if (pid_ > 0) thread_ = std::thread([this] { Run(); });
  }
  ~MemorySampler() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t peak() const { return peak_; }

 private:
  void Run() {
    while (!stop_) {
      const int64_t rss = ResidentBytes(pid_);
      if (rss > peak_) peak_ = rss;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const int pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_{-1};
  std::thread thread_;
};

struct Outcome {
  bool failed = false;
  bool wrong = false;
  bool streamed = false;
  double latency_ms = 0;
  double ttft_ms = -1;
  std::string error;  // what went wrong, for the first few failures shown
};

int Run() {
  absl::StatusOr<evals::Dataset> dataset = evals::LoadDataset(absl::GetFlag(FLAGS_dataset));
  if (!dataset.ok()) {
    std::fprintf(stderr, "needle-load: %s\n", std::string(dataset.status().message()).c_str());
    return 2;
  }
  const int items = std::min<int>(absl::GetFlag(FLAGS_items), static_cast<int>(dataset->items.size()));
  const int clients = absl::GetFlag(FLAGS_clients), requests = absl::GetFlag(FLAGS_requests);
  if (items < 1 || clients < 1 || requests < 1) {
    std::fprintf(stderr, "needle-load: --items, --clients and --requests must be >= 1\n");
    return 2;
  }
  evals::OpenAiOptions options;
  options.base_url = absl::GetFlag(FLAGS_url);
  options.stream = false;
  auto plain = evals::MakeOpenAiSystem(options);
  options.stream = true;
  auto streaming = evals::MakeOpenAiSystem(options);
  if (!plain.ok() || !streaming.ok()) {
    std::fprintf(stderr, "needle-load: %s\n", std::string((plain.ok() ? streaming : plain).status().message()).c_str());
    return 2;
  }

  const int pid = absl::GetFlag(FLAGS_server_pid);
  const int64_t rss_start = pid > 0 ? ResidentBytes(pid) : -1;
  std::vector<std::string> expected(items);
  for (int i = 0; i < items; ++i) {
    absl::StatusOr<evals::Prediction> prediction = (*plain)->Predict(dataset->items[i]);
    if (!prediction.ok()) {
      std::fprintf(stderr, "needle-load: reference request %d failed: %s\n", i,
                   std::string(prediction.status().message()).c_str());
      return 1;
    }
    expected[i] = Answer(prediction->text);
  }
  const int64_t rss_warm = pid > 0 ? ResidentBytes(pid) : -1;

  std::vector<Outcome> outcomes(requests);
  std::atomic<int> next{0};
  const double max_seconds = absl::GetFlag(FLAGS_max_seconds);
  const Clock::time_point start = Clock::now();
  int64_t rss_peak = -1;
  {
    MemorySampler sampler(pid);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&] {
        for (int r; (r = next.fetch_add(1)) < requests && SecondsSince(start) < max_seconds;) {
          Outcome& outcome = outcomes[r];
          outcome.streamed = r % 2 == 1;
          const evals::System& system = outcome.streamed ? **streaming : **plain;
          const Clock::time_point sent_at = Clock::now();
          absl::StatusOr<evals::Prediction> prediction = system.Predict(dataset->items[r % items]);
          if (!prediction.ok()) {
            outcome.failed = true;
            // How long it took tells a timeout (which one) from a refused or reset connection.
            outcome.error =
                StrCat(std::string(prediction.status().message()), " (after ", SecondsSince(sent_at), " s)");
            continue;
          }
          outcome.latency_ms = prediction->latency_ms;
          outcome.ttft_ms = prediction->ttft_ms;
          outcome.wrong = Answer(prediction->text) != expected[r % items];
          if (outcome.wrong) outcome.error = StrCat("item ", r % items, ": got ", prediction->text);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    rss_peak = sampler.peak();
  }
  const double seconds = SecondsSince(start);
  const int64_t rss_end = pid > 0 ? ResidentBytes(pid) : -1;

  const int sent = std::min(next.load(), requests);
  int failed = 0, wrong = 0;
  std::vector<double> latency, ttft;
  std::vector<std::string> errors;
  for (int r = 0; r < sent; ++r) {
    const Outcome& outcome = outcomes[r];
    failed += outcome.failed;
    wrong += outcome.wrong;
    if (!outcome.error.empty() && errors.size() < 5) errors.push_back(outcome.error);
    if (outcome.failed) continue;
    latency.push_back(outcome.latency_ms);
    if (outcome.streamed && outcome.ttft_ms >= 0) ttft.push_back(outcome.ttft_ms);
  }

  nlohmann::ordered_json report = {
      {"url", options.base_url},
      {"dataset", dataset->name},
      {"items", items},
      {"clients", clients},
      {"requests", sent},
      {"failed", failed},
      {"wrong", wrong},
      {"seconds", seconds},
      {"requests_per_second", sent / seconds},
      {"latency_ms",
       {{"p50", evals::Quantile(latency, 0.5)},
        {"p90", evals::Quantile(latency, 0.9)},
        {"p99", evals::Quantile(latency, 0.99)},
        {"max", evals::Quantile(latency, 1.0)}}},
      {"ttft_ms", {{"p50", evals::Quantile(ttft, 0.5)}, {"p99", evals::Quantile(ttft, 0.99)}}},
      {"server_rss_bytes", {{"start", rss_start}, {"warm", rss_warm}, {"peak", rss_peak}, {"end", rss_end}}},
      {"errors", errors}};
  std::printf(
      "| requests | clients | failed | wrong | req/s | p50 ms | p90 ms | p99 ms | TTFT p50 ms | RSS warm MiB "
      "| RSS peak MiB | RSS end MiB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  const auto mib = [](int64_t bytes) { return bytes < 0 ? -1.0 : bytes / 1048576.0; };
  std::printf("| %d | %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", sent, clients, failed,
              wrong, sent / seconds, evals::Quantile(latency, 0.5), evals::Quantile(latency, 0.9),
              evals::Quantile(latency, 0.99), evals::Quantile(ttft, 0.5), mib(rss_warm), mib(rss_peak), mib(rss_end));
  for (const std::string& error : errors) std::fprintf(stderr, "needle-load: %s\n", error.c_str());
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << report.dump(2) << "\n";
  }
  return failed == 0 && wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace needle::serve

int main(int argc, char** argv) {
  needle::cli::ParseCommandLine(
      argc, argv,
      "needle-load --url URL [--dataset SPEC] [--items N] [--clients C] [--requests R] [--server_pid PID] [--json F]");
  return needle::serve::Run();
}
