// Integers past 64 bits, read and judged as BFCL's Python does: json.loads
// keeps them ints of any size, so their type checks and error types are an
// int's. Expected verdicts were worked out from BFCL's ast_checker.py and
// checked against Python's int/float rules (float(n) rounds to nearest, int ==
// float compares exactly).
#include "needle/toolcalls/big_int.h"

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "needle/evals/bfcl_checker.h"
#include "needle/evals/dataset.h"
#include "needle/evals/python_call.h"
#include "needle/toolcalls/call.h"

namespace needle::evals {

using toolcalls::BigIntToDouble;
using toolcalls::CallsToJson;
using toolcalls::DumpKeepingBigInts;
using toolcalls::ExactIntegerDigits;
using toolcalls::IntegerDigits;
using toolcalls::IsBigInt;
using toolcalls::ParamSchema;
using toolcalls::ParsedOutput;
using toolcalls::ParseJsonKeepingBigInts;
using toolcalls::ParseOutput;

namespace {

using OJson = nlohmann::ordered_json;

constexpr char kTwoTo64[] = "18446744073709551616";  // one past uint64's largest
constexpr char kBig[] = "123456789012345678901234567890";

TEST(BigIntParse, IntegersPast64BitsStayIntegers) {
  absl::StatusOr<OJson> value =
      ParseJsonKeepingBigInts(R"([18446744073709551615, 18446744073709551616, -9223372036854775808,)"
                              R"( -9223372036854775809, 1e20, 100000000000000000000.0, 5])");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_TRUE((*value)[0].is_number_unsigned());
  EXPECT_EQ(IntegerDigits((*value)[1]), kTwoTo64);
  EXPECT_TRUE((*value)[2].is_number_integer());
  EXPECT_EQ(IntegerDigits((*value)[3]), "-9223372036854775809");
  EXPECT_TRUE((*value)[4].is_number_float());  // an exponent makes a float in Python too
  EXPECT_TRUE((*value)[5].is_number_float());
  EXPECT_FALSE(IsBigInt((*value)[6]));
}

TEST(BigIntParse, DumpWritesTheDigitsBack) {
  const std::string text = R"({"b":[123456789012345678901234567890,{"c":-99999999999999999999}],"a":1.5,"d":"x"})";
  absl::StatusOr<OJson> value = ParseJsonKeepingBigInts(text);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(DumpKeepingBigInts(*value), text);
}

TEST(BigIntParse, LimitsAndErrorsAsParseJson) {
  EXPECT_FALSE(ParseJsonKeepingBigInts("[1,]").ok());
  EXPECT_FALSE(ParseJsonKeepingBigInts(std::string(200, '[') + std::string(200, ']')).ok());
  // Past a double's range nlohmann refuses the number before it reaches us (Python would read it).
  EXPECT_FALSE(ParseJsonKeepingBigInts("1" + std::string(400, '0')).ok());
}

TEST(BigIntNumbers, ExactDigitsOfWholeDoubles) {
  EXPECT_EQ(ExactIntegerDigits(0.0), "0");
  EXPECT_EQ(ExactIntegerDigits(-3.0), "-3");
  EXPECT_EQ(ExactIntegerDigits(1e20), "100000000000000000000");
  EXPECT_EQ(ExactIntegerDigits(std::ldexp(1.0, 64)), kTwoTo64);
  // 2^1023, as Python prints int(2.0**1023).
  const std::string top = ExactIntegerDigits(std::ldexp(1.0, 1023));
  EXPECT_EQ(top.size(), 308u);
  EXPECT_EQ(top.substr(0, 12), "898846567431");
  EXPECT_EQ(top.substr(top.size() - 6), "068608");
}

TEST(BigIntNumbers, FloatOfAnIntRoundsAsPython) {
  EXPECT_EQ(BigIntToDouble(kBig), 1.2345678901234568e+29);
  // 2^64 + 1 is nearer 2^64 than the next double; 2^53 + 1 rounds to even.
  EXPECT_EQ(BigIntToDouble("18446744073709551617"), std::ldexp(1.0, 64));
  EXPECT_EQ(BigIntToDouble("9007199254740993"), 9007199254740992.0);
  EXPECT_FALSE(BigIntToDouble("1" + std::string(400, '0')).has_value());  // OverflowError in Python
}

// One function f(n: integer, x: float, ids: array of integer), BFCL's answer `answer`.
EvalItem Item(const std::string& answer) {
  EvalItem item;
  item.category = "simple_python";
  ParamSchema n, x, ids;
  n.name = "n";
  n.type = "integer";
  x.name = "x";
  x.type = "float";
  ids.name = "ids";
  ids.type = "array";
  ids.item_type = "integer";
  item.tools.push_back({"f", "", {n, x, ids}});
  ExpectedCall expected;
  expected.name = "f";
  absl::StatusOr<OJson> parsed = ParseJsonKeepingBigInts(answer);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  for (auto it = parsed->begin(); it != parsed->end(); ++it) {
    expected.params.emplace_back(it.key(), std::vector<nlohmann::json>(it.value().begin(), it.value().end()));
  }
  item.answers.push_back(std::move(expected));
  return item;
}

// BFCL's verdict on `output` as the model wrote it (parsed by ParseOutput).
std::string ErrorType(const EvalItem& item, const std::string& output) {
  ParsedOutput parsed = ParseOutput(output);
  EXPECT_TRUE(parsed.parsed) << parsed.error;
  BfclVerdict verdict = BfclCheck(item, parsed);
  EXPECT_EQ(verdict.valid, verdict.error_type.empty()) << verdict.error;
  return verdict.valid ? "valid" : verdict.error_type;
}

TEST(BigIntBfcl, AnIntOfAnySizePassesTheIntTypeCheck) {
  const EvalItem item = Item(R"({"n": [123456789012345678901234567890]})");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"n":123456789012345678901234567890}}])"), "valid");
  // A different int: the type passes and the value does not.
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"n":123456789012345678901234567891}}])"),
            "value_error:others");
  // Written with an exponent it is a float, which an integer parameter refuses.
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"n":1.2345678901234568e+29}}])"), "type_error:simple");
}

TEST(BigIntBfcl, SmallAnswersAgainstBigOutputs) {
  const EvalItem item = Item(R"({"n": [5]})");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"n":18446744073709551621}}])"), "value_error:others");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"n":-18446744073709551621}}])"), "value_error:others");
}

TEST(BigIntBfcl, FloatParameterConvertsTheIntAsPython) {
  // float(123456789012345678901234567890) == 1.2345678901234568e+29, so the answer matches.
  const EvalItem item = Item(R"({"x": [1.2345678901234568e+29]})");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"x":123456789012345678901234567890}}])"), "valid");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"x":123456789012345678901234567890.5e3}}])"),
            "value_error:others");
}

TEST(BigIntBfcl, IntEqualsAWholeFloatExactly) {
  // Nested items get no conversion: an int item is compared with == to the answer's items.
  const EvalItem item = Item(R"({"ids": [[18446744073709551616, 7]]})");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"ids":[18446744073709551616, 7]}}])"), "valid");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"ids":[18446744073709551617, 7]}}])"),
            "value_error:list/tuple");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"ids":[1.8446744073709552e19, 7]}}])"), "type_error:nested");
}

TEST(BigIntBfcl, EveryOutputFormatKeepsTheInt) {
  const EvalItem item = Item(R"({"n": [123456789012345678901234567890]})");
  EXPECT_EQ(ErrorType(item, R"(<tool_call>{"name":"f","arguments":{"n":123456789012345678901234567890}}</tool_call>)"),
            "valid");
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":"{\"n\":123456789012345678901234567890}"}])"), "valid");
  EXPECT_EQ(ErrorType(item, "<start_function_call>call:f{n:123456789012345678901234567890}<end_function_call>"),
            "valid");
}

TEST(BigIntBfcl, CallsToJsonWritesTheDigits) {
  ParsedOutput parsed = ParseOutput(R"([{"name":"f","arguments":{"n":123456789012345678901234567890}}])");
  ASSERT_TRUE(parsed.parsed) << parsed.error;
  EXPECT_EQ(CallsToJson(parsed.calls), R"([{"name":"f","arguments":{"n":123456789012345678901234567890}}])");
}

TEST(BigIntPythonCall, PythonIntsOfAnySize) {
  absl::StatusOr<std::vector<PythonCall>> calls = ParsePythonCalls("f(n=1_000_000_000_000_000_000_000_000, m=-2**3)");
  // 2**3 is an expression, not a literal: refused. The literal alone reads as an int.
  EXPECT_FALSE(calls.ok());
  calls = ParsePythonCalls("f(n=1_000_000_000_000_000_000_000_000)");
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_EQ(calls->size(), 1u);
  EXPECT_EQ(DumpKeepingBigInts((*calls)[0].keyword_arguments), R"({"n":1000000000000000000000000})");
}

TEST(BigIntDataset, AnswersKeepTheirInts) {
  const std::string path = ::testing::TempDir() + "/big_int_answers.jsonl";
  std::ofstream(path) << R"({"query":"q","tools":[{"name":"f","description":"d","parameters":{"n":)"
                      << R"({"type":"integer","description":"n"}}}],"answers":[{"name":"f","arguments":)"
                      << R"({"n":123456789012345678901234567890}}]})"
                      << "\n";
  absl::StatusOr<Dataset> dataset = LoadDataset("generic:" + path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->items.size(), 1u);
  const EvalItem& item = dataset->items[0];
  ASSERT_EQ(item.answers.size(), 1u);
  ASSERT_EQ(item.answers[0].params.size(), 1u);
  ASSERT_FALSE(item.answers[0].params[0].second.empty());
  EXPECT_EQ(IntegerDigits(item.answers[0].params[0].second[0]), kBig);
  EXPECT_EQ(ErrorType(item, R"([{"name":"f","arguments":{"n":123456789012345678901234567890}}])"), "valid");
}

}  // namespace
}  // namespace needle::evals
