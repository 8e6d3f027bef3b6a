#include "needle/evals/python_call.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace needle::evals {
namespace {

using nlohmann::ordered_json;
using ::testing::HasSubstr;

PythonCall One(const std::string& text) {
  absl::StatusOr<std::vector<PythonCall>> calls = ParsePythonCalls(text);
  EXPECT_TRUE(calls.ok()) << text << ": " << calls.status();
  if (!calls.ok() || calls->size() != 1) return PythonCall();
  return (*calls)[0];
}

TEST(PythonCall, KeywordArgumentsInOrder) {
  PythonCall call = One(R"(get_weather(city="Paris", days=3, metric=True, note=None))");
  EXPECT_EQ(call.name, "get_weather");
  EXPECT_EQ(call.keyword_arguments.dump(), R"({"city":"Paris","days":3,"metric":true,"note":null})");
  EXPECT_TRUE(call.positional_arguments.empty());
}

TEST(PythonCall, LiteralsAsPythonWritesThem) {
  PythonCall call = One(
      R"( math.hypot ( 'it\'s', "a" 'b', r"\d", -1.5, 1_000, .5, 5., 2e3, [1, (2, 3)], {'k': [1], 2: "x"}, "\u00e9\x41", ) )");
  EXPECT_EQ(call.name, "math.hypot");
  ASSERT_EQ(call.positional_arguments.size(), 11u);
  EXPECT_EQ(call.positional_arguments[0], "it's");
  EXPECT_EQ(call.positional_arguments[1], "ab");
  EXPECT_EQ(call.positional_arguments[2], "\\d");
  EXPECT_EQ(call.positional_arguments[3], -1.5);
  EXPECT_EQ(call.positional_arguments[4], 1000);
  EXPECT_TRUE(call.positional_arguments[4].is_number_integer());
  EXPECT_EQ(call.positional_arguments[5], 0.5);
  EXPECT_EQ(call.positional_arguments[6], 5.0);
  EXPECT_TRUE(call.positional_arguments[6].is_number_float());
  EXPECT_EQ(call.positional_arguments[7], 2000.0);
  EXPECT_EQ(call.positional_arguments[8].dump(), "[1,[2,3]]");
  EXPECT_EQ(call.positional_arguments[9].dump(), R"({"k":[1],"2":"x"})");
  EXPECT_EQ(call.positional_arguments[10],
            "\xC3\xA9"
            "A");
}

TEST(PythonCall, ListOfCalls) {
  absl::StatusOr<std::vector<PythonCall>> calls = ParsePythonCalls("[f(a=1), g(), h(b='x'),]");
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_EQ(calls->size(), 3u);
  EXPECT_EQ((*calls)[1].name, "g");
  EXPECT_TRUE((*calls)[1].keyword_arguments.empty());
  EXPECT_EQ((*calls)[2].keyword_arguments["b"], "x");
}

// Everything that is not a literal call is an error naming the byte offset.
TEST(PythonCall, BrokenInputIsAnErrorWithItsOffset) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"", "byte 0: expected a function name"},
      {"f", "byte 1: expected '(' after the function name"},
      {"f(a=1", "unclosed '('"},
      {"f(a=1 b=2)", "byte 6: expected ',' or ')' between arguments"},
      {"f(a=x)", "byte 4: \"x\" is not a literal"},
      {"f(a='x)", "unterminated string"},
      {"f(a='''x''')", "triple-quoted strings are not read"},
      {"f(a=1, a=2)", "argument \"a\" given twice"},
      {"f(a=1, 2)", "positional argument after keyword arguments"},
      {"f(a=[1, 2)", "expected ',' or ']'"},
      {"f(a={1: 2, True: 3})", "a dict key must be a string or a number"},
      {"f(a=007)", "integers do not start with 0"},
      {"f(a=1e999)", "out of a double's range"},
      {"f(a='\\u12')", "\\u needs 4 hex digits"},
      {"f(a='\\ud800')", "escape names no Unicode character"},
      {"f() g()", "unexpected text after the call"},
      {"[f(), g()", "expected ',' or ']' between calls"},
      {"f(a=-)", "expected a number"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<PythonCall>> calls = ParsePythonCalls(c.text);
    ASSERT_FALSE(calls.ok()) << c.text;
    EXPECT_THAT(std::string(calls.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(PythonCall, DeepNestingIsRefusedNotACrash) {
  const std::string deep = "f(a=" + std::string(100000, '[') + std::string(100000, ']') + ")";
  absl::StatusOr<std::vector<PythonCall>> calls = ParsePythonCalls(deep);
  ASSERT_FALSE(calls.ok());
  EXPECT_THAT(std::string(calls.status().message()), HasSubstr("nested deeper than"));
}

}  // namespace
}  // namespace needle::evals
