// What needle-bench measures: the command-line parameters and the test plan
// they expand to, one entry per table row.
//
// As in llama-bench, every combination of the lists is measured: each model x
// engine x precision x thread count runs every prompt test (-p), generation
// test (-n) and combined test (-pg).
#ifndef NEEDLE_BENCH_PARAMS_H_
#define NEEDLE_BENCH_PARAMS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace needle::bench {

// A generation test alone has no prompt length of its own, yet the decoder
// attends to an encoder output: it runs after an untimed prefill of this many
// ids (llama-bench's "depth", -d), shown as "tg100 @ d64".
inline constexpr int kGenerationDepth = 64;

// Seconds a peer command or a whole device run may take before it is killed.
inline constexpr int kDefaultTimeoutSeconds = 3600;

inline constexpr char kDefaultOutput[] = "md";

struct Params {
  std::vector<std::string> models;
  std::vector<int> n_prompt = {1024};             // 0 in the list: no prompt test
  std::vector<int> n_gen = {100};                 // 0 in the list: no generation test
  std::vector<std::pair<int, int>> prompt_gen;    // -pg pairs (n_prompt, n_gen)
  std::vector<int> n_depth = {kGenerationDepth};  // prefill before each generation test
  std::vector<int> threads;                       // empty: all cores
  int repetitions = 5;
  int warmup = 1;  // unrecorded runs before each row's repetitions
  std::vector<std::string> engines = {"reference", "optimized"};
  std::vector<std::string> precisions = {"fp32", "bf16", "int8", "int4"};
  std::string output = kDefaultOutput;  // md, csv, json, jsonl or html, on stdout
  std::string second_output;            // -oe: another format on stderr; empty: none
  // Hex masks, e.g. "0xf0" and "0x0f" (big and little cores), swept like the
  // other lists; {""}: leave affinity alone.
  std::vector<std::string> cpu_masks = {""};
  double delay_seconds = 0;  // sleep between tests, as llama-bench's --delay (phones heat up)
  // Other runtimes timed on the same checkpoints and shapes: "pytorch",
  // "onnxruntime" (commands in peer_dir) or "NAME=SHELL COMMAND" (docs/peers.md).
  std::vector<std::string> peers;
  std::string peer_dir;
  // Where to measure: "local" and/or "adb:SERIAL"; empty means local, unless a
  // farm file names the devices.
  std::vector<std::string> devices;
  std::string farm;           // JSON file of adb devices (docs/bench.md)
  std::string device_binary;  // static aarch64 needle-bench to push; empty: the cross build's
  std::string adb = "adb";
  // Rows measured earlier (-o json/jsonl files), merged into the output.
  std::vector<std::string> inputs;
  int timeout_seconds = kDefaultTimeoutSeconds;
  bool progress = false;
  bool verbose = false;  // -v: each run's timings and the commands run for adb and peers, on stderr
  bool list_devices = false;
  // Measure the machine's peaks and give each row's work as a fraction of them (needle/bench/roofline.h).
  bool roofline = false;
  bool help = false;
};

// "1,2,4" -> {1, 2, 4}; every item an integer in [min_value, max_value].
// Items may be ranges, as llama-bench's: "1-8" (step 1), "64-1024+64" (add
// 64), "64-1024*2" (double); "1-4,8" is {1, 2, 3, 4, 8}.
absl::StatusOr<std::vector<int>> ParseIntList(std::string_view text, std::string_view what, int min_value,
                                              int max_value);
// "a,b" -> {"a", "b"}; empty items are refused.
absl::StatusOr<std::vector<std::string>> ParseStringList(std::string_view text, std::string_view what);

// The arguments after the program name. Flags repeat and then append, as in
// llama-bench (`-p 64 -p 1024` is `-p 64,1024`); -pg takes one pair each time.
// Models default to `default_model`; threads to all cores.
absl::StatusOr<Params> ParseArgs(const std::vector<std::string>& args, const std::string& default_model);

std::string Usage();

// The flags that give a device's needle-bench the same tests (-p, -n, -d,
// -pg, -r, --warmup, -e, -P, --roofline); models, threads and output are per device.
std::vector<std::string> DeviceArgs(const Params& params);

// Another runtime behind a command; the protocol is in docs/peers.md.
struct Peer {
  std::string name;
  std::vector<std::string> command;     // argv before the protocol's flags
  std::vector<std::string> precisions;  // what it can run
};

// "pytorch" and "onnxruntime" are the commands shipped in `peer_dir`;
// "NAME=COMMAND" runs COMMAND through /bin/sh at fp32.
absl::StatusOr<Peer> ResolvePeer(std::string_view spec, const std::string& peer_dir);

// One row to measure.
struct TestSpec {
  std::string model;
  std::string engine;
  std::string precision;
  int threads = 1;
  std::string cpu_mask;  // hex; empty: not pinned
  int n_prompt = 0;      // timed prefill length
  int n_gen = 0;         // timed decode steps
  int n_depth = 0;       // untimed prefill before a generation-only test
  int peer = -1;         // index into Plan::peers; -1: this project's engine

  // llama-bench's names: "pp1024", "tg100 @ d64", "pp512+tg64".
  std::string TestName() const;
};

struct Plan {
  std::vector<TestSpec> tests;
  std::vector<Peer> peers;
  // Combinations left out, said once on stderr.
  std::vector<std::string> notes;
};

// Rows in run order: model, engine, precision, threads, CPU mask, then the tests, so
// that rows sharing a loaded engine are adjacent; peers follow our engines.
// The reference engine runs fp32 on one thread only, a peer only the
// precisions it has; other combinations are skipped with a note.
absl::StatusOr<Plan> ExpandPlan(const Params& params);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_PARAMS_H_
