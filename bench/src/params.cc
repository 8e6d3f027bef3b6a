#include "needle/bench/params.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "needle/bench/output.h"
#include "needle/bench/system_info.h"
#include "needle/config.h"
#include "needle/engine.h"
#include "needle/precision.h"
#include "needle/str_cat.h"

namespace needle::bench {
namespace {

// Decoder input holds the start token plus kMaxGeneratedTokens more, and a
// benchmark may use every position.
constexpr int kMaxDecodeSteps = kMaxGeneratedTokens + 1;
constexpr int kMaxThreads = 1024;
constexpr char kPeerNames[] = "pytorch, pytorch2, pytorch2-compile, onnxruntime";

std::vector<std::string_view> Split(std::string_view text) {
  std::vector<std::string_view> items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

absl::StatusOr<int> ParseInt(std::string_view text, std::string_view what, int min_value, int max_value) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(StrCat(what, ": \"", text, "\" is not an integer"));
  }
  if (value < min_value || value > max_value) {
    return absl::InvalidArgumentError(StrCat(what, ": ", value, " is outside [", min_value, ", ", max_value, "]"));
  }
  return value;
}

// A range of list values: far more than any sweep needs, few enough to print.
constexpr size_t kMaxListItems = 1000;

// "first-last", "first-last+step" or "first-last*factor" (llama-bench's ranges);
// `dash` is where "-" splits first from the rest.
absl::StatusOr<std::vector<int>> ParseRange(std::string_view item, size_t dash, std::string_view what, int min_value,
                                            int max_value) {
  const auto malformed = [&](const std::string& why) {
    return absl::InvalidArgumentError(StrCat(what, ": \"", item, "\" is not a range (", why,
                                             "; ranges are FIRST-LAST, FIRST-LAST+STEP or FIRST-LAST*FACTOR)"));
  };
  std::string_view rest = item.substr(dash + 1);
  const size_t op = rest.find_first_of("+*");
  const char kind = op == std::string_view::npos ? '+' : rest[op];
  absl::StatusOr<int> first = ParseInt(item.substr(0, dash), what, min_value, max_value);
  if (!first.ok()) return malformed(std::string(first.status().message()));
  absl::StatusOr<int> last = ParseInt(rest.substr(0, op), what, min_value, max_value);
  if (!last.ok()) return malformed(std::string(last.status().message()));
  int step = 1;
  if (op != std::string_view::npos) {
    absl::StatusOr<int> parsed = ParseInt(rest.substr(op + 1), what, 1, 1 << 20);
    if (!parsed.ok()) return malformed(std::string(parsed.status().message()));
    step = *parsed;
  }
  if (*last < *first) return malformed(StrCat(*last, " is below ", *first));
  if (kind == '*' && (step < 2 || *first == 0))
    return malformed("a factor needs a start above 0 and a factor of 2 or more");
  std::vector<int> values;
  for (int64_t value = *first; value <= *last; value = kind == '*' ? value * step : value + step) {
    if (values.size() == kMaxListItems) return malformed(StrCat("more than ", kMaxListItems, " values"));
    values.push_back(static_cast<int>(value));
  }
  return values;
}

// Appends to a list flag, except that the first use replaces the default.
template <typename T>
void Extend(std::vector<T>& list, std::vector<T> items, bool& seen) {
  if (!seen) list.clear();
  seen = true;
  list.insert(list.end(), items.begin(), items.end());
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseIntList(std::string_view text, std::string_view what, int min_value,
                                              int max_value) {
  std::vector<int> values;
  for (std::string_view item : Split(text)) {
    // Every value is >= 0, so a '-' after the first character can only be a range.
    const size_t dash = item.find('-', 1);
    if (dash == std::string_view::npos) {
      absl::StatusOr<int> value = ParseInt(item, what, min_value, max_value);
      if (!value.ok()) return value.status();
      values.push_back(*value);
      continue;
    }
    absl::StatusOr<std::vector<int>> range = ParseRange(item, dash, what, min_value, max_value);
    if (!range.ok()) return range.status();
    if (values.size() + range->size() > kMaxListItems) {
      return absl::InvalidArgumentError(
          StrCat(what, ": \"", text, "\" expands to more than ", kMaxListItems, " values"));
    }
    values.insert(values.end(), range->begin(), range->end());
  }
  return values;
}

absl::StatusOr<std::vector<std::string>> ParseStringList(std::string_view text, std::string_view what) {
  std::vector<std::string> values;
  for (std::string_view item : Split(text)) {
    if (item.empty()) return absl::InvalidArgumentError(StrCat(what, ": empty item in \"", text, "\""));
    values.emplace_back(item);
  }
  return values;
}

std::string Usage() {
  return StrCat(
      "usage: needle-bench [options]\n"
      "  -m,  --model FILE[,FILE...]      safetensors checkpoints (default: the shipped model)\n"
      "  -p,  --n-prompt N[,N...]         prompt tests: prefill N pseudo-random ids (default 1024; 0: none)\n"
      "  -n,  --n-gen N[,N...]            generation tests: N decode steps after a prefill of -d ids\n"
      "                                   (default 100; 0: none)\n"
      "  -d,  --n-depth N[,N...]          the generation tests' untimed prefill (default ",
      kGenerationDepth,
      ")\n"
      "  -pg  P,G                         combined test: prefill P ids, then G decode steps (repeatable)\n"
      "  -t,  --threads N[,N...]          engine threads (default: all cores)\n"
      "  -r,  --repetitions N             timed runs per row (default 5)\n"
      "       --warmup N                  unrecorded runs before them (default 1)\n"
      "  -e,  --engine NAME[,NAME...]     reference, optimized (default: both)\n"
      "  -P,  --precision P[,P...]        the optimized engine's: fp32, bf16, int8, int4, w8a8, w4a8\n"
      "                                   (default: these four; the reference runs fp32 only)\n"
      "       --peer NAME[,NAME...]       also time another runtime on the same checkpoints: pytorch (1.13),\n"
      "                                   pytorch2, pytorch2-compile, onnxruntime, or NAME=COMMAND (docs/peers.md)\n"
      "  -o,  --output FORMAT             md, csv, json, jsonl or html on stdout (default md)\n"
      "  -oe, --output-err FORMAT         the same rows in a second format on stderr\n"
      "       --delay SECONDS             sleep between tests (default 0), e.g. to let a phone cool down\n"
      "  -C,  --cpu-mask HEX[,HEX...]     pin to these CPUs, each mask in turn, e.g. 0xf0,0x0f (big, little cores)\n"
      "       --device D                  where to run: local, or adb:SERIAL (repeatable; default local)\n"
      "       --farm FILE                 adb devices from a JSON file (serial, name, cpu_mask, threads)\n"
      "       --device-binary FILE        static aarch64 needle-bench to push (default: build/aarch64's,\n"
      "                                   cross-built when missing)\n"
      "       --adb PROGRAM               adb to use (default: adb on PATH)\n"
      "       --input FILE                merge rows measured earlier (-o json or jsonl; repeatable)\n"
      "       --timeout SECONDS           limit for a peer command or a device run (default ",
      kDefaultTimeoutSeconds,
      ")\n"
      "       --progress                  a line on stderr per row and repetition\n"
      "  -v,  --verbose                   --progress with each run's timings, and the adb and peer commands run\n"
      "       --list-devices              list what can be measured (this CPU, adb devices, --farm's) and exit\n"
      "       --roofline                  measure this machine's peak FLOP/s and memory bandwidth per thread\n"
      "                                   count and give each row's speed as a fraction of them\n"
      "  -h,  --help\n"
      "       needle-bench compare A.json B.json [-o md|csv|json]: t/s of matching rows of two runs, and B/A\n"
      "List flags also repeat: -p 64 -p 1024 is -p 64,1024. Integer lists take ranges: FIRST-LAST,\n"
      "FIRST-LAST+STEP, FIRST-LAST*FACTOR (-t 1-8, -p 64-1024*2).\n");
}

std::vector<std::string> DeviceArgs(const Params& params) {
  const auto list = [](const auto& values) { return fmt::format("{}", fmt::join(values, ",")); };
  std::vector<std::string> args = {"-p",       list(params.n_prompt),         "-n", list(params.n_gen),
                                   "-d",       list(params.n_depth),          "-r", std::to_string(params.repetitions),
                                   "--warmup", std::to_string(params.warmup), "-e", list(params.engines),
                                   "-P",       list(params.precisions)};
  for (const auto& [prompt, gen] : params.prompt_gen) {
    args.push_back("-pg");
    args.push_back(StrCat(prompt, ",", gen));
  }
  if (params.roofline) args.push_back("--roofline");
  if (params.delay_seconds > 0) {
    args.push_back("--delay");
    args.push_back(fmt::format("{}", params.delay_seconds));
  }
  return args;
}

absl::StatusOr<Peer> ResolvePeer(std::string_view spec, const std::string& peer_dir) {
  // Debian's interpreter: it has numpy and torch 1.13; the peers that need PyPI's packages
  // re-execute themselves in the project's virtual environment (scripts/install-pypi.sh).
  constexpr char kPython[] = "/usr/bin/python3";
  const std::string pytorch = peer_dir + "/pytorch_peer.py";
  if (spec == "pytorch") return Peer{"pytorch", {kPython, pytorch}, {"fp32", "bf16"}};
  if (spec == "pytorch2") return Peer{"pytorch2", {kPython, pytorch, "--pypi"}, {"fp32", "bf16"}};
  if (spec == "pytorch2-compile") {
    return Peer{"pytorch2-compile", {kPython, pytorch, "--pypi", "--compile"}, {"fp32", "bf16"}};
  }
  if (spec == "onnxruntime") {
    return Peer{"onnxruntime", {kPython, peer_dir + "/onnxruntime_peer.py"}, {"fp32", "w8a8"}};
  }
  const size_t equals = spec.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == spec.size()) {
    return absl::InvalidArgumentError(StrCat("--peer: \"", spec, "\" is none of ", kPeerNames, " nor NAME=COMMAND"));
  }
  const std::string name(spec.substr(0, equals));
  // "$@" hands the protocol's flags to the user's command line.
  return Peer{name, {"/bin/sh", "-c", StrCat(spec.substr(equals + 1), " \"$@\""), name}, {"fp32"}};
}

absl::StatusOr<Params> ParseArgs(const std::vector<std::string>& args, const std::string& default_model) {
  Params params;
  bool seen_model = false, seen_prompt = false, seen_gen = false, seen_depth = false, seen_threads = false,
       seen_engine = false, seen_precision = false, seen_mask = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (const size_t equals = flag.find('='); flag.rfind("--", 0) == 0 && equals != std::string::npos) {
      value = flag.substr(equals + 1);
      flag = flag.substr(0, equals);
      has_value = true;
    }
    if (flag == "-h" || flag == "--help") {
      params.help = true;
      continue;
    }
    if (flag == "--progress") {
      params.progress = true;
      continue;
    }
    if (flag == "--roofline") {
      params.roofline = true;
      continue;
    }
    if (flag == "-v" || flag == "--verbose") {
      params.verbose = true;
      continue;
    }
    if (flag == "--list-devices") {
      params.list_devices = true;
      continue;
    }
    const auto take_value = [&]() -> absl::StatusOr<std::string> {
      if (has_value) return value;
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(StrCat(flag, " needs a value"));
      return args[++i];
    };
    if (flag.empty() || flag[0] != '-') return absl::InvalidArgumentError(StrCat("unexpected argument \"", flag, "\""));
    absl::StatusOr<std::string> text = take_value();
    if (!text.ok()) return text.status();

    if (flag == "-m" || flag == "--model") {
      absl::StatusOr<std::vector<std::string>> models = ParseStringList(*text, flag);
      if (!models.ok()) return models.status();
      Extend(params.models, *std::move(models), seen_model);
    } else if (flag == "-p" || flag == "--n-prompt") {
      absl::StatusOr<std::vector<int>> list = ParseIntList(*text, flag, 0, kMaxEncoderTokens);
      if (!list.ok()) return list.status();
      Extend(params.n_prompt, *std::move(list), seen_prompt);
    } else if (flag == "-n" || flag == "--n-gen") {
      absl::StatusOr<std::vector<int>> list = ParseIntList(*text, flag, 0, kMaxDecodeSteps);
      if (!list.ok()) return list.status();
      Extend(params.n_gen, *std::move(list), seen_gen);
    } else if (flag == "-d" || flag == "--n-depth") {
      absl::StatusOr<std::vector<int>> list = ParseIntList(*text, flag, 1, kMaxEncoderTokens);
      if (!list.ok()) return list.status();
      Extend(params.n_depth, *std::move(list), seen_depth);
    } else if (flag == "-pg" || flag == "--prompt-gen") {
      const std::vector<std::string_view> pair = Split(*text);
      if (pair.size() != 2) {
        return absl::InvalidArgumentError(StrCat(flag, ": expected N_PROMPT,N_GEN, got \"", *text, "\""));
      }
      absl::StatusOr<int> prompt = ParseInt(pair[0], flag, 1, kMaxEncoderTokens);
      if (!prompt.ok()) return prompt.status();
      absl::StatusOr<int> gen = ParseInt(pair[1], flag, 1, kMaxDecodeSteps);
      if (!gen.ok()) return gen.status();
      params.prompt_gen.emplace_back(*prompt, *gen);
    } else if (flag == "-t" || flag == "--threads") {
      absl::StatusOr<std::vector<int>> list = ParseIntList(*text, flag, 1, kMaxThreads);
      if (!list.ok()) return list.status();
      Extend(params.threads, *std::move(list), seen_threads);
    } else if (flag == "-r" || flag == "--repetitions") {
      absl::StatusOr<int> count = ParseInt(*text, flag, 1, 1000000);
      if (!count.ok()) return count.status();
      params.repetitions = *count;
    } else if (flag == "--warmup") {
      absl::StatusOr<int> count = ParseInt(*text, flag, 0, 1000000);
      if (!count.ok()) return count.status();
      params.warmup = *count;
    } else if (flag == "-e" || flag == "--engine") {
      absl::StatusOr<std::vector<std::string>> engines = ParseStringList(*text, flag);
      if (!engines.ok()) return engines.status();
      const std::vector<std::string> known = EngineNames();
      for (const std::string& engine : *engines) {
        if (std::find(known.begin(), known.end(), engine) == known.end()) {
          return absl::InvalidArgumentError(
              fmt::format("{}: unknown engine \"{}\" (available: {})", flag, engine, fmt::join(known, ", ")));
        }
      }
      Extend(params.engines, *std::move(engines), seen_engine);
    } else if (flag == "-P" || flag == "--precision") {
      absl::StatusOr<std::vector<std::string>> precisions = ParseStringList(*text, flag);
      if (!precisions.ok()) return precisions.status();
      for (const std::string& precision : *precisions) {
        if (absl::Status known = ParsePrecision(precision).status(); !known.ok()) {
          return absl::InvalidArgumentError(StrCat(flag, ": ", std::string(known.message())));
        }
      }
      Extend(params.precisions, *std::move(precisions), seen_precision);
    } else if (flag == "--peer") {
      absl::StatusOr<std::vector<std::string>> peers = ParseStringList(*text, flag);
      if (!peers.ok()) return peers.status();
      params.peers.insert(params.peers.end(), peers->begin(), peers->end());
    } else if (flag == "--device") {
      if (*text != "local" && (text->rfind("adb:", 0) != 0 || text->size() == 4)) {
        return absl::InvalidArgumentError(StrCat(flag, ": \"", *text, "\" is neither local nor adb:SERIAL"));
      }
      params.devices.push_back(*text);
    } else if (flag == "--farm") {
      params.farm = *text;
    } else if (flag == "--device-binary") {
      params.device_binary = *text;
    } else if (flag == "--adb") {
      params.adb = *text;
    } else if (flag == "--input") {
      params.inputs.push_back(*text);
    } else if (flag == "--timeout") {
      absl::StatusOr<int> seconds = ParseInt(*text, flag, 1, 7 * 24 * 3600);
      if (!seconds.ok()) return seconds.status();
      params.timeout_seconds = *seconds;
    } else if (flag == "-o" || flag == "--output") {
      if (!IsOutputFormat(*text)) {
        return absl::InvalidArgumentError(
            StrCat(flag, ": unknown format \"", *text, "\" (md, csv, json, jsonl, html)"));
      }
      params.output = *text;
    } else if (flag == "-oe" || flag == "--output-err") {
      if (!IsOutputFormat(*text)) {
        return absl::InvalidArgumentError(
            StrCat(flag, ": unknown format \"", *text, "\" (md, csv, json, jsonl, html)"));
      }
      params.second_output = *text;
    } else if (flag == "-C" || flag == "--cpu-mask") {
      absl::StatusOr<std::vector<std::string>> masks = ParseStringList(*text, flag);
      if (!masks.ok()) return masks.status();
      for (const std::string& mask : *masks) {
        if (absl::Status valid = ParseCpuMask(mask).status(); !valid.ok()) return valid;
      }
      Extend(params.cpu_masks, *std::move(masks), seen_mask);
    } else if (flag == "--delay") {
      double seconds = -1;
      const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), seconds);
      if (text->empty() || error != std::errc() || end != text->data() + text->size() || !(seconds >= 0) ||
          seconds > 3600) {
        return absl::InvalidArgumentError(StrCat(flag, ": \"", *text, "\" is not a number of seconds in [0, 3600]"));
      }
      params.delay_seconds = seconds;
    } else {
      return absl::InvalidArgumentError(StrCat("unknown flag \"", flag, "\""));
    }
  }
  if (params.models.empty()) params.models.push_back(default_model);
  if (params.threads.empty())
    params.threads.push_back(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  return params;
}

std::string TestSpec::TestName() const {
  if (n_prompt > 0 && n_gen > 0) return StrCat("pp", n_prompt, "+tg", n_gen);
  if (n_prompt > 0) return StrCat("pp", n_prompt);
  return n_depth > 0 ? StrCat("tg", n_gen, " @ d", n_depth) : StrCat("tg", n_gen);
}

absl::StatusOr<Plan> ExpandPlan(const Params& params) {
  if (params.models.empty()) return absl::InvalidArgumentError("no model to measure (-m)");
  std::vector<TestSpec> tests;  // per instance: only the lengths
  const auto add_test = [&tests](int n_prompt, int n_gen, int n_depth) {
    TestSpec test;
    test.n_prompt = n_prompt;
    test.n_gen = n_gen;
    test.n_depth = n_depth;
    tests.push_back(test);
  };
  for (int n : params.n_prompt) {
    if (n > 0) add_test(n, 0, 0);
  }
  for (int n : params.n_gen) {
    if (n <= 0) continue;
    for (int depth : params.n_depth) add_test(0, n, depth);
  }
  for (const auto& [prompt, gen] : params.prompt_gen) add_test(prompt, gen, 0);
  if (tests.empty()) return absl::InvalidArgumentError("nothing to measure: -p and -n are all 0 and there is no -pg");

  Plan plan;
  // What the reference engine was asked for and cannot do.
  std::vector<std::string> skipped_precisions;
  std::vector<int> skipped_threads;
  const auto remember = [](auto& list, const auto& value) {
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
  };
  for (const std::string& model : params.models) {
    for (const std::string& engine : params.engines) {
      for (const std::string& precision : params.precisions) {
        for (int threads : params.threads) {
          if (engine == "reference" && (precision != "fp32" || threads != 1)) {
            if (precision != "fp32") remember(skipped_precisions, precision);
            if (threads != 1) remember(skipped_threads, threads);
            continue;
          }
          for (const std::string& mask : params.cpu_masks) {
            for (TestSpec test : tests) {
              test.model = model;
              test.engine = engine;
              test.precision = precision;
              test.threads = threads;
              test.cpu_mask = mask;
              plan.tests.push_back(std::move(test));
            }
          }
        }
      }
    }
  }
  for (const std::string& spec : params.peers) {
    absl::StatusOr<Peer> peer = ResolvePeer(spec, params.peer_dir);
    if (!peer.ok()) return peer.status();
    plan.peers.push_back(*std::move(peer));
  }
  for (const std::string& model : params.models) {
    for (size_t p = 0; p < plan.peers.size(); ++p) {
      const Peer& peer = plan.peers[p];
      for (const std::string& precision : params.precisions) {
        if (std::find(peer.precisions.begin(), peer.precisions.end(), precision) == peer.precisions.end()) continue;
        for (int threads : params.threads) {
          for (const std::string& mask : params.cpu_masks) {
            for (TestSpec test : tests) {
              test.model = model;
              test.engine = peer.name;
              test.precision = precision;
              test.threads = threads;
              test.cpu_mask = mask;
              test.peer = static_cast<int>(p);
              plan.tests.push_back(std::move(test));
            }
          }
        }
      }
    }
  }
  for (const Peer& peer : plan.peers) {
    const bool runs = std::any_of(plan.tests.begin(), plan.tests.end(),
                                  [&](const TestSpec& test) { return test.engine == peer.name && test.peer >= 0; });
    if (!runs) {
      plan.notes.push_back(fmt::format("peer {} runs only {}: not at -P {}", peer.name,
                                       fmt::join(peer.precisions, ", "), fmt::join(params.precisions, ",")));
    }
  }
  std::vector<std::string> skipped;
  if (!skipped_precisions.empty()) skipped.push_back(fmt::format("{}", fmt::join(skipped_precisions, ", ")));
  if (!skipped_threads.empty()) skipped.push_back(fmt::format("{} threads", fmt::join(skipped_threads, ", ")));
  if (!skipped.empty()) {
    plan.notes.push_back(fmt::format("the reference engine runs fp32 on 1 thread only: skipped its rows at {}",
                                     fmt::join(skipped, " and at ")));
  }
  if (plan.tests.empty()) {
    return absl::InvalidArgumentError("nothing to measure: the reference engine runs only at -P fp32 and -t 1");
  }
  return plan;
}

}  // namespace needle::bench
