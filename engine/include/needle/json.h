// The one way to parse JSON that came from outside: request bodies, tool
// lists, dataset records, checkpoint headers, other servers' answers.
//
// nlohmann's parser itself does not recurse, but the code that walks a parsed
// value (dump(), comparisons, our readers) does, one stack frame per level:
// a few hundred kilobytes of "[[[[..." crash the process. Every reader of
// outside JSON therefore parses through ParseJson, which refuses nesting past
// kMaxJsonDepth before any value is built.
#ifndef NEEDLE_JSON_H_
#define NEEDLE_JSON_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "needle/json_error.h"
#include "nlohmann/json.hpp"

namespace needle {

// Deep enough for any tool schema or dataset record seen in practice (the
// deepest BFCL record nests 10 levels), shallow enough that walking a value never
// comes near a thread's stack limit.
inline constexpr int kMaxJsonDepth = 128;

// InvalidArgument ("nested deeper than 128 levels at byte offset 130") when
// arrays and objects in `text` nest deeper than `max_depth`; OK otherwise,
// whether or not the text is valid JSON. One pass, no allocation.
absl::Status CheckJsonNesting(std::string_view text, int max_depth = kMaxJsonDepth);

// Parses `text` as one JSON value with at most `max_depth` levels of nesting.
// Errors say what is wrong and where, without a prefix naming the input: the
// caller adds that ("tools: not valid JSON: " + message).
template <typename Json = nlohmann::json>
absl::StatusOr<Json> ParseJson(std::string_view text, int max_depth = kMaxJsonDepth) {
  if (absl::Status nesting = CheckJsonNesting(text, max_depth); !nesting.ok()) return nesting;
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(JsonParseErrorText(e));
  }
}

}  // namespace needle

#endif  // NEEDLE_JSON_H_
