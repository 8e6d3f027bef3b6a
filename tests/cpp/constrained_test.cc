#include "needle/constrained.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/tools.h"

namespace needle {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;

// Multi-character pieces of the kind a BPE vocabulary learns from tool calls.
const std::vector<std::string> kPieces = {
    "get",       "_weather", "_time", "_timezone", "set",    "_timer", "ping", "location", "unit",
    "minutes",   "\":\"",    "\"}",   "\",\"",     "\":{\"", " get",   "name", "[{\"",     "\"},{\"",
    "arguments", "\":",      "\",",   "tim",       "e\"",    "x\"",    "\\\"",
};

// A synthetic vocabulary: ids 0-5 are the special tokens (no text, except
// <tool_call>), then every printable ASCII character, then kPieces.
class Vocab {
 public:
  Vocab() {
    texts_ = {"", "", "", "", "<tool_call>", ""};
    for (char c = ' '; c <= '~'; ++c) texts_.push_back(std::string(1, c));
    texts_.insert(texts_.end(), kPieces.begin(), kPieces.end());
    token_texts_ = TokenTexts(texts_);
  }

  const TokenTexts& texts() const { return token_texts_; }
  int size() const { return static_cast<int>(texts_.size()); }

  int32_t Id(const std::string& text) const {
    for (size_t id = 6; id < texts_.size(); ++id) {
      if (texts_[id] == text) return static_cast<int32_t>(id);
    }
    ADD_FAILURE() << "no token \"" << text << "\"";
    return 0;
  }

  // Accepts `text` one character token at a time.
  void Feed(ConstrainedDecoder& decoder, const std::string& text) const {
    for (char c : text) decoder.Accept(Id(std::string(1, c)));
  }

  // The texts of the tokens Constrain leaves allowed.
  std::set<std::string> Allowed(const ConstrainedDecoder& decoder) const {
    std::vector<float> logits(size(), 1.0f);
    decoder.Constrain(absl::MakeSpan(logits));
    std::set<std::string> allowed;
    for (int id = 0; id < size(); ++id) {
      if (logits[id] == 1.0f) {
        allowed.insert(texts_[id].empty() ? "<id " + std::to_string(id) + ">" : texts_[id]);
      } else {
        EXPECT_EQ(logits[id], -INFINITY) << "masked logits must be -inf";
      }
    }
    return allowed;
  }

  bool NothingMasked(const ConstrainedDecoder& decoder) const {
    std::vector<float> logits(size(), 1.0f);
    decoder.Constrain(absl::MakeSpan(logits));
    return std::count(logits.begin(), logits.end(), 1.0f) == size();
  }

 private:
  std::vector<std::string> texts_;
  TokenTexts token_texts_;
};

constexpr char kTools[] = R"([
  {"name": "getWeather", "parameters": {"location": {"type": "string"}, "unit": {"type": "string"}}},
  {"name": "get_time", "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}},
  {"name": "get_timezone", "parameters": {}},
  {"name": "set_timer", "parameters": {"minutes": {"type": "number"}, "name": {"type": "string"}}},
  {"name": "ping"}
])";

class ConstrainedTest : public ::testing::Test {
 protected:
  ConstrainedTest() : tools_(ToolSet::Parse(kTools).value()), decoder_(tools_, vocab_.texts()) {}

  void Feed(const std::string& text) { vocab_.Feed(decoder_, text); }
  std::set<std::string> Allowed() const { return vocab_.Allowed(decoder_); }
  bool NothingMasked() const { return vocab_.NothingMasked(decoder_); }

  // Brute force over the vocabulary: a token fits when the span plus its
  // text (up to a closing quote) is a prefix of one of `words`, and, when the
  // token has a closing quote, is exactly one of them.
  std::set<std::string> Expected(const std::string& span, const std::vector<std::string>& words) const {
    std::set<std::string> fits;
    for (int id = 0; id < vocab_.size(); ++id) {
      const std::string& text = vocab_.texts().text(id);
      if (text.empty()) continue;
      const size_t quote = text.find('"');
      const std::string candidate = span + text.substr(0, quote);
      for (const std::string& word : words) {
        const bool prefix = word.compare(0, candidate.size(), candidate) == 0 && candidate.size() <= word.size();
        if (prefix && (quote == std::string::npos || candidate == word)) fits.insert(text);
      }
    }
    return fits;
  }

  Vocab vocab_;
  ToolSet tools_;
  ConstrainedDecoder decoder_;
};

const std::vector<std::string> kNames = {"get_weather", "get_time", "get_timezone", "set_timer", "ping"};

TEST_F(ConstrainedTest, TokenTextsIndexByFirstByte) {
  const TokenTexts& texts = vocab_.texts();
  EXPECT_EQ(texts.size(), vocab_.size());
  EXPECT_EQ(texts.text(vocab_.Id("get")), "get");
  EXPECT_THAT(texts.StartingWith('g'), Contains(vocab_.Id("get")));
  EXPECT_THAT(texts.StartingWith('g'), Contains(vocab_.Id("g")));
  EXPECT_THAT(texts.StartingWith('g'), Not(Contains(vocab_.Id(" get"))));
  EXPECT_THAT(texts.StartingWith(' '), Contains(vocab_.Id(" get")));
  EXPECT_THAT(texts.StartingWith('"'), Contains(vocab_.Id("\"}")));
  for (int32_t id : texts.StartingWith('\0')) ADD_FAILURE() << "empty text indexed: " << id;
}

TEST(TrieTest, FindsPrefixesAndMarksWords) {
  Trie trie;
  trie.Insert("get_time");
  trie.Insert("get_timezone");
  EXPECT_EQ(trie.Find(""), 0);
  EXPECT_GE(trie.Find("get_"), 0);
  EXPECT_FALSE(trie.node(trie.Find("get_tim")).terminal);
  EXPECT_TRUE(trie.node(trie.Find("get_time")).terminal);
  EXPECT_TRUE(trie.node(trie.Find("get_timezone")).terminal);
  EXPECT_EQ(trie.Find("get_timer"), -1);
  EXPECT_EQ(trie.Find("x"), -1);
  EXPECT_EQ(trie.node(trie.Find("get_time")).children.count('z'), 1u);
}

TEST_F(ConstrainedTest, NothingIsMaskedOutsideSpans) {
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
  decoder_.Accept(4);  // the leading <tool_call> is plain text to the state machine
  for (const char* text : {"[", "{", "\"", "na", "me\":"}) {
    Feed(text);
    EXPECT_FALSE(decoder_.inside_constrained_span()) << text;
    EXPECT_TRUE(NothingMasked()) << text;
  }
}

TEST_F(ConstrainedTest, ToolNameStartAllowsOnlyNameContinuations) {
  Feed(R"([{"name":")");
  ASSERT_TRUE(decoder_.inside_constrained_span());
  const std::set<std::string> allowed = Allowed();
  EXPECT_EQ(allowed, Expected("", kNames));
  EXPECT_THAT(allowed, Contains("get"));
  EXPECT_THAT(allowed, Contains("g"));
  EXPECT_THAT(allowed, Contains("ping"));
  EXPECT_THAT(allowed, Contains("s"));
  EXPECT_THAT(allowed, Not(Contains(" get")));  // a leading space would not spell a name
  EXPECT_THAT(allowed, Not(Contains("\"")));    // no empty name
  EXPECT_THAT(allowed, Not(Contains("_weather")));
  EXPECT_THAT(allowed, Not(Contains("<id 1>")));  // not even EOS
}

TEST_F(ConstrainedTest, MultiCharacterTokensAdvanceTheSpan) {
  Feed(R"([{"name":")");
  decoder_.Accept(vocab_.Id("get"));
  EXPECT_EQ(Allowed(), Expected("get", kNames));
  EXPECT_THAT(Allowed(), Contains("_weather"));
  EXPECT_THAT(Allowed(), Contains("_time"));
  EXPECT_THAT(Allowed(), Not(Contains("_timer")));  // only set_timer has it
  EXPECT_THAT(Allowed(), Not(Contains("\"")));      // "get" is not a name
  decoder_.Accept(vocab_.Id("_time"));
  EXPECT_EQ(Allowed(), Expected("get_time", kNames));
}

TEST_F(ConstrainedTest, ClosingQuoteOnlyAtACompleteName) {
  Feed(R"([{"name":"get_weathe)");
  EXPECT_THAT(Allowed(), Contains("r"));
  EXPECT_THAT(Allowed(), Not(Contains("\"")));
  EXPECT_THAT(Allowed(), Not(Contains("\"}")));
  EXPECT_THAT(Allowed(), Not(Contains("\",\"")));
  Feed("r");
  const std::set<std::string> allowed = Allowed();
  EXPECT_EQ(allowed, Expected("get_weather", kNames));
  EXPECT_THAT(allowed, Contains("\""));
  EXPECT_THAT(allowed, Contains("\"}"));  // ends the name; what follows the quote is not checked
  EXPECT_THAT(allowed, Contains("\",\""));
  EXPECT_THAT(allowed, Not(Contains("r")));
  decoder_.Accept(vocab_.Id("\","));
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
}

TEST_F(ConstrainedTest, ANameThatPrefixesAnotherAllowsBoth) {
  Feed(R"([{"name":"get_time)");
  EXPECT_THAT(Allowed(), Contains("\""));
  EXPECT_THAT(Allowed(), Contains("z"));
  EXPECT_THAT(Allowed(), Not(Contains("r")));
}

TEST_F(ConstrainedTest, TokenEndingInAQuoteMustCompleteAName) {
  Feed(R"([{"name":"get_ti)");
  // "me" would be fine, but the piece `e"` closes the name at "get_tie".
  EXPECT_THAT(Allowed(), Contains("m"));
  EXPECT_THAT(Allowed(), Not(Contains("e\"")));
  Feed("m");
  EXPECT_THAT(Allowed(), Contains("e\""));
}

TEST_F(ConstrainedTest, ArgumentKeysAreLimitedToTheToolsKeys) {
  Feed(R"([{"name":"get_weather","arguments":{")");
  ASSERT_TRUE(decoder_.inside_constrained_span());
  const std::set<std::string> allowed = Allowed();
  EXPECT_EQ(allowed, Expected("", {"location", "unit"}));
  EXPECT_THAT(allowed, Contains("location"));
  EXPECT_THAT(allowed, Contains("u"));
  EXPECT_THAT(allowed, Not(Contains("t")));        // timezone is get_time's key
  EXPECT_THAT(allowed, Not(Contains("minutes")));  // set_timer's
  Feed("unit");
  EXPECT_THAT(Allowed(), Contains("\":\""));
  EXPECT_THAT(Allowed(), Contains("\":"));
  Feed("\":");
  EXPECT_TRUE(NothingMasked());
}

TEST_F(ConstrainedTest, JsonSchemaToolKeysComeFromProperties) {
  Feed(R"([{"name":"get_time","arguments":{")");
  EXPECT_EQ(Allowed(), Expected("", {"timezone"}));
}

TEST_F(ConstrainedTest, StringValuesAreFreeIncludingEscapedQuotes) {
  Feed(R"([{"name":"get_weather","arguments":{"location":")");
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
  // An escaped quote does not end the value, so `,"` inside it is no key.
  Feed(R"(say \"hi\",\")");
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
  decoder_.Accept(vocab_.Id("\\\""));  // an escaped quote as one token
  Feed(R"(, \\)");                     // an escaped backslash: the next quote is real
  EXPECT_TRUE(NothingMasked());
  Feed(R"(",")");
  ASSERT_TRUE(decoder_.inside_constrained_span());
  EXPECT_EQ(Allowed(), Expected("", {"location", "unit"}));
}

TEST_F(ConstrainedTest, ValueMentioningNameKeyIsNotAToolName) {
  Feed(R"([{"name":"get_weather","arguments":{"location":"\"name\":\"x)");
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
}

TEST_F(ConstrainedTest, NumberValuesAreFreeAndKeysFollow) {
  Feed(R"([{"name":"set_timer","arguments":{"minutes":)");
  EXPECT_TRUE(NothingMasked());
  Feed("10");
  EXPECT_TRUE(NothingMasked());
  Feed(",\"");
  EXPECT_EQ(Allowed(), Expected("", {"minutes", "name"}));
}

TEST_F(ConstrainedTest, ArgumentNamedNameIsAKeyNotAToolName) {
  // set_timer has a parameter called "name": its value is free text.
  Feed(R"([{"name":"set_timer","arguments":{"minutes":5,")");
  EXPECT_THAT(Allowed(), Contains("name"));
  Feed(R"(name":")");
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
  Feed(R"(tea","min)");
  EXPECT_EQ(Allowed(), Expected("min", {"minutes", "name"}));
}

TEST_F(ConstrainedTest, NestedValuesAreFreeAndTheirKeysUnconstrained) {
  Feed(R"([{"name":"get_weather","arguments":{"location":{")");
  EXPECT_FALSE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
  Feed(R"(city":"Paris","geo":{"lat":1.5,"tags":["a","b"]}},")");
  ASSERT_TRUE(decoder_.inside_constrained_span()) << "back at the top level of the arguments";
  EXPECT_EQ(Allowed(), Expected("", {"location", "unit"}));
}

TEST_F(ConstrainedTest, ArrayValuesAreFree) {
  Feed(R"([{"name":"get_weather","arguments":{"location":["x","y",")");
  EXPECT_TRUE(NothingMasked());
  Feed(R"(z"],")");
  EXPECT_EQ(Allowed(), Expected("", {"location", "unit"}));
}

TEST_F(ConstrainedTest, BracketsInsideArrayStringsAreText) {
  // Strings inside arrays are strings too: a "}" or "{" in them must not
  // change the nesting the state machine tracks.
  Feed(R"([{"name":"get_weather","arguments":{"location":["a}b","c{",")");
  EXPECT_TRUE(NothingMasked());
  Feed(R"(d\"}"],")");
  ASSERT_TRUE(decoder_.inside_constrained_span());
  EXPECT_EQ(Allowed(), Expected("", {"location", "unit"}));
}

TEST_F(ConstrainedTest, BracesInsideNestedKeysAreText) {
  Feed(R"([{"name":"get_weather","arguments":{"location":{"a{":1},")");
  ASSERT_TRUE(decoder_.inside_constrained_span());
  EXPECT_EQ(Allowed(), Expected("", {"location", "unit"}));
}

TEST_F(ConstrainedTest, NextCallAfterBracketsInStringsIsConstrained) {
  Feed(R"([{"name":"get_weather","arguments":{"location":["{{"]}},{"name":")");
  ASSERT_TRUE(decoder_.inside_constrained_span());
  EXPECT_EQ(Allowed(), Expected("", kNames));
}

TEST_F(ConstrainedTest, SecondCallIsConstrainedAgain) {
  Feed(R"([{"name":"ping","arguments":{}},{"name":")");
  EXPECT_EQ(Allowed(), Expected("", kNames));
  Feed(R"(set_timer","arguments":{")");
  EXPECT_EQ(Allowed(), Expected("", {"minutes", "name"}));
}

TEST_F(ConstrainedTest, MultiCharacterAcceptEqualsCharacterByCharacter) {
  ConstrainedDecoder by_piece(tools_, vocab_.texts());
  for (const char* piece : {"[{\"", "name", "\":\"", "get", "_weather", "\",\"", "arguments", "\":{\"", "unit"}) {
    by_piece.Accept(vocab_.Id(piece));
  }
  Feed(R"([{"name":"get_weather","arguments":{"unit)");
  EXPECT_EQ(vocab_.Allowed(by_piece), Allowed());
  EXPECT_EQ(by_piece.inside_constrained_span(), decoder_.inside_constrained_span());
}

TEST_F(ConstrainedTest, ToolWithoutParametersLeavesKeysFree) {
  Feed(R"([{"name":"ping","arguments":{")");
  EXPECT_TRUE(NothingMasked());
  ConstrainedDecoder empty_parameters(tools_, vocab_.texts());
  vocab_.Feed(empty_parameters, R"([{"name":"get_timezone","arguments":{")");
  EXPECT_TRUE(vocab_.NothingMasked(empty_parameters));
}

TEST_F(ConstrainedTest, UnknownToolLeavesKeysFree) {
  // With no token fitting a name the model may have written anything; its keys are free.
  Feed(R"([{"name":"bogus","arguments":{")");
  EXPECT_TRUE(NothingMasked());
}

TEST_F(ConstrainedTest, OffTheTrieNothingIsMasked) {
  Feed(R"([{"name":"gex)");
  EXPECT_TRUE(decoder_.inside_constrained_span());
  EXPECT_TRUE(NothingMasked());
}

TEST(ConstrainedFallbackTest, NoFittingTokenMasksNothing) {
  // A vocabulary without the letters of the only tool name: nothing can be
  // allowed, so decoding must fall back to the plain argmax.
  std::vector<std::string> texts = {"", "", "", "", "", ""};
  for (const char* text : {"[", "{", "\"", "n", "a", "m", "e", ":", "}", "]", ",", "x"}) texts.push_back(text);
  const TokenTexts token_texts(texts);
  const ToolSet tools = ToolSet::Parse(R"([{"name": "zed"}])").value();
  ConstrainedDecoder decoder(tools, token_texts);
  for (char c : std::string(R"([{"name":")")) {
    for (int id = 0; id < token_texts.size(); ++id) {
      if (token_texts.text(id) == std::string(1, c)) decoder.Accept(id);
    }
  }
  ASSERT_TRUE(decoder.inside_constrained_span());
  std::vector<float> logits(texts.size());
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i);
  const std::vector<float> before = logits;
  decoder.Constrain(absl::MakeSpan(logits));
  EXPECT_EQ(logits, before);
}

TEST_F(ConstrainedTest, LogitsShorterThanTheVocabularyAreSafe) {
  // Engines may pad or trim the vocabulary; ids past the logits are ignored.
  Feed(R"([{"name":")");
  std::vector<float> logits(vocab_.Id("s") + 1, 0.0f);  // the single characters up to "s", no pieces
  decoder_.Constrain(absl::MakeSpan(logits));
  for (size_t id = 0; id < logits.size(); ++id) {
    const std::string& text = vocab_.texts().text(static_cast<int32_t>(id));
    const bool fits = text.size() == 1 && std::string("gsp").find(text[0]) != std::string::npos;
    EXPECT_EQ(std::isinf(logits[id]), !fits) << "id " << id << " \"" << text << "\"";
  }
}

TEST_F(ConstrainedTest, OutOfRangeTokensAreIgnored) {
  Feed(R"([{"name":")");
  decoder_.Accept(-1);
  decoder_.Accept(vocab_.size() + 5);
  EXPECT_EQ(Allowed(), Expected("", kNames));
}

}  // namespace
}  // namespace needle
