// A recursive-descent reader for the small part of Python that call strings
// use. Choices written down here:
// - A dict key must be a string or a number (JSON object keys are strings, so
//   a number key is kept as its text); True/False/None keys are refused.
// - Integers past 64 bits become floats, as in every other JSON value here.
// - Nesting deeper than kMaxDepth is refused rather than risking the stack.
// - Anything else Python would evaluate (names, expressions, f-strings,
//   triple quotes, calls inside arguments) is an error naming its offset.
#include "needle/evals/python_call.h"

#include <cmath>
#include <cstdint>
#include <optional>

#include "append_utf8.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/big_int.h"

namespace needle::evals {

using toolcalls::IsBigInt;
using toolcalls::ParseKeepingBigInts;

namespace {

using OJson = nlohmann::ordered_json;

constexpr int kMaxDepth = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<PythonCall>> Calls() {
    std::vector<PythonCall> calls;
    Skip();
    const bool list = Peek() == '[';
    if (list) {
      ++pos_;
      Skip();
      while (Peek() != ']') {
        if (!calls.empty()) {
          if (!Expect(',')) return Error("expected ',' or ']' between calls");
          Skip();
          if (Peek() == ']') break;
        }
        absl::StatusOr<PythonCall> call = Call();
        if (!call.ok()) return call.status();
        calls.push_back(*std::move(call));
        Skip();
      }
      ++pos_;
    } else {
      absl::StatusOr<PythonCall> call = Call();
      if (!call.ok()) return call.status();
      calls.push_back(*std::move(call));
    }
    Skip();
    if (pos_ != text_.size()) return Error("unexpected text after the call");
    return calls;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void Skip() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool Expect(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(StrCat("Python call, byte ", pos_, ": ", what));
  }

  std::string Name() {
    const size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  absl::StatusOr<PythonCall> Call() {
    PythonCall call;
    call.keyword_arguments = OJson::object();
    if (!IsNameStart(Peek())) return Error("expected a function name");
    call.name = Name();
    while (Peek() == '.') {
      ++pos_;
      if (!IsNameStart(Peek())) return Error("expected a name after '.'");
      call.name += "." + Name();
    }
    Skip();
    if (!Expect('(')) return Error("expected '(' after the function name");
    Skip();
    while (Peek() != ')') {
      if (pos_ >= text_.size()) return Error("unclosed '('");
      if (!call.keyword_arguments.empty() || !call.positional_arguments.empty()) {
        if (!Expect(',')) return Error("expected ',' or ')' between arguments");
        Skip();
        if (Peek() == ')') break;
      }
      // A keyword argument is a name followed by '=' (and not '==').
      const size_t start = pos_;
      if (IsNameStart(Peek())) {
        std::string key = Name();
        Skip();
        if (Peek() == '=' && (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '=')) {
          ++pos_;
          Skip();
          absl::StatusOr<OJson> value = Value(0);
          if (!value.ok()) return value.status();
          if (call.keyword_arguments.contains(key)) return Error(StrCat("argument \"", key, "\" given twice"));
          call.keyword_arguments[key] = *std::move(value);
          Skip();
          continue;
        }
        pos_ = start;
      }
      if (!call.keyword_arguments.empty()) return Error("positional argument after keyword arguments");
      absl::StatusOr<OJson> value = Value(0);
      if (!value.ok()) return value.status();
      call.positional_arguments.push_back(*std::move(value));
      Skip();
    }
    ++pos_;
    return call;
  }

  absl::StatusOr<OJson> Value(int depth) {
    if (depth > kMaxDepth) return Error(StrCat("values nested deeper than ", kMaxDepth));
    const char c = Peek();
    if (c == '"' || c == '\'' ||
        ((c == 'r' || c == 'R') && pos_ + 1 < text_.size() && (text_[pos_ + 1] == '"' || text_[pos_ + 1] == '\''))) {
      std::string joined;
      // Adjacent literals join, as in Python: "a" 'b' == "ab".
      do {
        absl::StatusOr<std::string> part = String();
        if (!part.ok()) return part.status();
        joined += *part;
        Skip();
      } while (Peek() == '"' || Peek() == '\'');
      return OJson(std::move(joined));
    }
    if (c == '[' || c == '(') return Sequence(c == '[' ? ']' : ')', depth);
    if (c == '{') return Dict(depth);
    if (IsDigit(c) || c == '-' || c == '+' || c == '.') return Number();
    if (IsNameStart(c)) {
      const size_t start = pos_;
      const std::string word = Name();
      if (word == "True") return OJson(true);
      if (word == "False") return OJson(false);
      if (word == "None") return OJson(nullptr);
      pos_ = start;
      return Error(StrCat("\"", word,
                          "\" is not a literal (only strings, numbers, True, False, None, lists, "
                          "tuples and dicts can be read)"));
    }
    return Error(pos_ >= text_.size() ? "expected a value, got the end of the text" : "expected a value");
  }

  absl::StatusOr<std::string> String() {
    const bool raw = Peek() == 'r' || Peek() == 'R';
    if (raw) ++pos_;
    const char quote = text_[pos_];
    if (text_.substr(pos_, 3) == std::string(3, quote)) return Error("triple-quoted strings are not read");
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') return Error("unterminated string");
      const char c = text_[pos_++];
      if (c == quote) return out;
      if (c != '\\' || raw) {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return Error("unterminated string");
      const char escape = text_[pos_++];
      switch (escape) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '0':
          out += '\0';
          break;
        case '\\':
        case '\'':
        case '"':
          out += escape;
          break;
        case '\n':
          break;  // a line continuation
        case 'x':
        case 'u':
        case 'U': {
          const size_t digits = escape == 'x' ? 2 : escape == 'u' ? 4 : 8;
          uint32_t code_point = 0;
          for (size_t i = 0; i < digits; ++i) {
            const char h = Peek();
            const int nibble = IsDigit(h)               ? h - '0'
                               : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                               : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                        : -1;
            if (nibble < 0) return Error(StrCat("\\", std::string(1, escape), " needs ", digits, " hex digits"));
            code_point = code_point * 16 + static_cast<uint32_t>(nibble);
            ++pos_;
          }
          if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
            return Error("escape names no Unicode character");
          }
          AppendUtf8(code_point, &out);
          break;
        }
        default:  // Python keeps unknown escapes as written
          out += '\\';
          out += escape;
      }
    }
  }

  absl::StatusOr<OJson> Number() {
    const size_t start = pos_;
    std::string digits;
    if (Peek() == '-' || Peek() == '+') digits += text_[pos_++];
    bool is_float = false, any_digit = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (IsDigit(c)) {
        any_digit = true;
        digits += c;
      } else if (c == '_' && any_digit) {
        // 1_000: Python's digit separator
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_float = true;
        digits += c;
        if ((c == 'e' || c == 'E') && pos_ + 1 < text_.size() && (text_[pos_ + 1] == '-' || text_[pos_ + 1] == '+')) {
          digits += text_[++pos_];
        }
      } else {
        break;
      }
      ++pos_;
    }
    if (!any_digit) {
      pos_ = start;
      return Error("expected a number");
    }
    if (digits[0] == '+') digits.erase(0, 1);
    // JSON's grammar is stricter than Python's about "5." and ".5": add the zero it wants.
    if (is_float) {
      const size_t dot = digits.find('.');
      if (dot != std::string::npos && (dot + 1 == digits.size() || !IsDigit(digits[dot + 1]))) {
        digits.insert(dot + 1, "0");
      }
      if (dot != std::string::npos && (dot == 0 || !IsDigit(digits[dot - 1]))) digits.insert(dot, "0");
    }
    // Python reads 007 as an error and 0.5 fine; leading zeros in an int are refused like Python does.
    const size_t first_digit = digits[0] == '-' ? 1 : 0;
    if (!is_float && digits.size() > first_digit + 1 && digits[first_digit] == '0') {
      pos_ = start;
      return Error("integers do not start with 0");
    }
    // An int past 64 bits stays an int (a BigInt), as Python keeps it.
    OJson value(OJson::value_t::discarded);
    try {
      value = ParseKeepingBigInts(digits);
    } catch (const OJson::exception&) {
    }
    if (value.is_discarded() || !(value.is_number() || IsBigInt(value))) {
      pos_ = start;
      return Error(StrCat("\"", digits, "\" is not a number, or is out of a double's range"));
    }
    if (value.is_number_float() && !std::isfinite(value.get<double>())) return Error("number out of range");
    return value;
  }

  absl::StatusOr<OJson> Sequence(char close, int depth) {
    ++pos_;
    OJson list = OJson::array();
    Skip();
    while (Peek() != close) {
      if (pos_ >= text_.size()) return Error(StrCat("unclosed '", std::string(1, close == ']' ? '[' : '('), "'"));
      if (!list.empty()) {
        if (!Expect(',')) return Error(StrCat("expected ',' or '", std::string(1, close), "'"));
        Skip();
        if (Peek() == close) break;
      }
      absl::StatusOr<OJson> value = Value(depth + 1);
      if (!value.ok()) return value.status();
      list.push_back(*std::move(value));
      Skip();
    }
    ++pos_;
    return list;
  }

  absl::StatusOr<OJson> Dict(int depth) {
    ++pos_;
    OJson dict = OJson::object();
    Skip();
    while (Peek() != '}') {
      if (pos_ >= text_.size()) return Error("unclosed '{'");
      if (!dict.empty()) {
        if (!Expect(',')) return Error("expected ',' or '}'");
        Skip();
        if (Peek() == '}') break;
      }
      const size_t key_at = pos_;
      absl::StatusOr<OJson> key = Value(depth + 1);
      if (!key.ok()) return key.status();
      if (!key->is_string() && !key->is_number()) {
        pos_ = key_at;
        return Error("a dict key must be a string or a number");
      }
      Skip();
      if (!Expect(':')) return Error("expected ':' after a dict key");
      Skip();
      absl::StatusOr<OJson> value = Value(depth + 1);
      if (!value.ok()) return value.status();
      dict[key->is_string() ? key->get<std::string>() : key->dump()] = *std::move(value);
      Skip();
    }
    ++pos_;
    return dict;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<PythonCall>> ParsePythonCalls(std::string_view text) { return Reader(text).Calls(); }

}  // namespace needle::evals
