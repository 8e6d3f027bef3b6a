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

#include <limits>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "needle/json_error.h"
#include "nlohmann/json.hpp"

namespace needle {

// Deep enough for any tool schema or dataset record seen in practice (the
// deepest BFCL record nests 10 levels), shallow enough that walking a value never
// comes near a thread's stack limit.
inline constexpr int kMaxJsonDepth = 128;

// nlohmann::ordered_json keeps an object's members in a vector and looks each
// new key up in it, so building an object costs members^2: 1 MB of keys in
// one object took 17 s. Objects read as ordered_json may hold at most this many.
inline constexpr int kMaxOrderedJsonMembers = 1024;

// InvalidArgument ("nested deeper than 128 levels at byte offset 130") when
// arrays and objects in `text` nest deeper than `max_depth`, or when an object
// has more than `max_object_members` members; OK otherwise, whether or not the
// text is valid JSON. One pass; memory bounded by max_depth.
absl::Status CheckJsonNesting(std::string_view text, int max_depth = kMaxJsonDepth,
                              int max_object_members = std::numeric_limits<int>::max());

// Parses `text` as one JSON value with at most `max_depth` levels of nesting
// (and, for ordered_json, at most kMaxOrderedJsonMembers per object). Errors
// say what is wrong and where, without a prefix naming the input: the caller
// adds that ("tools: not valid JSON: " + message).
template <typename Json = nlohmann::json>
absl::StatusOr<Json> ParseJson(std::string_view text, int max_depth = kMaxJsonDepth) {
  constexpr int kMaxMembers =
      std::is_same_v<Json, nlohmann::ordered_json> ? kMaxOrderedJsonMembers : std::numeric_limits<int>::max();
  if (absl::Status nesting = CheckJsonNesting(text, max_depth, kMaxMembers); !nesting.ok()) return nesting;
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(JsonParseErrorText(e));
  }
}

}  // namespace needle

#endif  // NEEDLE_JSON_H_
