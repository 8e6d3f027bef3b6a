// Upstream Needle's single-shot metrics, after benchmark_tool_calls in
// cactus-compute/needle needle/training/eval.py (the latest version of its eval,
// with _normalize_value). What we follow from it:
//   - names compared in snake_case on both sides;
//   - value normalisation: a string that parses as a float compares as that
//     float; other text is stripped and lower-cased, then a leading "at " and
//     after it a leading "today at " are dropped ("at 9pm" == "9pm");
//   - call P/R/F1 over *sets* of distinct (name, normalised arguments) keys;
//   - exact match: predicted and expected call lists equal as multisets of
//     those keys, so [] vs [] is a match; an unreadable output never matches;
//   - args_acc: a paired call (its name among the expected names) counts when
//     its normalised arguments equal those of some expected call of that name;
//   - missed / matched / value counts against the *first* expected call of
//     the paired name; param_haluc over keys of calls to any listed tool;
//   - P = tp / max(tp + fp, 1), R = tp / max(tp + fn, 1),
//     F1 = 2PR / max(P + R, 1e-9).
// Where we differ, on purpose:
//   - upstream normalises only top-level argument values and leaves ints
//     alone, so 5 vs 5.0 or 5 vs "5" differ there; here every number and
//     numeric string is a double and lists/objects are normalised element-wise
//     (what metrics.h promises). Non-finite numeric strings ("nan", "inf") stay
//     text. Lower-casing is ASCII only.
//   - upstream counts expected/missed/value only for calls whose tool the item
//     lists; here for every paired call (the same thing for well-formed items).
//   - hallucinated_args / paired_calls_keys_exact are our own diagnostics,
//     measured against the first expected call of the paired name.
#include "needle/evals/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "needle/toolcalls/big_int.h"
#include "needle/tools.h"

namespace needle::evals {

using toolcalls::BigIntToDouble;
using toolcalls::IntegerDigits;
using toolcalls::IsBigInt;
using toolcalls::ParamSchema;
using toolcalls::ParsedOutput;
using toolcalls::ToolCall;
using toolcalls::ToolSchema;

namespace {

using nlohmann::json;

std::string_view Strip(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// Python's float() on a decimal literal ([sign] digits [. digits] [exponent]).
std::optional<double> ParseDecimal(std::string_view text) {
  text = Strip(text);
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  size_t i = text.empty() || text.front() != '-' ? 0 : 1;
  size_t digits = 0;
  for (; i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'); ++i) digits += text[i] != '.';
  if (digits == 0) return std::nullopt;
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

json Normalize(const json& value) {
  if (value.is_number()) return value.get<double>();
  // Upstream compares numbers as Python floats; float() of an int too large for one raises there.
  if (IsBigInt(value)) return BigIntToDouble(*IntegerDigits(value)).value_or(HUGE_VAL);
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (std::optional<double> number = ParseDecimal(text)) return *number;
    std::string lowered(Strip(text));
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    std::string_view s = lowered;
    for (std::string_view prefix : {std::string_view("at "), std::string_view("today at ")}) {
      if (s.substr(0, prefix.size()) == prefix) s = Strip(s.substr(prefix.size()));
    }
    return std::string(s);
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value) out.push_back(Normalize(item));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = Normalize(it.value());
    return out;
  }
  return value;
}

// A call as upstream's call_key sees it.
json CallKey(const ToolCall& call) {
  return json{{"name", SnakeCase(call.name)}, {"arguments", Normalize(call.arguments)}};
}

std::vector<ToolCall> ExpectedCalls(const EvalItem& item) {
  std::vector<ToolCall> calls;
  for (const ExpectedCall& answer : item.answers) {
    ToolCall call{answer.name, json::object()};
    for (const auto& [param, values] : answer.params) {
      bool optional = values.empty();
      for (const json& value : values) optional = optional || (value.is_string() && value.get<std::string>().empty());
      if (!optional) call.arguments[param] = values.front();
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

std::set<std::string> KeysOf(const json& object) {
  std::set<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
  return keys;
}

template <typename T>
int CountMissing(const std::set<T>& from, const std::set<T>& in) {
  int count = 0;
  for (const T& element : from) count += in.count(element) == 0;
  return count;
}

double Ratio(int numerator, int denominator) { return static_cast<double>(numerator) / std::max(denominator, 1); }

}  // namespace

bool ValuesMatch(const json& predicted, const json& expected) { return Normalize(predicted) == Normalize(expected); }

ItemScore ScoreItem(const EvalItem& item, const ParsedOutput& output) {
  ItemScore score;
  score.bfcl = BfclCheck(item, output);
  UpstreamCounts& c = score.counts;
  c.parsed = output.parsed ? 1 : 0;
  const std::vector<ToolCall> expected = ExpectedCalls(item);
  const std::vector<ToolCall> no_calls;
  const std::vector<ToolCall>& predicted = output.parsed ? output.calls : no_calls;

  std::set<std::string> expected_names, predicted_names;
  std::vector<json> expected_keys, predicted_keys;
  for (const ToolCall& call : expected) {
    expected_names.insert(SnakeCase(call.name));
    expected_keys.push_back(CallKey(call));
  }
  for (const ToolCall& call : predicted) {
    predicted_names.insert(SnakeCase(call.name));
    predicted_keys.push_back(CallKey(call));
  }
  c.name_fp = CountMissing(predicted_names, expected_names);
  c.name_fn = CountMissing(expected_names, predicted_names);
  c.name_tp = static_cast<int>(predicted_names.size()) - c.name_fp;

  std::sort(expected_keys.begin(), expected_keys.end());
  std::sort(predicted_keys.begin(), predicted_keys.end());
  c.exact_match = output.parsed && expected_keys == predicted_keys ? 1 : 0;
  const std::set<json> expected_set(expected_keys.begin(), expected_keys.end());
  const std::set<json> predicted_set(predicted_keys.begin(), predicted_keys.end());
  c.call_fp = CountMissing(predicted_set, expected_set);
  c.call_fn = CountMissing(expected_set, predicted_set);
  c.call_tp = static_cast<int>(predicted_set.size()) - c.call_fp;

  std::map<std::string, std::vector<const ToolCall*>> expected_by_name;
  for (const ToolCall& call : expected) expected_by_name[SnakeCase(call.name)].push_back(&call);
  std::map<std::string, std::set<std::string>> declared;
  for (const ToolSchema& tool : item.tools) {
    std::set<std::string>& keys = declared[SnakeCase(tool.name)];
    for (const ParamSchema& param : tool.params) keys.insert(param.name);
  }

  for (const ToolCall& call : predicted) {
    const std::string name = SnakeCase(call.name);
    const std::set<std::string> keys = KeysOf(call.arguments);
    if (auto tool = declared.find(name); tool != declared.end()) {
      c.predicted_args += static_cast<int>(keys.size());
      c.unknown_args += CountMissing(keys, tool->second);
    }
    auto same_name = expected_by_name.find(name);
    if (same_name == expected_by_name.end()) continue;
    ++c.paired_calls;
    const json arguments = Normalize(call.arguments);
    for (const ToolCall* candidate : same_name->second) {
      if (Normalize(candidate->arguments) == arguments) {
        ++c.paired_calls_args_exact;
        break;
      }
    }
    const json& first = same_name->second.front()->arguments;
    const std::set<std::string> expected_keys_of_first = KeysOf(first);
    c.paired_calls_keys_exact += keys == expected_keys_of_first ? 1 : 0;
    c.expected_args += static_cast<int>(expected_keys_of_first.size());
    c.missed_args += CountMissing(expected_keys_of_first, keys);
    c.hallucinated_args += CountMissing(keys, expected_keys_of_first);
    for (const std::string& key : keys) {
      if (expected_keys_of_first.count(key) == 0) continue;
      ++c.matched_args;
      c.correct_values += ValuesMatch(call.arguments.at(key), first.at(key)) ? 1 : 0;
    }
  }
  return score;
}

Metrics Summarize(const std::vector<const ItemScore*>& scores) {
  UpstreamCounts sum;
  int bfcl_valid = 0, items = 0;
  for (const ItemScore* score : scores) {
    if (score == nullptr) continue;
    const UpstreamCounts& c = score->counts;
    ++items;
    bfcl_valid += score->bfcl.valid ? 1 : 0;
    sum.parsed += c.parsed;
    sum.name_tp += c.name_tp;
    sum.name_fp += c.name_fp;
    sum.name_fn += c.name_fn;
    sum.call_tp += c.call_tp;
    sum.call_fp += c.call_fp;
    sum.call_fn += c.call_fn;
    sum.exact_match += c.exact_match;
    sum.paired_calls += c.paired_calls;
    sum.paired_calls_args_exact += c.paired_calls_args_exact;
    sum.paired_calls_keys_exact += c.paired_calls_keys_exact;
    sum.expected_args += c.expected_args;
    sum.hallucinated_args += c.hallucinated_args;
    sum.missed_args += c.missed_args;
    sum.matched_args += c.matched_args;
    sum.correct_values += c.correct_values;
    sum.predicted_args += c.predicted_args;
    sum.unknown_args += c.unknown_args;
  }
  auto f1 = [](double precision, double recall) { return 2 * precision * recall / std::max(precision + recall, 1e-9); };

  Metrics m;
  m.items = items;
  m.parse_rate = WilsonInterval(sum.parsed, items);
  m.exact_match = WilsonInterval(sum.exact_match, items);
  m.bfcl_accuracy = WilsonInterval(bfcl_valid, items);
  m.name_precision = Ratio(sum.name_tp, sum.name_tp + sum.name_fp);
  m.name_recall = Ratio(sum.name_tp, sum.name_tp + sum.name_fn);
  m.name_f1 = f1(m.name_precision, m.name_recall);
  m.call_precision = Ratio(sum.call_tp, sum.call_tp + sum.call_fp);
  m.call_recall = Ratio(sum.call_tp, sum.call_tp + sum.call_fn);
  m.call_f1 = f1(m.call_precision, m.call_recall);
  m.argument_accuracy = WilsonInterval(sum.paired_calls_args_exact, sum.paired_calls);
  m.value_accuracy = WilsonInterval(sum.correct_values, sum.matched_args);
  m.param_hallucination = WilsonInterval(sum.unknown_args, sum.predicted_args);
  m.param_miss = WilsonInterval(sum.missed_args, sum.expected_args);
  m.hallucinated_per_call = sum.paired_calls == 0 ? 0 : static_cast<double>(sum.hallucinated_args) / sum.paired_calls;
  m.missed_per_call = sum.paired_calls == 0 ? 0 : static_cast<double>(sum.missed_args) / sum.paired_calls;
  return m;
}

}  // namespace needle::evals
