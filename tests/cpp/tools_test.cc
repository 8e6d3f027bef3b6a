#include "needle/tools.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/str_cat.h"

namespace needle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(SnakeCaseTest, CommonSpellingsOfOneName) {
  EXPECT_EQ(SnakeCase("getWeather"), "get_weather");
  EXPECT_EQ(SnakeCase("GetWeather"), "get_weather");
  EXPECT_EQ(SnakeCase("get-weather"), "get_weather");
  EXPECT_EQ(SnakeCase("get.weather"), "get_weather");
  EXPECT_EQ(SnakeCase("get weather"), "get_weather");
  EXPECT_EQ(SnakeCase("get_weather"), "get_weather");
  EXPECT_EQ(SnakeCase("GET_WEATHER"), "get_weather");
  EXPECT_EQ(SnakeCase("Get_Weather"), "get_weather");
}

TEST(SnakeCaseTest, AlreadySnakeIsUnchanged) {
  EXPECT_EQ(SnakeCase("already_snake"), "already_snake");
  EXPECT_EQ(SnakeCase("x"), "x");
  EXPECT_EQ(SnakeCase("set_timer_2"), "set_timer_2");
}

TEST(SnakeCaseTest, Acronyms) {
  // An upper-case letter after another one starts a new word only when a
  // lower-case letter follows it (the start of a capitalised word).
  EXPECT_EQ(SnakeCase("HTTPRequest"), "http_request");
  EXPECT_EQ(SnakeCase("getHTTPResponse"), "get_http_response");
  EXPECT_EQ(SnakeCase("sendSMS"), "send_sms");
  EXPECT_EQ(SnakeCase("URL"), "url");
  EXPECT_EQ(SnakeCase("parseJSONToXML"), "parse_json_to_xml");
  EXPECT_EQ(SnakeCase("ABTest"), "ab_test");
}

TEST(SnakeCaseTest, Digits) {
  // A digit ends a word like a lower-case letter does; it never starts one.
  EXPECT_EQ(SnakeCase("setTimer2Minutes"), "set_timer2_minutes");
  EXPECT_EQ(SnakeCase("v2Api"), "v2_api");
  EXPECT_EQ(SnakeCase("get2fa"), "get2fa");
  EXPECT_EQ(SnakeCase("OAuth2Token"), "o_auth2_token");
}

TEST(SnakeCaseTest, SeparatorsCollapse) {
  EXPECT_EQ(SnakeCase("get__weather"), "get_weather");
  EXPECT_EQ(SnakeCase("get - weather"), "get_weather");
  EXPECT_EQ(SnakeCase("get._Weather"), "get_weather");
  EXPECT_EQ(SnakeCase("my.tool-name here"), "my_tool_name_here");
}

TEST(SnakeCaseTest, UpstreamRuleForOtherCharacters) {
  // Upstream: every run of characters outside [A-Za-z0-9_] becomes "_", and
  // leading and trailing "_" are stripped.
  EXPECT_EQ(SnakeCase("get/weather"), "get_weather");
  EXPECT_EQ(SnakeCase("ns:tool"), "ns_tool");
  EXPECT_EQ(SnakeCase("tool(v2)"), "tool_v2");
  EXPECT_EQ(SnakeCase("get_weather_"), "get_weather");
  EXPECT_EQ(SnakeCase("caf\xC3\xA9_info"), "caf_info");  // "café_info"
  EXPECT_EQ(SnakeCase("a+b=c"), "a_b_c");
  EXPECT_EQ(SnakeCase("$tool!"), "tool");
}

TEST(SnakeCaseTest, EdgesAreStripped) {
  EXPECT_EQ(SnakeCase("_private"), "private");
  EXPECT_EQ(SnakeCase("-x-"), "x");
  EXPECT_EQ(SnakeCase("__a__b__"), "a_b");
  EXPECT_EQ(SnakeCase(""), "");
  EXPECT_EQ(SnakeCase("___"), "");
}

TEST(SnakeCaseTest, NonAsciiCharactersAreSeparators) {
  EXPECT_EQ(SnakeCase("m\xC3\xA9t\xC3\xA9o"), "m_t_o");  // "météo"
  EXPECT_EQ(SnakeCase("getM\xC3\xA9t\xC3\xA9o"), "get_m_t_o");
  EXPECT_EQ(SnakeCase("\xE5\xA4\xA9\xE6\xB0\x97"), "");  // "天気"
}

TEST(SnakeCaseTest, IsIdempotent) {
  for (const char* name :
       {"getWeather", "HTTPRequest", "setTimer2Minutes", "my.tool-name here", "ABTest", "tool(v2)", "_x_"}) {
    EXPECT_EQ(SnakeCase(SnakeCase(name)), SnakeCase(name)) << name;
  }
}

// ---- ToolSet::Parse

std::string ParseError(std::string_view json) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(json);
  EXPECT_FALSE(tools.ok()) << "accepted " << json;
  return tools.ok() ? "" : std::string(tools.status().message());
}

TEST(ToolSetTest, ParsesUpstreamFormat) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(R"([
    {"name": "getWeather", "description": "Weather now",
     "parameters": {"location": {"type": "string", "description": "City", "required": true},
                    "unit": {"type": "string"}}},
    {"name": "ping"}
  ])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  ASSERT_EQ(tools->tools().size(), 2u);
  EXPECT_EQ(tools->tools()[0].name, "getWeather");
  EXPECT_EQ(tools->tools()[0].snake_name, "get_weather");
  EXPECT_THAT(tools->tools()[0].argument_keys, ElementsAre("location", "unit"));
  EXPECT_EQ(tools->tools()[1].name, "ping");
  EXPECT_THAT(tools->tools()[1].argument_keys, IsEmpty());
}

TEST(ToolSetTest, EmptyListIsValid) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse("[]");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_TRUE(tools->tools().empty());
  EXPECT_EQ(tools->prompt_json(), "[]");
}

TEST(ToolSetTest, JsonSchemaParametersUseTheirProperties) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(R"([{"name": "set_timer", "parameters": {
      "type": "object",
      "properties": {"minutes": {"type": "number"}, "label": {"type": "string"}},
      "required": ["minutes"]}}])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_THAT(tools->tools()[0].argument_keys, ElementsAre("minutes", "label"));
}

TEST(ToolSetTest, JsonSchemaWithoutPropertiesHasNoArguments) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(R"([{"name": "ping", "parameters": {"type": "object"}}])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_TRUE(tools->tools()[0].argument_keys.empty());
}

TEST(ToolSetTest, ArgumentKeysKeepTheirSpelling) {
  // Only tool names are converted; the model writes argument keys as given.
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(R"([{"name": "a", "parameters": {"cityName": {}}}])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_THAT(tools->tools()[0].argument_keys, ElementsAre("cityName"));
  EXPECT_THAT(tools->prompt_json(), HasSubstr("\"cityName\""));
}

TEST(ToolSetTest, NotJsonNamesWhereAndWhy) {
  EXPECT_THAT(ParseError("[{\"name\": "),
              HasSubstr("tools: not valid JSON: parse error at line 1, column 11: syntax error"));
  EXPECT_THAT(ParseError("[{\"name\": \"caf\xC3\"}]"), HasSubstr("ill-formed UTF-8"));
}

// Found by fuzz/tools_json_fuzzer: a number past a double's range is an
// out_of_range exception, which escaped the parse-error handling.
TEST(ToolSetTest, NumberOutOfRangeIsAnErrorNotAThrow) {
  EXPECT_THAT(ParseError(R"([{"name":"f","description":"d","x":-4E4444}])"), HasSubstr("tools: not valid JSON"));
}

// 200,000 levels of nesting in one parameter's enum crashed the process.
TEST(ToolSetTest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_THAT(ParseError(R"([{"name":"f","parameters":{"x":{"type":"string","enum":)" + deep + "}}}]"),
              HasSubstr("tools: not valid JSON: nested deeper than 128 levels at byte offset"));
}

TEST(ToolSetTest, TooManyToolsAreRefusedWithTheLimit) {
  std::string tools = "[";
  for (size_t i = 0; i <= kMaxTools; ++i) tools += StrCat(i == 0 ? "" : ",", R"({"name":"t)", i, R"("})");
  tools += "]";
  EXPECT_THAT(ParseError(tools), HasSubstr(StrCat("tools: ", kMaxTools + 1, " tools given, at most ", kMaxTools)));
  tools = tools.substr(0, tools.rfind(",{")) + "]";
  EXPECT_TRUE(ToolSet::Parse(tools).ok());
}

TEST(ToolSetTest, NotAnArray) {
  EXPECT_THAT(ParseError(R"({"name": "get_weather"})"), HasSubstr("expected a JSON array"));
  EXPECT_THAT(ParseError("\"get_weather\""), HasSubstr("expected a JSON array"));
}

TEST(ToolSetTest, ElementNotAnObject) {
  EXPECT_THAT(ParseError(R"([{"name": "a"}, "b"])"), HasSubstr("tools[1]: expected an object"));
}

TEST(ToolSetTest, BadNames) {
  EXPECT_THAT(ParseError(R"([{"name": "a"}, {"description": "no name"}])"),
              HasSubstr("tools[1].name: expected a non-empty string"));
  EXPECT_THAT(ParseError(R"([{"name": ""}])"), HasSubstr("tools[0].name: expected a non-empty string"));
  EXPECT_THAT(ParseError(R"([{"name": 42}])"), HasSubstr("tools[0].name: expected a non-empty string"));
  EXPECT_THAT(ParseError(R"([{"name": null}])"), HasSubstr("tools[0].name"));
}

TEST(ToolSetTest, DescriptionNotAString) {
  EXPECT_THAT(ParseError(R"([{"name": "a"}, {"name": "b"}, {"name": "c", "description": ["x"]}])"),
              HasSubstr("tools[2].description: expected a string"));
}

TEST(ToolSetTest, ParametersNotAnObject) {
  EXPECT_THAT(ParseError(R"([{"name": "a", "parameters": ["location"]}])"),
              HasSubstr("tools[0].parameters: expected an object"));
}

TEST(ToolSetTest, ParameterSpecNotAnObject) {
  EXPECT_THAT(ParseError(R"([{"name": "a", "parameters": {"location": "string"}}])"),
              HasSubstr("tools[0].parameters.location: expected an object"));
  EXPECT_THAT(ParseError(R"([{"name": "a"}, {"name": "b", "parameters": {"type": "object",
                             "properties": {"ok": {}, "minutes": 5}}}])"),
              HasSubstr("tools[1].parameters.properties.minutes: expected an object"));
  EXPECT_THAT(ParseError(R"([{"name": "a", "parameters": {"": {}}}])"), HasSubstr("empty parameter name"));
}

TEST(ToolSetTest, NameWithoutLettersOrDigits) {
  EXPECT_THAT(ParseError(R"([{"name": "a"}, {"name": "--"}])"),
              HasSubstr("tools[1].name: \"--\" has no ASCII letter or digit"));
  EXPECT_THAT(ParseError("[{\"name\": \"\xE5\xA4\xA9\xE6\xB0\x97\"}]"), HasSubstr("tools[0].name"));
}

TEST(ToolSetTest, DuplicateNamesAfterSnakeCase) {
  const std::string error = ParseError(R"([{"name": "getWeather"}, {"name": "x"}, {"name": "get-weather"}])");
  EXPECT_THAT(error, HasSubstr("tools[2].name"));
  EXPECT_THAT(error, HasSubstr("tools[0]"));
  EXPECT_THAT(error, HasSubstr("get_weather"));
  EXPECT_THAT(ParseError(R"([{"name": "ping"}, {"name": "ping"}])"), HasSubstr("tools[1].name"));
  // Upstream's rule merges these too; it would keep only the later one.
  EXPECT_THAT(ParseError(R"([{"name": "get/weather"}, {"name": "get_weather_"}])"), HasSubstr("tools[1].name"));
}

TEST(ToolSetTest, PromptJsonIsCompactWithSnakeNames) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(R"([
    { "name" : "getWeather",
      "description" : "Current weather",
      "parameters" : { "location" : { "type" : "string", "description" : "City", "required" : true } } }
  ])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_EQ(tools->prompt_json(), R"([{"name":"get_weather","description":"Current weather","parameters":{"location":)"
                                  R"({"type":"string","description":"City","required":true}}}])");
}

TEST(ToolSetTest, PromptJsonKeepsKeyOrder) {
  // Upstream dumps the dicts as given; sorting keys would change the prompt.
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(
      R"([{"parameters": {"z": {"type": "number"}, "a": {"type": "string"}}, "description": "d", "name": "zTool"}])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_EQ(tools->prompt_json(),
            R"([{"parameters":{"z":{"type":"number"},"a":{"type":"string"}},"description":"d","name":"z_tool"}])");
  EXPECT_THAT(tools->tools()[0].argument_keys, ElementsAre("z", "a"));
}

TEST(ToolSetTest, PromptJsonEscapesLikePythonJsonDumps) {
  // json.dumps(tools, separators=(",", ":")) with its default ensure_ascii:
  // non-ASCII as \uXXXX (surrogate pairs above U+FFFF), DEL and control
  // characters escaped, "/" left alone.
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(
      "[{\"name\":\"m\xC3\xA9t\xC3\xA9o\",\"description\":\"caf\xC3\xA9 \xF0\x9F\x98\x80 a/b \\\"q\\\" "
      "\\\\ \\n\\t\\u0001\\u007f\"}]");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_EQ(tools->prompt_json(),
            R"([{"name":"m_t_o","description":"caf\u00e9 \ud83d\ude00 a/b \"q\" \\ \n\t\u0001\u007f"}])");
}

TEST(ToolSetTest, PromptJsonNumbersAndLiterals) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(
      R"([{"name": "a", "parameters": {"n": {"type": "number", "default": 2.5, "min": 10, "big": 1e100,
          "f": 1.0, "nothing": null, "flag": false}}}])");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_EQ(tools->prompt_json(),
            R"([{"name":"a","parameters":{"n":{"type":"number","default":2.5,"min":10,"big":1e+100,)"
            R"("f":1.0,"nothing":null,"flag":false}}}])");
}

TEST(ToolSetTest, RetrievalJsonIsEachToolAloneWithItsOwnName) {
  // Upstream's retrieval head encodes a tool under the name the caller gave it.
  absl::StatusOr<ToolSet> tools =
      ToolSet::Parse("[{\"name\": \"getWeather\", \"description\": \"caf\xC3\xA9\"}, {\"name\": \"ns:tool\"}]");
  ASSERT_TRUE(tools.ok()) << tools.status();
  EXPECT_EQ(tools->tools()[0].retrieval_json, R"({"name":"getWeather","description":"caf\u00e9"})");
  EXPECT_EQ(tools->tools()[1].retrieval_json, R"({"name":"ns:tool"})");
  EXPECT_THAT(tools->prompt_json(), HasSubstr(R"("name":"ns_tool")"));
}

// ---- RestoreNames

ToolSet MustParse(std::string_view json) {
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(json);
  EXPECT_TRUE(tools.ok()) << tools.status();
  return tools.ok() ? *std::move(tools) : ToolSet();
}

TEST(RestoreNamesTest, MapsSnakeNamesBack) {
  const ToolSet tools = MustParse(R"([{"name": "getWeather"}, {"name": "HTTPRequest"}, {"name": "plain"}])");
  EXPECT_EQ(tools.RestoreNames(R"([{"name":"get_weather","arguments":{"city":"Paris"}}])"),
            R"([{"name":"getWeather","arguments":{"city":"Paris"}}])");
  EXPECT_EQ(tools.RestoreNames(
                R"([{"name":"http_request","arguments":{}},{"name":"plain","arguments":{}},{"name":"get_weather"}])"),
            R"([{"name":"HTTPRequest","arguments":{}},{"name":"plain","arguments":{}},{"name":"getWeather"}])");
}

TEST(RestoreNamesTest, LeavesUnknownNamesAlone) {
  const ToolSet tools = MustParse(R"([{"name": "getWeather"}])");
  const std::string output = R"([{"name":"get_time","arguments":{}},{"name":"get_weather_now"}])";
  EXPECT_EQ(tools.RestoreNames(output), output);
}

TEST(RestoreNamesTest, LeavesUnparsableTextAlone) {
  const ToolSet tools = MustParse(R"([{"name": "getWeather"}])");
  for (const char* output : {"", "[]", "garbage", R"([{"name":"get_weather)", R"([{"name":)", R"("name":")",
                             R"([{"name": "get_weather"}])"}) {
    EXPECT_EQ(tools.RestoreNames(output), output);
  }
}

TEST(RestoreNamesTest, RestoresTheCompleteCallBeforeATruncatedOne) {
  const ToolSet tools = MustParse(R"([{"name": "getWeather"}])");
  EXPECT_EQ(tools.RestoreNames(R"([{"name":"get_weather"},{"name":"get_wea)"),
            R"([{"name":"getWeather"},{"name":"get_wea)");
}

TEST(RestoreNamesTest, OriginalNamesAreJsonEscaped) {
  // The caller's name goes back into JSON text, so it must be a valid string
  // literal there; non-ASCII is escaped as json.dumps escapes it.
  const ToolSet tools = MustParse(R"([{"name": "Say\"Hi\""}])");
  ASSERT_EQ(tools.tools().size(), 1u);
  EXPECT_EQ(tools.tools()[0].snake_name, "say_hi");
  EXPECT_EQ(tools.RestoreNames(R"([{"name":"say_hi"}])"), R"([{"name":"Say\"Hi\""}])");
  const ToolSet accented = MustParse("[{\"name\": \"M\xC3\xA9t\xC3\xA9o\"}]");
  EXPECT_EQ(accented.RestoreNames(R"([{"name":"m_t_o"}])"), R"([{"name":"M\u00e9t\u00e9o"}])");
}

TEST(RestoreNamesTest, ArgumentValuesNamedLikeAToolAreData) {
  const ToolSet tools = MustParse(R"([{"name": "sendMessage"}])");
  EXPECT_EQ(tools.RestoreNames(R"([{"name":"send_message","arguments":{"to":{"name":"send_message"}}}])"),
            R"([{"name":"sendMessage","arguments":{"to":{"name":"send_message"}}}])");
  EXPECT_EQ(tools.RestoreNames(R"([{"arguments":{"note":"\"name\":\"send_message\""},"name":"send_message"}])"),
            R"([{"arguments":{"note":"\"name\":\"send_message\""},"name":"sendMessage"}])");
  // A string at call depth that merely contains the key text is not a key.
  EXPECT_EQ(tools.RestoreNames(R"([{"x":"\"name\":\"send_message\"","name":"send_message"}])"),
            R"([{"x":"\"name\":\"send_message\"","name":"sendMessage"}])");
}

TEST(RestoreNamesTest, NoRenamesMeansIdentity) {
  const ToolSet tools = MustParse(R"([{"name": "get_weather"}])");
  const std::string output = R"([{"name":"get_weather","arguments":{"x":1}}])";
  EXPECT_EQ(tools.RestoreNames(output), output);
}

}  // namespace
}  // namespace needle
