// Integers past 64 bits, kept as the integers Python reads them as.
//
// BFCL loads answers and model outputs with Python's json.loads, whose ints have
// no size limit, while nlohmann::json turns an integer beyond int64/uint64 into a
// double. That changes its Python type (int becomes float), and with it BFCL's
// type checks and error types. The readers of answers and outputs therefore keep
// such an integer as a BigInt: a JSON "binary" value (which JSON text itself can
// never produce) holding the integer's decimal digits. Its digits are always
// canonical: an optional '-', then no leading zero.
//
// nlohmann's parser refuses integers whose double would overflow (more than 308
// digits), where Python reads up to 4300 digits; such text stays refused here.
#ifndef NEEDLE_TOOLCALLS_BIG_INT_H_
#define NEEDLE_TOOLCALLS_BIG_INT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace needle::toolcalls {

// Marks the binary values that are BigInts ('i' for int).
inline constexpr std::uint8_t kBigIntSubtype = 0x69;

// A BigInt with these canonical digits (e.g. "-18446744073709551617").
nlohmann::ordered_json MakeBigInt(std::string_view digits);

template <typename Json>
bool IsBigInt(const Json& value) {
  return value.is_binary() && value.get_binary().has_subtype() && value.get_binary().subtype() == kBigIntSubtype;
}

// The digits of a BigInt, of an int64/uint64 integer, or of a bool (True is 1,
// as Python counts it); nullopt for anything else.
template <typename Json>
std::optional<std::string> IntegerDigits(const Json& value) {
  if (IsBigInt(value)) return std::string(value.get_binary().begin(), value.get_binary().end());
  if (value.is_boolean()) return value.template get<bool>() ? "1" : "0";
  if (value.is_number_unsigned()) return std::to_string(value.template get<std::uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.template get<std::int64_t>());
  return std::nullopt;
}

// float(n) for a BigInt's digits: correctly rounded, as Python rounds it; nullopt
// where Python raises OverflowError (beyond the largest double).
std::optional<double> BigIntToDouble(std::string_view digits);

// The exact decimal digits of a whole, finite double (1e20 -> "100000000000000000000").
std::string ExactIntegerDigits(double whole);

// An integer literal's value: int64/uint64 when it fits, else a BigInt. The
// literal is canonical JSON: optional '-', digits, no leading zero.
nlohmann::ordered_json IntegerFromDigits(std::string_view digits);

// ordered_json::parse(text), throwing what it throws, except that integers
// beyond 64 bits become BigInts. No nesting limit: callers check it first.
nlohmann::ordered_json ParseKeepingBigInts(std::string_view text);

// ParseJson<ordered_json> (the same nesting and member limits, the same
// messages), except that integers beyond 64 bits become BigInts.
absl::StatusOr<nlohmann::ordered_json> ParseJsonKeepingBigInts(std::string_view text);

// value.dump() for a compact line, with every BigInt written as its digits
// (as Python's json.dumps writes an int) and invalid UTF-8 replaced.
std::string DumpKeepingBigInts(const nlohmann::ordered_json& value);

// A copy with every BigInt turned into its nearest double, for consumers that
// know only JSON's own types (report records, upstream's metrics).
nlohmann::ordered_json BigIntsAsDoubles(const nlohmann::ordered_json& value);

}  // namespace needle::toolcalls

#endif  // NEEDLE_TOOLCALLS_BIG_INT_H_
