// The keyword baseline. Everything here is a fixed rule, so the same item
// always gets the same output:
//
// Tool choice. Query and tools are cut into lower-case words (tool names also
// at "_", "." and camelCase humps), common function words dropped, and each
// word stemmed by stripping a plural or -ing/-ed ending. A tool scores 2 per
// query stem found among its name's stems and 1 per other query stem found in
// its description or parameter names. The highest score wins (the earlier tool
// on a tie); below kMinScore the output is [] (no call). At most one call.
//
// Arguments, required parameters first, then optional ones, in schema order:
// - enum: the enum value that occurs earliest in the query as whole words;
// - integer / float: the query's numbers in the order they occur, each used
//   once; the words zero..twelve count only in a query without digits (else
//   "the two sides, 4 and 5" would start with 2);
// - boolean: the first of on/enable(d)/yes/true or off/disable(d)/no/false;
// - string: quoted text first, then runs of capitalised words not at the
//   start of a sentence, then (required parameters only: it is often wrong)
//   the words after a preposition up to punctuation, another preposition or
//   a conjunction; each piece of text used once;
// - array, tuple, dict, any: left out.
// A parameter with nothing that fits is left out, even a required one. An
// optional parameter is filled only when the query mentions it (one of its
// enum values, or a word of its name): otherwise a leftover number would land
// in every optional "rounding" or "limit".
#include "needle/evals/keyword_system.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "elapsed.h"
#include "needle/ascii.h"
#include "needle/toolcalls/call.h"

namespace needle::evals {

using toolcalls::CallsToJson;
using toolcalls::ParamSchema;
using toolcalls::ToolCall;
using toolcalls::ToolSchema;

namespace {

// One word of a tool's name is enough: everyday queries are short ("Weather
// in Paris?"). A bar of 3 turns away more of BFCL's irrelevance items but
// misses such queries.
constexpr int kMinScore = 2;

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsUpper(char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; }
bool IsLower(char c) { return std::islower(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

template <size_t N>
bool OneOf(std::string_view word, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), word) != std::end(list);
}

// Lower-case words, split at anything not a letter or digit and before an
// upper-case letter that follows a lower-case one ("getWeather").
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : ' ';
    const bool hump = i > 0 && IsUpper(c) && IsLower(text[i - 1]);
    if ((!IsAlnum(c) || hump) && !word.empty()) words.push_back(AsciiLower(std::exchange(word, "")));
    if (IsAlnum(c)) word += c;
  }
  return words;
}

constexpr std::string_view kStopWords[] = {
    "a",    "an",   "the",  "of",   "to",   "for",   "in",    "on",     "at",    "by",    "with", "from",
    "and",  "or",   "is",   "are",  "be",   "it",    "this",  "that",   "what",  "which", "how",  "me",
    "my",   "i",    "you",  "your", "can",  "could", "would", "will",   "do",    "does",  "get",  "give",
    "show", "find", "tell", "let",  "want", "need",  "like",  "please", "some",  "any",   "all",  "as",
    "into", "its",  "if",   "not",  "s",    "t",     "about", "given",  "using", "use",   "set",  "make",
};

// Strips one common ending so that "timers"/"timer" and "searching"/"search" meet.
std::string Stem(std::string word) {
  auto ends_with = [&](std::string_view suffix) {
    return word.size() >= suffix.size() && word.compare(word.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (word.size() > 4 && ends_with("ies")) return word.substr(0, word.size() - 3) + "y";
  for (std::string_view suffix : {"ches", "shes", "sses", "xes"}) {
    if (ends_with(suffix)) return word.substr(0, word.size() - 2);
  }
  if (word.size() > 5 && ends_with("ing")) return word.substr(0, word.size() - 3);
  if (word.size() > 4 && ends_with("ed")) return word.substr(0, word.size() - 2);
  if (word.size() > 3 && ends_with("s") && !ends_with("ss")) return word.substr(0, word.size() - 1);
  return word;
}

std::set<std::string> Stems(std::string_view text) {
  std::set<std::string> stems;
  for (std::string& word : Words(text)) {
    if (OneOf(word, kStopWords) || IsDigit(word[0])) continue;
    stems.insert(Stem(std::move(word)));
  }
  return stems;
}

int Score(const std::set<std::string>& query, const ToolSchema& tool) {
  const std::set<std::string> name = Stems(tool.name);
  std::string other = tool.description;
  for (const ParamSchema& param : tool.params) other += " " + param.name;
  int score = 0;
  for (const std::string& stem : Stems(other)) {
    if (name.count(stem) == 0) score += static_cast<int>(query.count(stem));
  }
  for (const std::string& stem : name) score += 2 * static_cast<int>(query.count(stem));
  return score;
}

// Whole-word position of `needle` (lower case) in `text` (lower case), or npos.
size_t FindWord(std::string_view text, std::string_view needle) {
  if (needle.empty()) return std::string_view::npos;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    if ((at == 0 || !IsAlnum(text[at - 1])) && (end == text.size() || !IsAlnum(text[end]))) return at;
  }
  return std::string_view::npos;
}

std::deque<double> Numbers(std::string_view query) {
  constexpr std::string_view kNumberWords[] = {"zero",  "one",   "two",  "three", "four",   "five",  "six",
                                               "seven", "eight", "nine", "ten",   "eleven", "twelve"};
  const bool has_digits = std::any_of(query.begin(), query.end(), IsDigit);
  std::deque<double> numbers;
  for (size_t i = 0; i < query.size();) {
    if (i > 0 && IsAlnum(query[i - 1])) {  // inside a word like "mp3"
      ++i;
      continue;
    }
    size_t end = i;
    if (query[end] == '-' && end + 1 < query.size() && IsDigit(query[end + 1])) ++end;
    if (end < query.size() && IsDigit(query[end])) {
      while (end < query.size() && IsDigit(query[end])) ++end;
      if (end + 1 < query.size() && query[end] == '.' && IsDigit(query[end + 1])) {
        for (++end; end < query.size() && IsDigit(query[end]);) ++end;
      }
      // strtod, unlike stod, does not throw on a number too long for a double; JSON has no infinity.
      const double number = std::strtod(std::string(query.substr(i, end - i)).c_str(), nullptr);
      if (std::isfinite(number)) numbers.push_back(number);
      i = end;
      continue;
    }
    while (end < query.size() && IsAlnum(query[end])) ++end;
    const std::string word = AsciiLower(query.substr(i, end - i));
    auto it = std::find(std::begin(kNumberWords), std::end(kNumberWords), word);
    if (!has_digits && it != std::end(kNumberWords)) {
      numbers.push_back(static_cast<double>(it - std::begin(kNumberWords)));
    }
    i = std::max(end, i + 1);
  }
  return numbers;
}

bool IsQuote(char c) { return c == '"' || c == '\''; }

// Cuts quoted spans out of `*query` (replacing them with "," so that they end
// clauses) and returns them.
std::vector<std::string> TakeQuoted(std::string* query) {
  std::vector<std::string> quoted;
  std::string& text = *query;
  for (size_t open = 0; open < text.size(); ++open) {
    if (!IsQuote(text[open]) || (open > 0 && IsAlnum(text[open - 1]))) continue;  // an apostrophe: "what's"
    for (size_t close = text.find(text[open], open + 1); close != std::string::npos;
         close = text.find(text[open], close + 1)) {
      if (close + 1 < text.size() && IsAlnum(text[close + 1])) continue;
      if (close > open + 1) quoted.push_back(text.substr(open + 1, close - open - 1));
      std::fill(text.begin() + open, text.begin() + close + 1, ',');
      open = close;
      break;
    }
  }
  return quoted;
}

struct Token {
  std::string word;
  bool sentence_start;
  bool after_break;  // punctuation between this word and the one before
};

std::vector<Token> Tokens(std::string_view text) {
  std::vector<Token> tokens;
  bool sentence_start = true;
  bool after_break = true;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (IsAlnum(c)) {
      size_t end = i;
      // Keeps "O'Brien", "don't" and "Jean-Luc" whole.
      while (end < text.size() && (IsAlnum(text[end]) || ((text[end] == '\'' || text[end] == '-') &&
                                                          end + 1 < text.size() && IsAlnum(text[end + 1])))) {
        ++end;
      }
      tokens.push_back({std::string(text.substr(i, end - i)), sentence_start, after_break});
      sentence_start = after_break = false;
      i = end;
      continue;
    }
    if (c == '.' || c == '!' || c == '?' || c == '\n') sentence_start = true;
    if (c != ' ' && c != '\t') after_break = true;
    ++i;
  }
  return tokens;
}

std::vector<std::string> CapitalisedRuns(const std::vector<Token>& tokens) {
  std::vector<std::string> runs;
  std::string run;
  for (const Token& token : tokens) {
    const bool capitalised = IsUpper(token.word[0]) && !token.sentence_start && token.word != "I";
    if (!run.empty() && (!capitalised || token.after_break)) runs.push_back(std::exchange(run, ""));
    if (capitalised) run += (run.empty() ? "" : " ") + token.word;
  }
  if (!run.empty()) runs.push_back(run);
  return runs;
}

constexpr std::string_view kPrepositions[] = {"in", "to",   "for",  "at",     "about", "from",
                                              "on", "with", "near", "called", "named", "into"};
constexpr std::string_view kPhraseEnds[] = {"and", "then", "but", "or", "so", "please"};
constexpr std::string_view kArticles[] = {"the", "a", "an", "my", "our", "this", "that", "your"};

std::vector<std::string> PrepositionPhrases(const std::vector<Token>& tokens) {
  std::vector<std::string> phrases;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!OneOf(AsciiLower(tokens[i].word), kPrepositions)) continue;
    size_t j = i + 1;
    while (j < tokens.size() && !tokens[j].after_break && OneOf(AsciiLower(tokens[j].word), kArticles)) ++j;
    std::string phrase;
    for (; j < tokens.size() && !tokens[j].after_break; ++j) {
      const std::string lower = AsciiLower(tokens[j].word);
      if (OneOf(lower, kPrepositions) || OneOf(lower, kPhraseEnds)) break;
      phrase += (phrase.empty() ? "" : " ") + tokens[j].word;
    }
    if (!phrase.empty()) phrases.push_back(phrase);
  }
  return phrases;
}

// Text for string parameters, in the order it is handed out.
struct StringCandidates {
  std::deque<std::string> named;    // quoted, then capitalised
  std::deque<std::string> phrases;  // after prepositions

  explicit StringCandidates(std::string_view query) {
    std::string rest(query);
    for (std::string& text : TakeQuoted(&rest)) named.push_back(std::move(text));
    const std::vector<Token> tokens = Tokens(rest);
    for (std::string& text : CapitalisedRuns(tokens)) named.push_back(std::move(text));
    for (std::string& text : PrepositionPhrases(tokens)) {
      if (std::find(named.begin(), named.end(), text) == named.end()) phrases.push_back(std::move(text));
    }
  }

  std::optional<std::string> Take(bool required) {
    std::deque<std::string>* source = !named.empty() ? &named : required ? &phrases : nullptr;
    if (source == nullptr || source->empty()) return std::nullopt;
    std::string text = std::move(source->front());
    source->pop_front();
    return text;
  }
};

std::optional<nlohmann::json> EnumValue(std::string_view lower_query, const ParamSchema& param) {
  std::optional<nlohmann::json> best;
  size_t best_at = std::string_view::npos;
  for (const nlohmann::json& value : param.enum_values) {
    if (!value.is_string()) continue;
    const size_t at = FindWord(lower_query, AsciiLower(value.get<std::string>()));
    if (at < best_at) {
      best_at = at;
      best = value;
    }
  }
  return best;
}

std::optional<bool> BooleanValue(const std::vector<std::string>& words) {
  constexpr std::string_view kTrue[] = {"on", "enable", "enabled", "yes", "true"};
  constexpr std::string_view kFalse[] = {"off", "disable", "disabled", "no", "false"};
  for (const std::string& word : words) {
    if (OneOf(word, kTrue)) return true;
    if (OneOf(word, kFalse)) return false;
  }
  return std::nullopt;
}

class ArgumentFinder {
 public:
  explicit ArgumentFinder(std::string_view query)
      : lower_query_(AsciiLower(query)), words_(Words(query)), numbers_(Numbers(query)), texts_(query) {}

  std::optional<nlohmann::json> Find(const ParamSchema& param) {
    if (!param.enum_values.empty()) return EnumValue(lower_query_, param);
    if (param.type == "integer" || param.type == "float") {
      if (numbers_.empty()) return std::nullopt;
      const double number = numbers_.front();
      numbers_.pop_front();
      const bool integral = std::floor(number) == number && std::abs(number) < 1e15;
      if (param.type == "integer" && integral) return nlohmann::json(static_cast<int64_t>(number));
      return nlohmann::json(number);
    }
    if (param.type == "boolean") {
      std::optional<bool> value = BooleanValue(words_);
      if (value) return nlohmann::json(*value);
      return std::nullopt;
    }
    if (param.type == "string") {
      if (std::optional<std::string> text = texts_.Take(param.required)) return nlohmann::json(*std::move(text));
      return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  std::string lower_query_;
  std::vector<std::string> words_;
  std::deque<double> numbers_;
  StringCandidates texts_;
};

bool Mentions(const std::set<std::string>& query, const ParamSchema& param) {
  if (!param.enum_values.empty()) return true;  // EnumValue() finds a value only when the query has it
  const std::set<std::string> name = Stems(param.name);
  return std::any_of(name.begin(), name.end(), [&](const std::string& stem) { return query.count(stem) != 0; });
}

std::vector<ToolCall> Decide(const EvalItem& item) {
  const std::set<std::string> query = Stems(item.query);
  const ToolSchema* best = nullptr;
  int best_score = kMinScore - 1;
  for (const ToolSchema& tool : item.tools) {
    const int score = Score(query, tool);
    if (score > best_score) {
      best_score = score;
      best = &tool;
    }
  }
  if (best == nullptr) return {};
  ToolCall call;
  call.name = best->name;
  ArgumentFinder finder(item.query);
  for (bool required : {true, false}) {
    for (const ParamSchema& param : best->params) {
      if (param.required != required || (!required && !Mentions(query, param))) continue;
      if (std::optional<nlohmann::json> value = finder.Find(param)) call.arguments[param.name] = *std::move(value);
    }
  }
  return {std::move(call)};
}

class KeywordSystem : public System {
 public:
  explicit KeywordSystem(std::string name) : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }

  absl::StatusOr<Prediction> Predict(const EvalItem& item) const override {
    const Clock::time_point start = Clock::now();
    Prediction prediction;
    prediction.text = CallsToJson(Decide(item));
    prediction.latency_ms = MillisecondsSince(start);
    return prediction;
  }

 private:
  std::string name_;
};

}  // namespace

std::unique_ptr<System> MakeKeywordSystem(std::string name) { return std::make_unique<KeywordSystem>(std::move(name)); }

}  // namespace needle::evals
