#include "needle/toolcalls/big_int.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "needle/json.h"
#include "needle/json_error.h"

namespace needle::toolcalls {
namespace {

using OJson = nlohmann::ordered_json;

// nlohmann hands an integer literal that fits no 64-bit type to number_float,
// with the literal's own text: that text is kept as a BigInt instead. Static
// dispatch: sax_parse calls the handler of the type it is given.
class KeepBigInts : public nlohmann::detail::json_sax_dom_parser<OJson> {
 public:
  using json_sax_dom_parser::json_sax_dom_parser;

  bool number_float(double value, const std::string& text) {
    if (text.find_first_of(".eE") == std::string::npos) {
      OJson::binary_t digits = MakeBigInt(text).get_binary();
      return binary(digits);
    }
    return json_sax_dom_parser::number_float(value, text);
  }
};

bool ContainsBigInt(const OJson& value) {
  if (IsBigInt(value)) return true;
  if (value.is_structured()) {
    for (const OJson& element : value) {
      if (ContainsBigInt(element)) return true;
    }
  }
  return false;
}

std::string CompactDump(const OJson& value) { return value.dump(-1, ' ', false, OJson::error_handler_t::replace); }

}  // namespace

OJson MakeBigInt(std::string_view digits) {
  return OJson::binary(std::vector<std::uint8_t>(digits.begin(), digits.end()), kBigIntSubtype);
}

std::optional<double> BigIntToDouble(std::string_view digits) {
  // strtod rounds correctly (to nearest, ties to even), as Python's int.__float__ does.
  const double value = std::strtod(std::string(digits).c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

std::string ExactIntegerDigits(double whole) {
  const bool negative = std::signbit(whole) && whole != 0;
  int exponent = 0;
  const double fraction = std::frexp(std::fabs(whole), &exponent);  // |whole| = fraction * 2^exponent
  std::uint64_t mantissa = static_cast<std::uint64_t>(std::ldexp(fraction, 53));
  int shift = exponent - 53;
  if (shift <= 0) {
    mantissa = shift <= -64 ? 0 : mantissa >> -shift;  // whole, so no bits are lost
    return (negative ? "-" : "") + std::to_string(mantissa);
  }
  // mantissa * 2^shift in decimal, least significant digit first.
  std::vector<int> decimal;
  for (std::uint64_t rest = mantissa; rest > 0; rest /= 10) decimal.push_back(static_cast<int>(rest % 10));
  for (; shift > 0; --shift) {
    int carry = 0;
    for (int& digit : decimal) {
      const int doubled = digit * 2 + carry;
      digit = doubled % 10;
      carry = doubled / 10;
    }
    if (carry > 0) decimal.push_back(carry);
  }
  std::string out = negative ? "-" : "";
  for (auto it = decimal.rbegin(); it != decimal.rend(); ++it) out += static_cast<char>('0' + *it);
  return out;
}

OJson IntegerFromDigits(std::string_view digits) {
  const char* begin = digits.data();
  const char* end = digits.data() + digits.size();
  std::int64_t signed_value = 0;
  if (auto [at, error] = std::from_chars(begin, end, signed_value); error == std::errc() && at == end) {
    return signed_value;
  }
  std::uint64_t unsigned_value = 0;
  if (auto [at, error] = std::from_chars(begin, end, unsigned_value); error == std::errc() && at == end) {
    return unsigned_value;
  }
  return MakeBigInt(digits);
}

OJson ParseKeepingBigInts(std::string_view text) {
  OJson result;
  KeepBigInts handler(result);
  OJson::sax_parse(text, &handler);
  return result;
}

absl::StatusOr<OJson> ParseJsonKeepingBigInts(std::string_view text) {
  if (absl::Status nesting = CheckJsonNesting(text, kMaxJsonDepth, kMaxOrderedJsonMembers); !nesting.ok()) {
    return nesting;
  }
  try {
    return ParseKeepingBigInts(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(JsonParseErrorText(e));
  }
}

std::string DumpKeepingBigInts(const OJson& value) {
  if (!ContainsBigInt(value)) return CompactDump(value);
  if (IsBigInt(value)) return *IntegerDigits(value);
  std::string out;
  if (value.is_array()) {
    out += '[';
    for (size_t i = 0; i < value.size(); ++i) out += (i > 0 ? "," : "") + DumpKeepingBigInts(value[i]);
    return out + ']';
  }
  out += '{';
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it != value.begin()) out += ',';
    out += CompactDump(OJson(it.key())) + ':' + DumpKeepingBigInts(it.value());
  }
  return out + '}';
}

OJson BigIntsAsDoubles(const OJson& value) {
  if (IsBigInt(value)) {
    // Past the largest double there is no nearest one; infinity is what JSON readers make of it.
    return BigIntToDouble(*IntegerDigits(value)).value_or(HUGE_VAL);
  }
  if (!value.is_structured() || !ContainsBigInt(value)) return value;
  OJson out = value.is_array() ? OJson::array() : OJson::object();
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (value.is_array()) {
      out.push_back(BigIntsAsDoubles(it.value()));
    } else {
      out[it.key()] = BigIntsAsDoubles(it.value());
    }
  }
  return out;
}

}  // namespace needle::toolcalls
