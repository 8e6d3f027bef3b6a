#include "needle/evals/metrics.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace needle::evals {

using toolcalls::ParamSchema;
using toolcalls::ParsedOutput;
using toolcalls::ToolCall;

namespace {

using nlohmann::json;

TEST(ValuesMatch, NumbersAndNumericStringsCompareAsFloats) {
  EXPECT_TRUE(ValuesMatch("74.006", "74.0060"));
  EXPECT_TRUE(ValuesMatch(5, "5"));
  EXPECT_TRUE(ValuesMatch(5, 5.0));
  EXPECT_TRUE(ValuesMatch(" 1e3 ", 1000));
  EXPECT_TRUE(ValuesMatch("-0.5", -0.5));
  EXPECT_FALSE(ValuesMatch("5", 6));
  EXPECT_FALSE(ValuesMatch("1,000", 1000));
}

TEST(ValuesMatch, TextIsStrippedAndLowerCased) {
  EXPECT_TRUE(ValuesMatch(" San Francisco\n", "san francisco"));
  EXPECT_FALSE(ValuesMatch("San Francisco", "SanFrancisco"));
  EXPECT_FALSE(ValuesMatch("abc", "abd"));
}

TEST(ValuesMatch, UpstreamDropsTimePrefixes) {
  EXPECT_TRUE(ValuesMatch("at 9pm", "9pm"));
  EXPECT_TRUE(ValuesMatch("Today at 21:00", "21:00"));
  EXPECT_TRUE(ValuesMatch("at today at 7pm", "7PM"));
  // As upstream: the prefix goes after the numeric test, so "at 7" stays text.
  EXPECT_FALSE(ValuesMatch("at 7", "7"));
  EXPECT_FALSE(ValuesMatch("tonight", "21:00"));
}

TEST(ValuesMatch, BoolsAreNotNumbersOrText) {
  EXPECT_TRUE(ValuesMatch(true, true));
  EXPECT_FALSE(ValuesMatch(true, 1));
  EXPECT_FALSE(ValuesMatch(true, "true"));
  EXPECT_TRUE(ValuesMatch(nullptr, nullptr));
}

TEST(ValuesMatch, ListsAndObjectsElementWise) {
  EXPECT_TRUE(ValuesMatch(json({"A ", "1"}), json({"a", 1})));
  EXPECT_FALSE(ValuesMatch(json({"a", "b"}), json({"b", "a"})));
  EXPECT_TRUE(ValuesMatch(json({{"k", "X"}, {"n", 2}}), json({{"k", "x"}, {"n", "2.0"}})));
  EXPECT_FALSE(ValuesMatch(json({{"k", "x"}}), json({{"k", "x"}, {"n", 2}})));
}

ParamSchema Param(std::string name, std::string type, bool required = true) {
  ParamSchema param;
  param.name = std::move(name);
  param.type = std::move(type);
  param.required = required;
  return param;
}

ExpectedCall Expected(std::string name, std::vector<std::pair<std::string, std::vector<json>>> params) {
  return {std::move(name), std::move(params)};
}

// get_weather(city, unit?) and set_timer(minutes).
EvalItem WeatherItem(std::vector<ExpectedCall> answers) {
  EvalItem item;
  item.category = "weather";
  item.tools = {{"get_weather", "", {Param("city", "string"), Param("unit", "string", false)}},
                {"set_timer", "", {Param("minutes", "integer")}}};
  item.answers = std::move(answers);
  return item;
}

ParsedOutput Calls(std::vector<ToolCall> calls) {
  ParsedOutput output;
  output.parsed = true;
  output.format = "json";
  output.calls = std::move(calls);
  return output;
}

ParsedOutput Unparsable() {
  ParsedOutput output;
  output.error = "at byte offset 0: expected a JSON call list";
  return output;
}

ExpectedCall Paris() {
  return Expected("get_weather", {{"city", {json("Paris")}}, {"unit", {json("celsius"), json("")}}});
}

ExpectedCall Timer() { return Expected("set_timer", {{"minutes", {json(5)}}}); }

TEST(ScoreItem, PerfectCall) {
  ItemScore s = ScoreItem(WeatherItem({Timer()}), Calls({{"set_timer", {{"minutes", 5}}}}));
  const UpstreamCounts& c = s.counts;
  EXPECT_EQ(c.parsed, 1);
  EXPECT_EQ(c.name_tp, 1);
  EXPECT_EQ(c.name_fp + c.name_fn, 0);
  EXPECT_EQ(c.call_tp, 1);
  EXPECT_EQ(c.call_fp + c.call_fn, 0);
  EXPECT_EQ(c.exact_match, 1);
  EXPECT_EQ(c.paired_calls, 1);
  EXPECT_EQ(c.paired_calls_args_exact, 1);
  EXPECT_EQ(c.paired_calls_keys_exact, 1);
  EXPECT_EQ(c.expected_args, 1);
  EXPECT_EQ(c.matched_args, 1);
  EXPECT_EQ(c.correct_values, 1);
  EXPECT_EQ(c.missed_args + c.hallucinated_args, 0);
  EXPECT_EQ(c.predicted_args, 1);
  EXPECT_EQ(c.unknown_args, 0);
  EXPECT_TRUE(s.bfcl.valid);
}

TEST(ScoreItem, ValuesAreNormalisedForCallsAndExactMatch) {
  ItemScore s = ScoreItem(WeatherItem({Timer()}), Calls({{"set_timer", {{"minutes", "5"}}}}));
  EXPECT_EQ(s.counts.exact_match, 1);
  EXPECT_EQ(s.counts.call_tp, 1);
  EXPECT_EQ(s.counts.correct_values, 1);
  // BFCL is stricter: a string for an integer.
  EXPECT_FALSE(s.bfcl.valid);
  EXPECT_EQ(s.bfcl.error_type, "type_error:simple");
}

TEST(ScoreItem, OptionalAnswerParametersAreDroppedFromTheExpectedCall) {
  // "unit" accepts "", so the expected call is get_weather(city=Paris) only.
  ItemScore bare = ScoreItem(WeatherItem({Paris()}), Calls({{"get_weather", {{"city", "paris"}}}}));
  EXPECT_EQ(bare.counts.exact_match, 1);
  EXPECT_EQ(bare.counts.expected_args, 1);
  EXPECT_TRUE(bare.bfcl.valid);

  ItemScore with_unit =
      ScoreItem(WeatherItem({Paris()}), Calls({{"get_weather", {{"city", "Paris"}, {"unit", "celsius"}}}}));
  const UpstreamCounts& c = with_unit.counts;
  EXPECT_EQ(c.exact_match, 0);
  EXPECT_EQ(c.call_fp, 1);
  EXPECT_EQ(c.call_fn, 1);
  EXPECT_EQ(c.paired_calls_args_exact, 0);
  EXPECT_EQ(c.paired_calls_keys_exact, 0);
  EXPECT_EQ(c.hallucinated_args, 1);  // not in the expected call...
  EXPECT_EQ(c.unknown_args, 0);       // ...but declared by the tool
  EXPECT_EQ(c.predicted_args, 2);
  EXPECT_TRUE(with_unit.bfcl.valid);  // BFCL accepts either
}

TEST(ScoreItem, WrongValue) {
  ItemScore s = ScoreItem(WeatherItem({Timer()}), Calls({{"set_timer", {{"minutes", 10}}}}));
  const UpstreamCounts& c = s.counts;
  EXPECT_EQ(c.name_tp, 1);
  EXPECT_EQ(c.call_tp, 0);
  EXPECT_EQ(c.call_fp, 1);
  EXPECT_EQ(c.call_fn, 1);
  EXPECT_EQ(c.exact_match, 0);
  EXPECT_EQ(c.paired_calls, 1);
  EXPECT_EQ(c.paired_calls_args_exact, 0);
  EXPECT_EQ(c.paired_calls_keys_exact, 1);
  EXPECT_EQ(c.matched_args, 1);
  EXPECT_EQ(c.correct_values, 0);
  EXPECT_EQ(s.bfcl.error_type, "value_error:others");
}

TEST(ScoreItem, MissedAndUnknownArguments) {
  ItemScore s = ScoreItem(WeatherItem({Paris()}), Calls({{"get_weather", {{"town", "Paris"}}}}));
  const UpstreamCounts& c = s.counts;
  EXPECT_EQ(c.expected_args, 1);
  EXPECT_EQ(c.missed_args, 1);
  EXPECT_EQ(c.hallucinated_args, 1);
  EXPECT_EQ(c.matched_args, 0);
  EXPECT_EQ(c.predicted_args, 1);
  EXPECT_EQ(c.unknown_args, 1);
  EXPECT_EQ(s.bfcl.error_type, "simple_function_checker:missing_required");
}

TEST(ScoreItem, WrongToolIsAFalsePositiveAndAFalseNegative) {
  ItemScore s = ScoreItem(WeatherItem({Timer()}), Calls({{"get_weather", {{"city", "Paris"}}}}));
  const UpstreamCounts& c = s.counts;
  EXPECT_EQ(c.name_tp, 0);
  EXPECT_EQ(c.name_fp, 1);
  EXPECT_EQ(c.name_fn, 1);
  EXPECT_EQ(c.paired_calls, 0);
  EXPECT_EQ(c.predicted_args, 1);  // a listed tool, so its keys are checked against it
  EXPECT_EQ(s.bfcl.error_type, "simple_function_checker:wrong_func_name");
}

TEST(ScoreItem, NamesAreComparedInSnakeCase) {
  ItemScore s = ScoreItem(WeatherItem({Timer()}), Calls({{"setTimer", {{"minutes", 5}}}}));
  EXPECT_EQ(s.counts.name_tp, 1);
  EXPECT_EQ(s.counts.exact_match, 1);
  EXPECT_EQ(s.counts.paired_calls, 1);
  EXPECT_FALSE(s.bfcl.valid);  // BFCL compares names exactly
}

TEST(ScoreItem, SeveralCallsInAnyOrder) {
  ItemScore s = ScoreItem(WeatherItem({Paris(), Timer()}),
                          Calls({{"set_timer", {{"minutes", 5}}}, {"get_weather", {{"city", "Paris"}}}}));
  EXPECT_EQ(s.counts.exact_match, 1);
  EXPECT_EQ(s.counts.name_tp, 2);
  EXPECT_EQ(s.counts.call_tp, 2);
  EXPECT_EQ(s.counts.paired_calls, 2);
  EXPECT_TRUE(s.bfcl.valid);
}

TEST(ScoreItem, DuplicateCallsCountOnceForCallsButBreakExactMatch) {
  ItemScore s =
      ScoreItem(WeatherItem({Timer()}), Calls({{"set_timer", {{"minutes", 5}}}, {"set_timer", {{"minutes", 5}}}}));
  EXPECT_EQ(s.counts.call_tp, 1);
  EXPECT_EQ(s.counts.call_fp, 0);
  EXPECT_EQ(s.counts.exact_match, 0);
  EXPECT_EQ(s.counts.paired_calls, 2);
}

TEST(ScoreItem, NoCallExpectedNoCallMade) {
  ItemScore s = ScoreItem(WeatherItem({}), Calls({}));
  EXPECT_EQ(s.counts.exact_match, 1);
  EXPECT_EQ(s.counts.name_tp + s.counts.name_fp + s.counts.name_fn, 0);
  EXPECT_EQ(s.counts.call_tp + s.counts.call_fp + s.counts.call_fn, 0);
  EXPECT_TRUE(s.bfcl.valid);
}

TEST(ScoreItem, CallWhereNoneWasExpected) {
  ItemScore s = ScoreItem(WeatherItem({}), Calls({{"set_timer", {{"minutes", 5}}}}));
  EXPECT_EQ(s.counts.exact_match, 0);
  EXPECT_EQ(s.counts.name_fp, 1);
  EXPECT_EQ(s.counts.call_fp, 1);
  EXPECT_EQ(s.bfcl.error_type, "irrelevance_error:decoder_success");
}

TEST(ScoreItem, UnparsableOutputMissesEverything) {
  ItemScore s = ScoreItem(WeatherItem({Paris(), Timer()}), Unparsable());
  const UpstreamCounts& c = s.counts;
  EXPECT_EQ(c.parsed, 0);
  EXPECT_EQ(c.name_fn, 2);
  EXPECT_EQ(c.call_fn, 2);
  EXPECT_EQ(c.name_tp + c.name_fp + c.call_tp + c.call_fp, 0);
  EXPECT_EQ(c.exact_match, 0);
  EXPECT_EQ(c.paired_calls, 0);
  EXPECT_EQ(s.bfcl.error_type, "ast_decoder:decoder_failed");
}

TEST(ScoreItem, UnparsableOutputIsNotAnExactMatchForNoCall) {
  ItemScore s = ScoreItem(WeatherItem({}), Unparsable());
  EXPECT_EQ(s.counts.exact_match, 0);
  EXPECT_TRUE(s.bfcl.valid);  // BFCL's irrelevance: a decode failure holds no call
}

TEST(Summarize, MicroAveragesWithIntervals) {
  ItemScore perfect = ScoreItem(WeatherItem({Timer()}), Calls({{"set_timer", {{"minutes", 5}}}}));
  ItemScore wrong_value = ScoreItem(WeatherItem({Timer()}), Calls({{"set_timer", {{"minutes", 10}}}}));
  ItemScore wrong_tool = ScoreItem(WeatherItem({Timer()}), Calls({{"get_weather", {{"city", "Paris"}}}}));
  ItemScore garbage = ScoreItem(WeatherItem({Timer()}), Unparsable());
  Metrics m = Summarize({&perfect, &wrong_value, &wrong_tool, &garbage, nullptr});
  EXPECT_EQ(m.items, 4);
  EXPECT_EQ(m.parse_rate.successes, 3);
  EXPECT_EQ(m.parse_rate.total, 4);
  EXPECT_DOUBLE_EQ(m.exact_match.value, 0.25);
  EXPECT_EQ(m.bfcl_accuracy.successes, 1);
  EXPECT_GT(m.bfcl_accuracy.high, m.bfcl_accuracy.value);
  // Names: tp 2, fp 1 (get_weather), fn 2 (wrong tool, garbage).
  EXPECT_DOUBLE_EQ(m.name_precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.name_recall, 2.0 / 4);
  EXPECT_DOUBLE_EQ(m.name_f1, 2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5));
  // Calls: tp 1, fp 2, fn 3.
  EXPECT_DOUBLE_EQ(m.call_precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.call_recall, 1.0 / 4);
  EXPECT_EQ(m.argument_accuracy.successes, 1);
  EXPECT_EQ(m.argument_accuracy.total, 2);
  EXPECT_EQ(m.value_accuracy.successes, 1);
  EXPECT_EQ(m.value_accuracy.total, 2);
  EXPECT_EQ(m.param_hallucination.successes, 0);
  EXPECT_EQ(m.param_hallucination.total, 3);
  EXPECT_EQ(m.param_miss.successes, 0);
  EXPECT_EQ(m.param_miss.total, 2);
  EXPECT_DOUBLE_EQ(m.hallucinated_per_call, 0);
  EXPECT_DOUBLE_EQ(m.missed_per_call, 0);
}

TEST(Summarize, PerCallRates) {
  ItemScore a = ScoreItem(WeatherItem({Paris()}), Calls({{"get_weather", {{"town", "Paris"}, {"x", 1}}}}));
  ItemScore b = ScoreItem(WeatherItem({Paris()}), Calls({{"get_weather", {{"city", "Paris"}}}}));
  Metrics m = Summarize({&a, &b});
  EXPECT_DOUBLE_EQ(m.hallucinated_per_call, 1.0);  // 2 over 2 paired calls
  EXPECT_DOUBLE_EQ(m.missed_per_call, 0.5);
  EXPECT_EQ(m.param_hallucination.successes, 2);
  EXPECT_EQ(m.param_hallucination.total, 3);
}

TEST(Summarize, NothingToSummarize) {
  Metrics m = Summarize({});
  EXPECT_EQ(m.items, 0);
  EXPECT_DOUBLE_EQ(m.exact_match.value, 0);
  EXPECT_DOUBLE_EQ(m.name_f1, 0);
  EXPECT_DOUBLE_EQ(m.call_precision, 0);
}

}  // namespace
}  // namespace needle::evals
