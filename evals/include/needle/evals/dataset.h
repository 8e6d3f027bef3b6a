// Evaluation items and the readers that load them: our own JSONL, BFCL's
// question + possible_answer files, and the generic reader that takes the
// shapes other tool-calling sets use (JSON lines or one JSON array).
#ifndef NEEDLE_EVALS_DATASET_H_
#define NEEDLE_EVALS_DATASET_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/toolcalls/convert_tools.h"
#include "nlohmann/json.hpp"

namespace needle::evals {

// One acceptable call, BFCL style: per parameter the list of acceptable
// values; an empty string "" in the list means the parameter may be left out.
struct ExpectedCall {
  std::string name;
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> params;
};

struct EvalItem {
  std::string id;
  std::string category;   // our 15 domains, or the BFCL test category
  std::string call_type;  // single, multi, none, near_miss, indirect, disfluent, no_tools, ...
  std::string query;      // the user's text: user messages joined with "\n", as Needle is prompted
  // The conversation as the dataset gives it, OpenAI-style [{"role","content"}]
  // (system prompts, earlier turns); "" means the query as the one user message.
  std::string messages_json;
  std::string tools_json;  // upstream Needle tool format, as a model is prompted with it
  // ConvertedTools::openai_json of the dataset's tools; "" for items built by
  // hand, whose tools_json is converted on use.
  std::string openai_tools_json;
  std::vector<toolcalls::ToolSchema> tools;
  std::vector<ExpectedCall> answers;  // empty: the right output is no call
};

// A record that could not be read. Loading goes on over the other records.
struct DatasetError {
  std::string file;
  int line = 0;  // 1-based
  std::string message;
};

struct Dataset {
  std::string name;    // e.g. "bfcl_simple_python", or the file's stem
  std::string format;  // "needle", "bfcl" or "generic", as detected or forced
  std::vector<EvalItem> items;
  std::vector<DatasetError> errors;
  toolcalls::MappingCounts mapped;  // what the readers adapted
};

enum class DatasetFormat { kAuto, kNeedle, kBfcl, kGeneric };

// `spec` is a path, optionally prefixed by a format: "needle:PATH",
// "bfcl:PATH", "generic:PATH". Without a prefix the format is detected from
// the first record. A file whose first character is '[' is one JSON array of
// records; errors then give the line where the record starts. For BFCL, PATH is the question file and the answers are
// read from possible_answer/<same name> next to it (irrelevance categories
// have none: every item expects no call). A file that cannot be opened, or
// has no readable record at all, is an error; bad records are counted.
absl::StatusOr<Dataset> LoadDataset(const std::string& spec);

// Keeps part of a dataset, as needle-eval's --limit and Python's evaluate(limit=):
// `limit` 0 keeps every item, a fraction in (0, 1) that share of them (rounded
// up), a whole number that many. With `seed` >= 0 they are drawn at random
// with that seed (a partial Fisher-Yates shuffle, so the same seed draws the
// same items everywhere) and kept in file order; else the first ones.
absl::Status LimitItems(Dataset& dataset, double limit, int64_t seed = -1);

// The item's conversation and its tools as an OpenAI-style chat request takes them.
nlohmann::ordered_json ChatMessages(const EvalItem& item);
absl::StatusOr<nlohmann::ordered_json> OpenAiTools(const EvalItem& item);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_DATASET_H_
