// Output parsing. What the first non-blank thing in the text decides:
//   '[' or '{'               Needle/OpenAI JSON, the whole rest must be one JSON value.
//   "<tool_call>" ... a "</tool_call>" somewhere after it
//                            Hermes/Qwen: one or more tagged call objects.
//   "<tool_call>" and no closing tag
//                            Needle's seed token left in the text: JSON follows it.
//   "<start_function_call>"  FunctionGemma: one or more tagged calls.
// A leading "<think>...</think>" block (Qwen3's reasoning) is skipped first.
//
// Text outside the tags may only be whitespace. A model that appends prose to
// its calls, or emits a tag it did not close, has not produced the format it
// was asked for; scoring it as the calls we could find would hide that, so the
// whole output is unparsable, with the offending offset in the error.
//
// Call objects: {"name": non-empty string, "arguments": object | string holding
// a JSON object | absent}. An empty "arguments" string means no arguments, as
// some OpenAI-compatible servers send for parameterless tools. An OpenAI
// tool_calls entry ({"type":"function","function":{...}}) is unwrapped. Other
// keys ("id", "type") are ignored.
#include "needle/toolcalls/call.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>

#include "needle/json.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/big_int.h"
#include "needle/utf8.h"

namespace needle::toolcalls {
namespace {

// Ordered: arguments keep the order the model wrote them in.
using json = nlohmann::ordered_json;

constexpr std::string_view kToolCallOpen = "<tool_call>";
constexpr std::string_view kToolCallClose = "</tool_call>";
constexpr std::string_view kGemmaOpen = "<start_function_call>";
constexpr std::string_view kGemmaClose = "<end_function_call>";
constexpr std::string_view kGemmaCall = "call:";
constexpr std::string_view kEscape = "<escape>";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
// Deeper FunctionGemma values are refused rather than risking the stack.
constexpr int kMaxGemmaDepth = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

size_t SkipSpace(std::string_view text, size_t pos) {
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
  return pos;
}

bool At(std::string_view text, size_t pos, std::string_view token) { return text.substr(pos, token.size()) == token; }

std::string Dump(const json& value) { return DumpKeepingBigInts(value); }

// The text at `pos`, quoted and escaped, short enough for an error message.
std::string Snippet(std::string_view text, size_t pos) {
  constexpr size_t kMax = 24;
  std::string_view rest = text.substr(pos, kMax);
  return Dump(json(std::string(rest))) + (text.size() - pos > kMax ? "..." : "");
}

// nlohmann's messages carry "line 1, column N", which would contradict the
// byte offset we report; keep only the part that says what went wrong.
std::string JsonErrorReason(const json::parse_error& e) {
  std::string_view what = e.what();
  size_t column = what.find("column ");
  size_t colon = column == std::string_view::npos ? what.find(": ") : what.find(": ", column);
  return std::string(colon == std::string_view::npos ? what : what.substr(colon + 2));
}

// Turns one decoded call object into a call. `where` names it in errors.
std::optional<std::string> ToCall(const json& value, const std::string& where, ToolCall* call) {
  if (!value.is_object()) return StrCat(where, ": expected a call object, got ", Snippet(Dump(value), 0));
  const json* object = &value;
  if (!value.contains("name") && value.contains("function") && value["function"].is_object()) {
    object = &value["function"];
  }
  auto name = object->find("name");
  if (name == object->end()) return StrCat(where, ": missing \"name\"");
  if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
    return StrCat(where, ": \"name\" must be a non-empty string, got ", Snippet(Dump(*name), 0));
  }
  call->name = name->get<std::string>();
  auto arguments = object->find("arguments");
  if (arguments == object->end()) {
    call->arguments = json::object();
  } else if (arguments->is_object()) {
    call->arguments = *arguments;
  } else if (arguments->is_string()) {
    const std::string& inner = arguments->get_ref<const std::string&>();
    if (SkipSpace(inner, 0) == inner.size()) {
      call->arguments = json::object();
      return std::nullopt;
    }
    if (absl::Status nesting = CheckJsonNesting(inner); !nesting.ok()) {
      return StrCat(where, ": \"arguments\" string is not valid JSON: ", std::string(nesting.message()));
    }
    json decoded;
    try {
      decoded = ParseKeepingBigInts(inner);
    } catch (const json::parse_error& e) {
      return StrCat(where, ": \"arguments\" string is not valid JSON at its byte offset ", e.byte == 0 ? 0 : e.byte - 1,
                    ": ", JsonErrorReason(e));
    } catch (const json::exception& e) {  // e.g. a number past the range of a double
      return StrCat(where, ": \"arguments\" string is not valid JSON: ", JsonParseErrorText(e));
    }
    if (!decoded.is_object()) {
      return StrCat(where, ": \"arguments\" string must hold a JSON object, got ", Snippet(inner, 0));
    }
    call->arguments = std::move(decoded);
  } else {
    return StrCat(where, ": \"arguments\" must be an object, got ", Snippet(Dump(*arguments), 0));
  }
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  ParsedOutput Run() {
    // JSON rejects broken UTF-8 itself; FunctionGemma text would pass it on into keys and values.
    if (size_t bad = FindInvalidUtf8(text_); bad != std::string_view::npos) return Fail(bad, "invalid UTF-8");
    size_t pos = SkipSpace(text_, 0);
    if (At(text_, pos, kThinkOpen)) {
      size_t close = text_.find(kThinkClose, pos);
      if (close == std::string_view::npos) return Fail(pos, "<think> block is never closed by </think>");
      pos = SkipSpace(text_, close + kThinkClose.size());
    }
    if (pos == text_.size()) return Done("empty");
    if (At(text_, pos, kToolCallOpen)) {
      if (text_.find(kToolCallClose, pos) != std::string_view::npos) return Hermes(pos);
      return Json(pos + kToolCallOpen.size());
    }
    if (text_[pos] == '[' || text_[pos] == '{') return Json(pos);
    if (At(text_, pos, kGemmaOpen)) return Gemma(pos);
    return Fail(pos,
                StrCat("expected a JSON call list, <tool_call> or <start_function_call>; found ", Snippet(text_, pos)));
  }

 private:
  ParsedOutput Done(std::string format) {
    result_.parsed = true;
    result_.format = std::move(format);
    return std::move(result_);
  }

  static ParsedOutput Fail(size_t offset, const std::string& message) {
    return Unparsable(StrCat("at byte offset ", offset, ": ", message));
  }

  // Parses text_[begin, end) as one JSON value; on failure `*error` says where and why.
  std::optional<json> ParseJson(size_t begin, size_t end, std::string* error) {
    if (absl::Status nesting = CheckJsonNesting(text_.substr(begin, end - begin)); !nesting.ok()) {
      *error = StrCat("at byte offset ", begin, ": invalid JSON: ", std::string(nesting.message()));
      return std::nullopt;
    }
    try {
      return ParseKeepingBigInts(text_.substr(begin, end - begin));
    } catch (const json::parse_error& e) {
      size_t offset = begin + (e.byte == 0 ? 0 : e.byte - 1);
      *error = StrCat("at byte offset ", std::min(offset, text_.size()), ": invalid JSON: ", JsonErrorReason(e));
      return std::nullopt;
    } catch (const json::exception& e) {  // e.g. a number past the range of a double; no offset given
      *error = StrCat("at byte offset ", begin, ": invalid JSON: ", JsonParseErrorText(e));
      return std::nullopt;
    }
  }

  ParsedOutput Json(size_t begin) {
    std::string error;
    std::optional<json> value = ParseJson(begin, text_.size(), &error);
    if (!value) return Unparsable(std::move(error));
    size_t start = SkipSpace(text_, begin);
    if (value->is_object()) {
      ToolCall call;
      auto problem = ToCall(*value, StrCat("call object at byte offset ", start), &call);
      if (problem) return Unparsable(*problem);
      result_.calls.push_back(std::move(call));
    } else if (value->is_array()) {
      for (size_t i = 0; i < value->size(); ++i) {
        ToolCall call;
        auto problem = ToCall((*value)[i], StrCat("call ", i, " of the list at byte offset ", start), &call);
        if (problem) return Unparsable(*problem);
        result_.calls.push_back(std::move(call));
      }
    } else {
      return Fail(start, StrCat("expected a list of calls or a call object, got ", Snippet(text_, start)));
    }
    return Done("json");
  }

  ParsedOutput Hermes(size_t pos) {
    while (pos < text_.size()) {
      if (!At(text_, pos, kToolCallOpen)) {
        return Fail(pos, StrCat("expected <tool_call> or the end of the output, found ", Snippet(text_, pos)));
      }
      size_t body = pos + kToolCallOpen.size();
      size_t close = text_.find(kToolCallClose, body);
      if (close == std::string_view::npos) return Fail(pos, "<tool_call> is never closed by </tool_call>");
      std::string error;
      std::optional<json> value = ParseJson(body, close, &error);
      if (!value) return Unparsable(std::move(error));
      ToolCall call;
      auto problem = ToCall(*value, StrCat("<tool_call> at byte offset ", pos), &call);
      if (problem) return Unparsable(*problem);
      result_.calls.push_back(std::move(call));
      pos = SkipSpace(text_, close + kToolCallClose.size());
    }
    return Done("hermes");
  }

  ParsedOutput Gemma(size_t pos) {
    while (pos < text_.size()) {
      if (!At(text_, pos, kGemmaOpen)) {
        return Fail(pos,
                    StrCat("expected <start_function_call> or the end of the output, found ", Snippet(text_, pos)));
      }
      pos = SkipSpace(text_, pos + kGemmaOpen.size());
      if (!At(text_, pos, kGemmaCall)) return Fail(pos, StrCat("expected \"call:\", found ", Snippet(text_, pos)));
      size_t name_begin = pos + kGemmaCall.size();
      size_t brace = text_.find('{', name_begin);
      if (brace == std::string_view::npos) return Fail(name_begin, "function name is not followed by '{'");
      std::string_view name = text_.substr(name_begin, brace - name_begin);
      while (!name.empty() && IsSpace(name.back())) name.remove_suffix(1);
      if (name.empty()) return Fail(name_begin, "empty function name");
      for (char c : name) {
        if (IsSpace(c) || c == '<' || c == '>' || c == '}' || c == ',' || c == ':') {
          return Fail(name_begin, StrCat("invalid function name ", Snippet(name, 0)));
        }
      }
      ToolCall call;
      call.name = std::string(name);
      pos = brace;
      std::optional<json> arguments = GemmaValue(&pos, 0);
      if (!arguments) return std::move(failure_);
      call.arguments = std::move(*arguments);
      pos = SkipSpace(text_, pos);
      if (!At(text_, pos, kGemmaClose)) {
        return Fail(pos, StrCat("expected <end_function_call>, found ", Snippet(text_, pos)));
      }
      result_.calls.push_back(std::move(call));
      pos = SkipSpace(text_, pos + kGemmaClose.size());
    }
    return Done("function_gemma");
  }

  // FunctionGemma values: <escape>text<escape>, {key:value,...}, [value,...],
  // numbers, true, false, null. Sets failure_ and returns nullopt on error.
  std::optional<json> GemmaValue(size_t* pos, int depth) {
    *pos = SkipSpace(text_, *pos);
    if (depth > kMaxGemmaDepth) return GemmaFail(*pos, StrCat("values nested deeper than ", kMaxGemmaDepth));
    if (*pos >= text_.size()) return GemmaFail(*pos, "output ends inside a call's arguments");
    if (At(text_, *pos, kEscape)) return GemmaString(pos);
    if (text_[*pos] == '{') {
      json object = json::object();
      if (!GemmaSequence(pos, '}', [&](size_t* at) {
            std::optional<std::string> key = GemmaKey(at);
            if (!key) return false;
            std::optional<json> value = GemmaValue(at, depth + 1);
            if (!value) return false;
            object[*key] = std::move(*value);
            return true;
          })) {
        return std::nullopt;
      }
      return object;
    }
    if (text_[*pos] == '[') {
      json array = json::array();
      if (!GemmaSequence(pos, ']', [&](size_t* at) {
            std::optional<json> value = GemmaValue(at, depth + 1);
            if (!value) return false;
            array.push_back(std::move(*value));
            return true;
          })) {
        return std::nullopt;
      }
      return array;
    }
    size_t begin = *pos;
    *pos = EndOfWord(begin);
    std::string_view token = text_.substr(begin, *pos - begin);
    if (token == "true") return json(true);
    if (token == "false") return json(false);
    if (token == "null") return json(nullptr);
    if (IsJsonNumber(token)) {
      try {
        return ParseKeepingBigInts(token);  // an integer past 64 bits stays an int, as BFCL's Python reads it
      } catch (const json::exception&) {
        return GemmaFail(begin, StrCat("number ", Snippet(token, 0), " is out of range"));
      }
    }
    if (token.empty()) return GemmaFail(begin, StrCat("expected a value, found ", Snippet(text_, begin)));
    return GemmaFail(begin, StrCat("unquoted value ", Snippet(token, 0), " (strings must be wrapped in <escape>)"));
  }

  std::optional<json> GemmaString(size_t* pos) {
    size_t begin = *pos + kEscape.size();
    size_t end = text_.find(kEscape, begin);
    if (end == std::string_view::npos) return GemmaFail(*pos, "<escape> string is never closed by <escape>");
    *pos = end + kEscape.size();
    return json(std::string(text_.substr(begin, end - begin)));
  }

  // A key: <escape>text<escape> or a bare word, then ':'.
  std::optional<std::string> GemmaKey(size_t* pos) {
    *pos = SkipSpace(text_, *pos);
    std::string key;
    if (At(text_, *pos, kEscape)) {
      std::optional<json> escaped = GemmaString(pos);
      if (!escaped) return std::nullopt;
      key = escaped->get<std::string>();
    } else {
      size_t begin = *pos;
      *pos = EndOfWord(begin);
      key = std::string(text_.substr(begin, *pos - begin));
      if (key.empty()) return GemmaFail(begin, StrCat("expected an argument name, found ", Snippet(text_, begin)));
    }
    *pos = SkipSpace(text_, *pos);
    if (*pos >= text_.size() || text_[*pos] != ':') {
      return GemmaFail(*pos, StrCat("expected ':' after argument name \"", key, "\", found ", Snippet(text_, *pos)));
    }
    ++*pos;
    return key;
  }

  // The part shared by objects and arrays: open bracket, elements separated
  // by ',', close bracket. `element` parses one element at the position.
  template <typename Element>
  bool GemmaSequence(size_t* pos, char close, Element element) {
    size_t open = *pos;
    *pos = SkipSpace(text_, *pos + 1);
    if (*pos < text_.size() && text_[*pos] == close) {
      ++*pos;
      return true;
    }
    while (true) {
      if (!element(pos)) return false;
      *pos = SkipSpace(text_, *pos);
      if (*pos >= text_.size()) {
        GemmaFail(open, StrCat("'", text_[open], "' is never closed by '", close, "'"));
        return false;
      }
      if (text_[*pos] == close) {
        ++*pos;
        return true;
      }
      if (text_[*pos] != ',') {
        GemmaFail(*pos, StrCat("expected ',' or '", close, "', found ", Snippet(text_, *pos)));
        return false;
      }
      ++*pos;
    }
  }

  // Bare keys and values run up to whitespace or punctuation of the format.
  size_t EndOfWord(size_t pos) const {
    while (pos < text_.size() && !IsSpace(text_[pos]) &&
           std::string_view(":,{}[]<").find(text_[pos]) == std::string_view::npos) {
      ++pos;
    }
    return pos;
  }

  static bool IsJsonNumber(std::string_view s) {
    size_t i = 0;
    auto digits = [&] {
      size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      return i > start;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
      ++i;
    } else if (!digits()) {
      return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (!digits()) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      if (!digits()) return false;
    }
    return i == s.size();
  }

  std::nullopt_t GemmaFail(size_t offset, const std::string& message) {
    failure_ = Fail(offset, message);
    return std::nullopt;
  }

  static ParsedOutput Unparsable(std::string error) {
    ParsedOutput failed;
    failed.error = std::move(error);
    return failed;
  }

  std::string_view text_;
  ParsedOutput result_;
  ParsedOutput failure_;
};

}  // namespace

std::string CallsToJson(const std::vector<ToolCall>& calls) {
  std::string out = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i > 0) out += ',';
    out += StrCat("{\"name\":", Dump(json(calls[i].name)), ",\"arguments\":", Dump(calls[i].arguments), "}");
  }
  out += ']';
  return out;
}

ParsedOutput ParseOutput(std::string_view text) { return Parser(text).Run(); }

}  // namespace needle::toolcalls
