#include "needle/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "needle/str_cat.h"
#include "needle/utf8.h"

namespace needle {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends one UTF-16 code unit of a string's value as json.dumps writes it
// with ensure_ascii: printable ASCII as itself, the short escapes, and
// everything else as \uXXXX in lower-case hex.
void AppendEscapedUnit(uint32_t unit, std::string& out) {
  switch (unit) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  if (unit >= 0x20 && unit <= 0x7E) {
    out += static_cast<char>(unit);
    return;
  }
  constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
}

void AppendEscapedCodePoint(uint32_t code_point, std::string& out) {
  if (code_point < 0x10000) {
    AppendEscapedUnit(code_point, out);
    return;
  }
  code_point -= 0x10000;
  AppendEscapedUnit(0xD800 + (code_point >> 10), out);
  AppendEscapedUnit(0xDC00 + (code_point & 0x3FF), out);
}

// A recursive-descent reader of json.loads's grammar that writes json.dumps's
// text as it goes. Objects are written member by member into a list first,
// because a repeated key replaces the earlier value in place.
class Redumper {
 public:
  explicit Redumper(std::string_view text) : text_(text) {}

  absl::StatusOr<std::string> Run() {
    if (size_t bad = FindInvalidUtf8(text_); bad != std::string_view::npos) return Error(bad, "invalid UTF-8");
    std::string out;
    SkipWhitespace();
    if (absl::Status status = Value(0, out); !status.ok()) return status;
    SkipWhitespace();
    if (pos_ != text_.size()) return Error(pos_, "extra data after the JSON value");
    return out;
  }

 private:
  absl::Status Error(size_t offset, std::string_view what) const {
    return absl::InvalidArgumentError(StrCat("not JSON at byte ", offset, ": ", what));
  }

  void SkipWhitespace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  absl::Status Value(int depth, std::string& out) {
    if (pos_ >= text_.size()) return Error(pos_, "expected a value, found the end");
    const char c = text_[pos_];
    if (c == '{' || c == '[') {
      if (depth >= kMaxPythonJsonDepth) return Error(pos_, StrCat("nested deeper than ", kMaxPythonJsonDepth));
      return c == '{' ? Object(depth + 1, out) : Array(depth + 1, out);
    }
    if (c == '"') return String(out);
    // json.loads's literals, including its non-standard NaN and infinities.
    for (std::string_view literal : {"true", "false", "null", "NaN", "Infinity", "-Infinity"}) {
      if (Consume(literal)) {
        out += literal;
        return absl::OkStatus();
      }
    }
    if (c == '-' || IsDigit(c)) return Number(out);
    return Error(pos_, "expected a value");
  }

  absl::Status Object(int depth, std::string& out) {
    ++pos_;  // '{'
    // Each member as written: key, value.
    std::vector<std::pair<std::string, std::string>> members;
    SkipWhitespace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      out += "{}";
      return absl::OkStatus();
    }
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error(pos_, "expected a key in double quotes");
      std::string key, value;
      if (absl::Status status = String(key); !status.ok()) return status;
      SkipWhitespace();
      if (!Consume(":")) return Error(pos_, "expected ':' after a key");
      SkipWhitespace();
      if (absl::Status status = Value(depth, value); !status.ok()) return status;
      bool replaced = false;
      for (auto& member : members) {
        if (member.first == key) {
          member.second = std::move(value);
          replaced = true;
          break;
        }
      }
      if (!replaced) members.emplace_back(std::move(key), std::move(value));
      SkipWhitespace();
      if (Consume("}")) break;
      if (!Consume(",")) return Error(pos_, "expected ',' or '}' in an object");
      SkipWhitespace();
    }
    out += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0) out += ',';
      out += members[i].first;
      out += ':';
      out += members[i].second;
    }
    out += '}';
    return absl::OkStatus();
  }

  absl::Status Array(int depth, std::string& out) {
    ++pos_;  // '['
    out += '[';
    SkipWhitespace();
    if (Consume("]")) {
      out += ']';
      return absl::OkStatus();
    }
    while (true) {
      if (absl::Status status = Value(depth, out); !status.ok()) return status;
      SkipWhitespace();
      if (Consume("]")) break;
      if (!Consume(",")) return Error(pos_, "expected ',' or ']' in an array");
      out += ',';
      SkipWhitespace();
    }
    out += ']';
    return absl::OkStatus();
  }

  // Writes the string's value code unit by code unit; \uXXXX escapes are
  // units already (a surrogate pair, which Python joins into one character,
  // comes out as the same two escapes), raw characters are split into units.
  absl::Status String(std::string& out) {
    ++pos_;  // '"'
    out += '"';
    while (true) {
      if (pos_ >= text_.size()) return Error(pos_, "unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c < 0x20) return Error(pos_, "control character in a string");
      if (c == '\\') {
        if (absl::Status status = Escape(out); !status.ok()) return status;
        continue;
      }
      if (c < 0x80) {
        AppendEscapedUnit(c, out);
        ++pos_;
        continue;
      }
      // Valid UTF-8 (checked up front): a lead byte and its continuations.
      const int length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      uint32_t code_point = c & (0x7F >> length);
      for (int k = 1; k < length; ++k) code_point = (code_point << 6) | (text_[pos_ + k] & 0x3F);
      AppendEscapedCodePoint(code_point, out);
      pos_ += length;
    }
    out += '"';
    return absl::OkStatus();
  }

  absl::Status Escape(std::string& out) {
    const size_t start = pos_;
    if (pos_ + 1 >= text_.size()) return Error(start, "unterminated escape");
    const char kind = text_[pos_ + 1];
    pos_ += 2;
    switch (kind) {
      case '"':
      case '\\':
      case '/':
        AppendEscapedUnit(static_cast<unsigned char>(kind), out);
        return absl::OkStatus();
      case 'b':
        AppendEscapedUnit('\b', out);
        return absl::OkStatus();
      case 'f':
        AppendEscapedUnit('\f', out);
        return absl::OkStatus();
      case 'n':
        AppendEscapedUnit('\n', out);
        return absl::OkStatus();
      case 'r':
        AppendEscapedUnit('\r', out);
        return absl::OkStatus();
      case 't':
        AppendEscapedUnit('\t', out);
        return absl::OkStatus();
      case 'u': {
        uint32_t unit = 0;
        for (int k = 0; k < 4; ++k) {
          const int digit = pos_ < text_.size() ? HexValue(text_[pos_]) : -1;
          if (digit < 0) return Error(start, "\\u needs four hex digits");
          unit = unit * 16 + static_cast<uint32_t>(digit);
          ++pos_;
        }
        AppendEscapedUnit(unit, out);
        return absl::OkStatus();
      }
      default:
        return Error(start, "invalid escape");
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?: an int without fraction
  // and exponent, else a float.
  absl::Status Number(std::string& out) {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Error(start, "expected a value");
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    const size_t integer_end = pos_;
    bool is_float = false;
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsDigit(text_[pos_ + 1])) {
      is_float = true;
      pos_ += 2;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      size_t exponent = pos_ + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
      if (exponent < text_.size() && IsDigit(text_[exponent])) {
        is_float = true;
        pos_ = exponent;
        while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
      }
    }
    // Python's scanner stops at what does not fit ("1." reads as 1, then "."
    // is extra data), which the caller's next check reports.
    if (!is_float) {
      const std::string_view integer = text_.substr(start, integer_end - start);
      out += integer == "-0" ? std::string_view("0") : integer;
      return absl::OkStatus();
    }
    const std::string literal(text_.substr(start, pos_ - start));
    // strtod rounds correctly and, like float(), overflows to infinity and
    // underflows to zero; the engine never changes the "C" locale.
    const double value = std::strtod(literal.c_str(), nullptr);
    out += PythonFloatRepr(value);
    return absl::OkStatus();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits, as "d.ddde+XX".
  char buffer[64];
  const std::to_chars_result written =
      std::to_chars(buffer, buffer + sizeof(buffer), std::abs(value), std::chars_format::scientific);
  const std::string_view scientific(buffer, written.ptr - buffer);
  const size_t e = scientific.find('e');
  std::string digits;
  for (char c : scientific.substr(0, e)) {
    if (c != '.') digits += c;
  }
  const int exponent = std::atoi(std::string(scientific.substr(e + 1)).c_str());
  const int point = exponent + 1;  // digits' decimal point position: value = 0.digits * 10^point
  const int count = static_cast<int>(digits.size());

  std::string out = std::signbit(value) ? "-" : "";
  if (point <= -4 || point > 16) {
    out += digits[0];
    if (count > 1) out += "." + digits.substr(1);
    const int magnitude = std::abs(exponent);
    out += StrCat("e", exponent < 0 ? "-" : "+", magnitude < 10 ? "0" : "", magnitude);
  } else if (point <= 0) {
    out += "0." + std::string(-point, '0') + digits;
  } else if (point < count) {
    out += digits.substr(0, point) + "." + digits.substr(point);
  } else {
    out += digits + std::string(point - count, '0') + ".0";
  }
  return out;
}

absl::StatusOr<std::string> RedumpLikePython(std::string_view text) { return Redumper(text).Run(); }

}  // namespace needle
