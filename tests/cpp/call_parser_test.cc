#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/toolcalls/call.h"

namespace needle::toolcalls {
namespace {

using json = nlohmann::ordered_json;  // a call keeps its arguments in the order written
using ::testing::HasSubstr;

ParsedOutput MustParse(const std::string& text) {
  ParsedOutput out = ParseOutput(text);
  EXPECT_TRUE(out.parsed) << text << " -> " << out.error;
  return out;
}

// The error names an offset; checks it is the one given.
void ExpectUnparsable(const std::string& text, const std::string& offset, const std::string& reason) {
  ParsedOutput out = ParseOutput(text);
  EXPECT_FALSE(out.parsed) << text;
  EXPECT_TRUE(out.calls.empty());
  EXPECT_THAT(out.error, HasSubstr("byte offset " + offset)) << text;
  EXPECT_THAT(out.error, HasSubstr(reason)) << text;
}

TEST(CallParser, NeedleJsonList) {
  ParsedOutput out = MustParse(R"([{"name":"get_weather","arguments":{"location":"San Francisco"}}])");
  EXPECT_EQ(out.format, "json");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, json({{"location", "San Francisco"}}));
}

TEST(CallParser, SeveralCallsKeepTheirOrder) {
  ParsedOutput out = MustParse(R"([{"name":"b","arguments":{}},{"name":"a","arguments":{"x":1}}])");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "b");
  EXPECT_EQ(out.calls[1].name, "a");
  EXPECT_EQ(out.calls[1].arguments["x"], 1);
}

TEST(CallParser, EmptyListIsNoCall) {
  ParsedOutput out = MustParse("[]");
  EXPECT_EQ(out.format, "json");
  EXPECT_TRUE(out.calls.empty());
}

TEST(CallParser, EmptyOrBlankTextIsNoCall) {
  for (const std::string text : {"", "  \n\t "}) {
    ParsedOutput out = MustParse(text);
    EXPECT_EQ(out.format, "empty");
    EXPECT_TRUE(out.calls.empty());
  }
}

TEST(CallParser, SingleObjectIsOneCall) {
  ParsedOutput out = MustParse(R"(  {"name":"set_timer","arguments":{"minutes":5}}  )");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments["minutes"], 5);
}

TEST(CallParser, MissingArgumentsAreEmpty) {
  ParsedOutput out = MustParse(R"([{"name":"stop"}])");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, json::object());
}

TEST(CallParser, OpenAiArgumentsString) {
  ParsedOutput out = MustParse(R"([{"name":"f","arguments":"{\"a\": [1, 2], \"b\": \"x\"}"}])");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, json({{"a", {1, 2}}, {"b", "x"}}));
}

TEST(CallParser, OpenAiEmptyArgumentsStringIsNoArguments) {
  ParsedOutput out = MustParse(R"([{"name":"f","arguments":""}])");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, json::object());
}

TEST(CallParser, OpenAiToolCallsEntryIsUnwrapped) {
  ParsedOutput out =
      MustParse(R"([{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"q\":1}"}}])");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "f");
  EXPECT_EQ(out.calls[0].arguments["q"], 1);
}

TEST(CallParser, LeadingToolCallTokenOfNeedle) {
  ParsedOutput out = MustParse(" <tool_call>[{\"name\":\"f\",\"arguments\":{}}]\n");
  EXPECT_EQ(out.format, "json");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "f");
  EXPECT_TRUE(MustParse("<tool_call>[]").calls.empty());
}

TEST(CallParser, Hermes) {
  ParsedOutput out = MustParse(
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "  <tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>\n");
  EXPECT_EQ(out.format, "hermes");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments["city"], "Paris");
  EXPECT_EQ(out.calls[1].name, "get_time");
}

TEST(CallParser, HermesAfterThinkBlock) {
  ParsedOutput out = MustParse("<think>\nweather, so\n</think>\n\n<tool_call>{\"name\":\"w\"}</tool_call>");
  EXPECT_EQ(out.format, "hermes");
  ASSERT_EQ(out.calls.size(), 1u);
}

TEST(CallParser, HermesProseBetweenOrAfterTagsIsUnparsable) {
  //          0123456789012345678901234567890123456789
  ExpectUnparsable("<tool_call>{\"name\":\"f\"}</tool_call> Done!", "36", "expected <tool_call>");
}

TEST(CallParser, HermesUnclosedSecondTag) {
  ExpectUnparsable("<tool_call>{\"name\":\"f\"}</tool_call><tool_call>{\"name\":\"g\"}", "35", "never closed");
}

TEST(CallParser, HermesBadJsonInsideTag) {
  ParsedOutput out = ParseOutput("<tool_call>{\"name\": f}</tool_call>");
  EXPECT_FALSE(out.parsed);
  EXPECT_THAT(out.error, HasSubstr("byte offset 21"));
  EXPECT_THAT(out.error, HasSubstr("invalid JSON"));
}

TEST(CallParser, HermesTagMustHoldAnObject) {
  ExpectUnparsable("<tool_call>[{\"name\":\"f\"}]</tool_call>", "0", "expected a call object");
}

TEST(CallParser, FunctionGemma) {
  ParsedOutput out = MustParse(
      "<start_function_call>call:get_weather{location:<escape>San Francisco, CA<escape>,days:3,"
      "metric:true,ratio:-0.5,note:null}<end_function_call>");
  EXPECT_EQ(out.format, "function_gemma");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(
      out.calls[0].arguments,
      json({{"location", "San Francisco, CA"}, {"days", 3}, {"metric", true}, {"ratio", -0.5}, {"note", nullptr}}));
  EXPECT_TRUE(out.calls[0].arguments["days"].is_number_integer());
  EXPECT_TRUE(out.calls[0].arguments["ratio"].is_number_float());
}

TEST(CallParser, FunctionGemmaNestedValuesAndSeveralCalls) {
  ParsedOutput out = MustParse(
      "<start_function_call>call:math.sum{numbers:[1, 2.5, <escape>x<escape>],opts:{deep:{k:[]}, flag:false}}"
      "<end_function_call>\n<start_function_call>call:noop{}<end_function_call>");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "math.sum");
  EXPECT_EQ(out.calls[0].arguments["numbers"], json({1, 2.5, "x"}));
  EXPECT_EQ(out.calls[0].arguments["opts"], json({{"deep", {{"k", json::array()}}}, {"flag", false}}));
  EXPECT_EQ(out.calls[1].name, "noop");
  EXPECT_EQ(out.calls[1].arguments, json::object());
}

TEST(CallParser, FunctionGemmaEscapedStringKeepsDelimiters) {
  ParsedOutput out = MustParse("<start_function_call>call:f{text:<escape>a, b: {c} [d]<escape>}<end_function_call>");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments["text"], "a, b: {c} [d]");
}

TEST(CallParser, FunctionGemmaUnquotedWordIsUnparsable) {
  //                0         1         2         3
  //                0123456789012345678901234567890
  ExpectUnparsable("<start_function_call>call:f{city:Paris}<end_function_call>", "33", "unquoted value");
}

TEST(CallParser, FunctionGemmaUnterminatedEscape) {
  ExpectUnparsable("<start_function_call>call:f{city:<escape>Paris}<end_function_call>", "33", "never closed");
}

TEST(CallParser, FunctionGemmaMissingEnd) {
  ExpectUnparsable("<start_function_call>call:f{a:1}", "32", "expected <end_function_call>");
}

TEST(CallParser, FunctionGemmaUnclosedBrace) {
  ExpectUnparsable("<start_function_call>call:f{a:1", "27", "never closed by '}'");
}

TEST(CallParser, FunctionGemmaMissingCallPrefix) {
  ExpectUnparsable("<start_function_call>f{a:1}<end_function_call>", "21", "expected \"call:\"");
}

TEST(CallParser, FunctionGemmaDeepNestingIsRefused) {
  std::string deep =
      "<start_function_call>call:f{a:" + std::string(200, '[') + std::string(200, ']') + "}<end_function_call>";
  ParsedOutput out = ParseOutput(deep);
  EXPECT_FALSE(out.parsed);
  EXPECT_THAT(out.error, HasSubstr("nested deeper"));
}

TEST(CallParser, FunctionGemmaEscapedKeys) {
  ParsedOutput out = MustParse("<start_function_call>call:f{<escape>a key<escape>: 1.5e3}<end_function_call>");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments["a key"], 1500.0);
}

TEST(CallParser, FunctionGemmaKeyWithoutColon) {
  ExpectUnparsable("<start_function_call>call:f{a 1}<end_function_call>", "30", "expected ':'");
}

TEST(CallParser, EveryPrefixOfAValidOutputParsesOrNamesAnOffset) {
  const std::string outputs[] = {
      R"(<tool_call>[{"name":"f","arguments":{"a":[1,{"b":"c"}]}}])",
      "<tool_call>{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}</tool_call>\n<tool_call>{\"name\":\"g\"}</"
      "tool_call>",
      "<start_function_call>call:f{a:<escape>x<escape>,b:[1,{c:true}]}<end_function_call>",
  };
  for (const std::string& full : outputs) {
    ASSERT_TRUE(ParseOutput(full).parsed) << full;
    for (size_t length = 0; length < full.size(); ++length) {
      const std::string prefix = full.substr(0, length);
      ParsedOutput out = ParseOutput(prefix);
      if (!out.parsed) {
        EXPECT_THAT(out.error, HasSubstr("byte offset")) << prefix;
      }
    }
  }
}

TEST(CallParser, ProseIsUnparsableNotNoCall) {
  ExpectUnparsable("  I cannot help with that.", "2", "expected a JSON call list");
}

TEST(CallParser, TruncatedJsonIsUnparsable) {
  ParsedOutput out = ParseOutput(R"([{"name":"f","arguments":{"a":)");
  EXPECT_FALSE(out.parsed);
  EXPECT_THAT(out.error, HasSubstr("invalid JSON"));
  EXPECT_THAT(out.error, HasSubstr("byte offset 30"));
}

TEST(CallParser, TrailingGarbageAfterJsonIsUnparsable) {
  ParsedOutput out = ParseOutput(R"([{"name":"f"}] thanks)");
  EXPECT_FALSE(out.parsed);
  EXPECT_THAT(out.error, HasSubstr("byte offset 16"));
}

TEST(CallParser, NameMustBeANonEmptyString) {
  ExpectUnparsable(R"([{"name":""}])", "0", "\"name\" must be a non-empty string");
  ExpectUnparsable(R"([{"name":"f"},{"name":7}])", "0", "call 1");
  ExpectUnparsable(R"([{"arguments":{}}])", "0", "missing \"name\"");
}

TEST(CallParser, ArgumentsMustBeAnObject) {
  ExpectUnparsable(R"([{"name":"f","arguments":[1]}])", "0", "\"arguments\" must be an object");
  ExpectUnparsable(R"([{"name":"f","arguments":"[1]"}])", "0", "must hold a JSON object");
  ExpectUnparsable(R"([{"name":"f","arguments":"{oops"}])", "0", "not valid JSON");
}

// Other models' output is outside input: deep nesting is unparsable output, not a crash.
TEST(CallParser, DeepNestingIsUnparsable) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  ParsedOutput out = ParseOutput(R"([{"name":"f","arguments":{"a":)" + deep + "}}]");
  EXPECT_FALSE(out.parsed);
  EXPECT_THAT(out.error, HasSubstr("nested deeper than 128 levels"));
  out = ParseOutput("<tool_call>" + deep + "</tool_call>");
  EXPECT_FALSE(out.parsed);
  EXPECT_THAT(out.error, HasSubstr("nested deeper than 128 levels"));
  ExpectUnparsable(R"([{"name":"f","arguments":")" + deep + R"("}])", "0", "nested deeper than 128 levels");
}

TEST(CallParser, ListElementsMustBeCallObjects) {
  ExpectUnparsable(R"(["f"])", "0", "expected a call object");
  ExpectUnparsable(R"([{}])", "0", "missing \"name\"");
}

TEST(CallParser, CallsToJsonIsCompactWithNameFirstAndArgumentsInTheirOrder) {
  std::vector<ToolCall> calls = {{"get_weather", json({{"location", "San Francisco"}, {"days", 2}})},
                                 {"stop", json::object()}};
  EXPECT_EQ(CallsToJson(calls), R"([{"name":"get_weather","arguments":{"location":"San Francisco","days":2}},)"
                                R"({"name":"stop","arguments":{}}])");
  EXPECT_EQ(CallsToJson({}), "[]");
}

TEST(CallParser, CallsToJsonRoundTrips) {
  const std::string text = R"([{"name":"f","arguments":{"a":[1,2.5,"x"],"b":{"c":null}}}])";
  ParsedOutput out = MustParse(text);
  EXPECT_EQ(CallsToJson(out.calls), text);
}

// Found by fuzz/output_parser_fuzzer: FunctionGemma keys and strings used to
// pass broken UTF-8 on, so the calls no longer matched once written as JSON.
TEST(CallParser, InvalidUtf8IsUnparsableWithItsOffset) {
  ExpectUnparsable("<start_function_call>call:get_weather{\xffocation:<escape>Paris<escape>}<end_function_call>", "38",
                   "invalid UTF-8");
  ExpectUnparsable("[{\"name\":\"f\",\"arguments\":{\"s\":\"caf\xc3\"}}]", "34", "invalid UTF-8");
}

// Numbers past a double's range make nlohmann::json throw out_of_range, not parse_error.
TEST(CallParser, NumbersOutOfRangeAreUnparsableNotAThrow) {
  ExpectUnparsable(R"([{"name":"f","arguments":{"n":1e999}}])", "0", "number overflow");
  ExpectUnparsable(R"([{"name":"f","arguments":"{\"n\": -1e999}"}])", "0", "number overflow");
  ExpectUnparsable("<start_function_call>call:f{n:1e999}<end_function_call>", "30", "out of range");
}

TEST(CallParser, CallsToJsonSurvivesInvalidUtf8) {
  std::vector<ToolCall> calls = {{"f", json({{"s", std::string("a\xff")}})}};
  EXPECT_NO_THROW(CallsToJson(calls));
}

}  // namespace
}  // namespace needle::toolcalls
