#include "needle/python_json.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace needle {
namespace {

using ::testing::HasSubstr;

// Expected values are what Python 3 prints for
// json.dumps(json.loads(text), separators=(",", ":")).
std::string Redump(std::string_view text) {
  absl::StatusOr<std::string> out = RedumpLikePython(text);
  EXPECT_TRUE(out.ok()) << text << ": " << out.status();
  return out.ok() ? *out : "";
}

std::string RedumpError(std::string_view text) {
  absl::StatusOr<std::string> out = RedumpLikePython(text);
  EXPECT_FALSE(out.ok()) << "accepted " << text << " as " << *out;
  return out.ok() ? "" : std::string(out.status().message());
}

TEST(PythonFloatReprTest, ShortestDigitsAndPythonsNotation) {
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(1.5e16), "1.5e+16");
  EXPECT_EQ(PythonFloatRepr(1234567890123456.7), "1234567890123456.8");
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(0.00001), "1e-05");
  EXPECT_EQ(PythonFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(PythonFloatRepr(100.0), "100.0");
  EXPECT_EQ(PythonFloatRepr(2.5), "2.5");
  EXPECT_EQ(PythonFloatRepr(123.456), "123.456");
  EXPECT_EQ(PythonFloatRepr(0.0), "0.0");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(-22.5), "-22.5");
  EXPECT_EQ(PythonFloatRepr(1e300), "1e+300");
  EXPECT_EQ(PythonFloatRepr(5e-324), "5e-324");
  EXPECT_EQ(PythonFloatRepr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(PythonFloatRepr(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(PythonFloatRepr(std::nan("")), "NaN");
}

TEST(RedumpLikePythonTest, CompactWithKeyOrderKept) {
  EXPECT_EQ(Redump(R"( [ {"name" : "get_weather", "arguments" : {"city" : "Paris", "days" : 3} } ] )"),
            R"([{"name":"get_weather","arguments":{"city":"Paris","days":3}}])");
  EXPECT_EQ(Redump("[]"), "[]");
  EXPECT_EQ(Redump("{}"), "{}");
  EXPECT_EQ(Redump("[{},[],[[]]]"), "[{},[],[[]]]");
  EXPECT_EQ(Redump("\n\t\r true "), "true");
  EXPECT_EQ(Redump("[null,false,true]"), "[null,false,true]");
}

TEST(RedumpLikePythonTest, NumbersAsPythonPrintsThem) {
  EXPECT_EQ(Redump("[1e15,1E16,1.0,1.50,2e0,-0,-0.0,0,10,1e-5,3.14]"),
            "[1000000000000000.0,1e+16,1.0,1.5,2.0,0,-0.0,0,10,1e-05,3.14]");
  // Python integers have no size limit; they keep every digit.
  EXPECT_EQ(Redump("[123456789012345678901234567890,-98765432109876543210]"),
            "[123456789012345678901234567890,-98765432109876543210]");
  // float() overflows to inf and underflows to 0.
  EXPECT_EQ(Redump("[1e400,-1e400,1e-400]"), "[Infinity,-Infinity,0.0]");
  EXPECT_EQ(Redump("[NaN,Infinity,-Infinity]"), "[NaN,Infinity,-Infinity]");
}

TEST(RedumpLikePythonTest, StringsAreAsciiEscaped) {
  EXPECT_EQ(Redump("[\"caf\xC3\xA9\",\"\xF0\x9F\x98\x80\",\"\xE2\x82\xAC\"]"),
            R"(["caf\u00e9","\ud83d\ude00","\u20ac"])");
  EXPECT_EQ(Redump(R"(["a\/b","\"q\"","\\","\n\t\r\b\f","\u0001\u001F\u007f\u00E9"])"),
            R"(["a/b","\"q\"","\\","\n\t\r\b\f","\u0001\u001f\u007f\u00e9"])");
  EXPECT_EQ(Redump(R"(["\ud83d\ude00","\ud800x"])"), R"(["\ud83d\ude00","\ud800x"])")
      << "a surrogate pair reads back as its two units, a lone surrogate stays";
  EXPECT_EQ(Redump("[\"\x7F\"]"), R"(["\u007f"])");
}

TEST(RedumpLikePythonTest, RepeatedKeyKeepsItsFirstPlaceAndLastValue) {
  EXPECT_EQ(Redump(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
  EXPECT_EQ(Redump(R"({"\u0061":1,"a":2})"), R"({"a":2})") << "keys compare by value, not spelling";
}

TEST(RedumpLikePythonTest, InvalidJsonNamesTheOffset) {
  EXPECT_THAT(RedumpError(R"([{"name":"x"})"), HasSubstr("at byte 13"));
  EXPECT_THAT(RedumpError(R"([{"name":"x"}]])"), HasSubstr("extra data"));
  EXPECT_THAT(RedumpError("[1,]"), HasSubstr("expected a value"));
  EXPECT_THAT(RedumpError("[1.]"), HasSubstr("at byte 2"));
  EXPECT_THAT(RedumpError("[01]"), HasSubstr("at byte 2"));
  EXPECT_THAT(RedumpError("[1e]"), HasSubstr("at byte 2"));
  EXPECT_THAT(RedumpError("{1:2}"), HasSubstr("key in double quotes"));
  EXPECT_THAT(RedumpError(R"({"a" 1})"), HasSubstr("expected ':'"));
  EXPECT_THAT(RedumpError("[\"a\nb\"]"), HasSubstr("control character"));
  EXPECT_THAT(RedumpError(R"(["\x"])"), HasSubstr("invalid escape"));
  EXPECT_THAT(RedumpError(R"(["\u12"])"), HasSubstr("four hex digits"));
  EXPECT_THAT(RedumpError("[\"caf\xC3\"]"), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(RedumpError("[\"abc"), HasSubstr("unterminated string"));
  EXPECT_THAT(RedumpError(""), HasSubstr("found the end"));
  EXPECT_THAT(RedumpError("nul"), HasSubstr("expected a value"));
  EXPECT_THAT(RedumpError("-"), HasSubstr("expected a value"));
  EXPECT_THAT(RedumpError("[true false]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(RedumpError("<tool_call>[]"), HasSubstr("at byte 0"));
}

TEST(RedumpLikePythonTest, NestingIsLimitedWithoutRecursingFurther) {
  const std::string ok = std::string(kMaxPythonJsonDepth, '[') + std::string(kMaxPythonJsonDepth, ']');
  EXPECT_EQ(Redump(ok), ok);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(RedumpError(deep), HasSubstr("nested deeper than 512"));
}

}  // namespace
}  // namespace needle
