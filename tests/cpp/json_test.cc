#include "needle/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/json_string_scanner.h"

namespace needle {
namespace {

using ::testing::HasSubstr;

// Depth as deep as the inputs that crashed every reader before the limit.
constexpr int kCrashingDepth = 200000;

std::string Nested(int depth, char open = '[', char close = ']', const std::string& inside = "") {
  return std::string(depth, open) + inside + std::string(depth, close);
}

TEST(CheckJsonNestingTest, AcceptsUpToTheLimit) {
  EXPECT_TRUE(CheckJsonNesting(Nested(kMaxJsonDepth)).ok());
  EXPECT_TRUE(CheckJsonNesting(Nested(3), 3).ok());
  // Siblings do not add up: ten arrays side by side nest one level.
  std::string siblings = "[";
  for (int i = 0; i < 10; ++i) siblings += i == 0 ? "[1]" : ",[1]";
  EXPECT_TRUE(CheckJsonNesting(siblings + "]", 2).ok());
}

TEST(CheckJsonNestingTest, RefusesDeeperNamingTheOffset) {
  const absl::Status status = CheckJsonNesting(R"({"a":[{"b":[1]}]})", 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "nested deeper than 3 levels at byte offset 11 (arrays and objects)");
  EXPECT_FALSE(CheckJsonNesting(Nested(kMaxJsonDepth + 1)).ok());
}

TEST(CheckJsonNestingTest, BracketsInStringsDoNotCount) {
  EXPECT_TRUE(CheckJsonNesting(R"(["[[[[", "{{{{", "\"[[[["])", 1).ok());
  // An escaped backslash ends the escape: the quote after it closes the string.
  EXPECT_FALSE(CheckJsonNesting(R"(["\\", [[1]]])", 2).ok());
}

TEST(ParseJsonTest, ParsesWhatIsShallowEnough) {
  absl::StatusOr<nlohmann::ordered_json> value = ParseJson<nlohmann::ordered_json>(R"({"b":1,"a":[true]})");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->dump(), R"({"b":1,"a":[true]})");  // ordered_json keeps the order
}

TEST(ParseJsonTest, InvalidJsonSaysWhere) {
  absl::StatusOr<nlohmann::json> value = ParseJson("[1,]");
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(value.status().message()), HasSubstr("parse error at line 1, column 4"));
  EXPECT_THAT(std::string(ParseJson("1e999").status().message()), HasSubstr("number overflow"));
}

TEST(ParseJsonTest, DeepInputIsAnErrorNotACrash) {
  for (const std::string& text :
       {Nested(kCrashingDepth), Nested(kCrashingDepth, '{', '}'), std::string(kCrashingDepth, '['),  // never closed
        R"({"x":)" + Nested(kCrashingDepth, '[', ']', "1") + "}"}) {
    absl::StatusOr<nlohmann::json> value = ParseJson(text);
    EXPECT_THAT(std::string(value.status().message()), HasSubstr("nested deeper than 128 levels"));
  }
}

// Members(n): {"k0":0,"k1":1,...}; ordered_json builds it in n^2 time.
std::string Members(int n) {
  std::string text = "{";
  for (int i = 0; i < n; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  return text + "}";
}

TEST(ParseJsonTest, OrderedObjectsHaveAMemberLimit) {
  EXPECT_TRUE(ParseJson<nlohmann::ordered_json>(Members(kMaxOrderedJsonMembers)).ok());
  absl::StatusOr<nlohmann::ordered_json> many = ParseJson<nlohmann::ordered_json>("[" + Members(50000) + "]");
  EXPECT_THAT(std::string(many.status().message()), HasSubstr("an object has more than 1024 members at byte offset"));
  // A colon inside a string or a nested object's members are not the outer object's.
  EXPECT_TRUE(CheckJsonNesting(R"({"a:b":{"c":1,"d":2},"e":[{"f":3}]})", kMaxJsonDepth, 2).ok());
  // nlohmann::json keeps members in a std::map: no such limit.
  EXPECT_TRUE(ParseJson(Members(50000)).ok());
}

// Which characters of `text` the scanner counts as string text: 's' or '.'.
std::string StringMask(std::string_view text) {
  JsonStringScanner strings;
  std::string mask;
  for (char c : text) mask += strings.Feed(c) ? 's' : '.';
  return mask;
}

TEST(JsonStringScannerTest, QuotesAndEscapesDecideWhereStringsEnd) {
  EXPECT_EQ(StringMask(R"([{"a":1}])"), "..sss....");
  EXPECT_EQ(StringMask(R"(["x\"]",1])"), ".ssssss...");  // an escaped quote is text
  EXPECT_EQ(StringMask(R"(["x\\",1])"), ".sssss...");    // an escaped backslash is not an escape
  EXPECT_EQ(StringMask(R"(["{[",{)"), ".ssss..");        // brackets inside are text
  JsonStringScanner open;
  open.Feed('"');
  EXPECT_TRUE(open.inside());
}

}  // namespace
}  // namespace needle
