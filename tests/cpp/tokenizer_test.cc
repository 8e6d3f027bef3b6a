#include "needle/tokenizer.h"

#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_checkpoint.h"

namespace needle {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const std::string kModelPath = NEEDLE_SOURCE_DIR "/models/default/tokenizer.model";
const std::string kWrongIdsPath = NEEDLE_SOURCE_DIR "/tests/data/wrong_ids.model";
constexpr char kTools[] =
    R"([{"name":"get_weather","description":"Current weather","parameters":{"location":{"type":"string"}}}])";

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(kModelPath);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = tokenizer->release();
  }
  static void TearDownTestSuite() { delete tokenizer_; }
  static const Tokenizer& tokenizer() { return *tokenizer_; }

  // A query of well over 1022 tokens.
  static std::string LongQuery() {
    std::string query;
    for (int i = 0; i < 600; ++i) query += "please set timer number " + std::to_string(i) + " now; ";
    return query;
  }

 private:
  static inline Tokenizer* tokenizer_ = nullptr;
};

TEST_F(TokenizerTest, DefaultModelHasNeedlesIdLayout) {
  EXPECT_EQ(tokenizer().vocab_size(), 8192);
  EXPECT_EQ(tokenizer().IdToPiece(kPadId), "<pad>");
  EXPECT_EQ(tokenizer().IdToPiece(kEosId), "</s>");
  EXPECT_EQ(tokenizer().IdToPiece(kBosId), "<s>");
  EXPECT_EQ(tokenizer().IdToPiece(kUnkId), "<unk>");
  EXPECT_EQ(tokenizer().IdToPiece(kToolCallId), "<tool_call>");
  EXPECT_EQ(tokenizer().IdToPiece(kToolsId), "<tools>");
}

TEST(TokenizerLoadTest, WrongIdLayoutIsRejectedNamingTheExpectedPiece) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(kWrongIdsPath);
  ASSERT_FALSE(tokenizer.ok());
  const std::string message(tokenizer.status().message());
  EXPECT_THAT(message, HasSubstr(kWrongIdsPath));
  EXPECT_THAT(message, HasSubstr("id 0 must be \"<pad>\""));
  EXPECT_THAT(message, HasSubstr("found \"<unk>\""));
}

TEST(TokenizerLoadTest, NonModelFileIsRejected) {
  const test::TempFile not_a_model = test::WriteTempFile("this is not a protobuf, just some text\n");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(not_a_model.path());
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr(not_a_model.path()));
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("not a SentencePiece model"));

  // A checkpoint is a binary file too, but not a SentencePiece one.
  EXPECT_FALSE(Tokenizer::Load(NEEDLE_SOURCE_DIR "/models/default/needle.safetensors").ok());
  const test::TempFile empty = test::WriteTempFile("");
  EXPECT_FALSE(Tokenizer::Load(empty.path()).ok());
}

// A FIFO hung, /dev/zero was read until memory ran out, a directory threw.
TEST(TokenizerLoadTest, WhatIsNotAFileIsRejected) {
  const std::string fifo = ::testing::TempDir() + "tokenizer.fifo";
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, kind] : {std::pair<std::string, std::string>{fifo, "a FIFO"},
                                   {"/dev/zero", "a device"},
                                   {::testing::TempDir(), "a directory"}}) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(path);
    ASSERT_FALSE(tokenizer.ok()) << path;
    EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("is " + kind + ", not a regular file"));
  }
  std::remove(fifo.c_str());
}

TEST(TokenizerLoadTest, MissingFileIsRejected) {
  const std::string path = ::testing::TempDir() + "no-such-tokenizer.model";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(path);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr(path));
}

TEST_F(TokenizerTest, EncodeDecodeRoundTrip) {
  for (const char* text :
       {"What is the weather in Paris?", "set a timer for 10 minutes",
        R"([{"name":"get_weather","arguments":{"location":"Paris"}}])", "caf\xC3\xA9 \xF0\x9F\x98\x80 na\xC3\xAFve"}) {
    const std::vector<int32_t> ids = tokenizer().Encode(text);
    ASSERT_FALSE(ids.empty()) << text;
    for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < tokenizer().vocab_size());
    EXPECT_EQ(tokenizer().Decode(ids), text);
  }
  EXPECT_TRUE(tokenizer().Encode("").empty());
}

TEST_F(TokenizerTest, NonAsciiFallsBackToBytePieces) {
  // "é" is not a learned piece here, so it is spelt with its two UTF-8 bytes.
  const std::vector<int32_t> ids = tokenizer().Encode("\xC3\xA9");
  std::string pieces;
  for (int32_t id : ids) pieces += tokenizer().IdToPiece(id);
  EXPECT_THAT(pieces, HasSubstr("<0xC3><0xA9>"));
}

TEST_F(TokenizerTest, DecodeSkipsControlAndOutOfRangeIds) {
  std::vector<int32_t> ids = tokenizer().Encode("hello world");
  const std::string plain = tokenizer().Decode(ids);
  ids.insert(ids.begin(), kEosId);
  ids.push_back(-1);
  ids.push_back(tokenizer().vocab_size());
  ids.push_back(kPadId);
  EXPECT_EQ(tokenizer().Decode(ids), plain);
}

TEST_F(TokenizerTest, EncodePromptLayout) {
  const std::string query = "What is the weather in Paris?";
  const EncoderPrompt prompt = tokenizer().EncodePrompt(query, kTools);
  const std::vector<int32_t> query_ids = tokenizer().Encode(query);
  const std::vector<int32_t> tool_ids = tokenizer().Encode(kTools);
  std::vector<int32_t> expected = query_ids;
  expected.push_back(kToolsId);
  expected.insert(expected.end(), tool_ids.begin(), tool_ids.end());
  EXPECT_THAT(prompt.tokens, ElementsAreArray(expected));
  EXPECT_EQ(prompt.query_tokens, static_cast<int>(query_ids.size()));
  EXPECT_FALSE(prompt.query_truncated);
  EXPECT_FALSE(prompt.tools_truncated);
  // No BOS or EOS anywhere: upstream feeds the two token lists as they are.
  for (int32_t id : prompt.tokens) {
    EXPECT_NE(id, kBosId);
    EXPECT_NE(id, kEosId);
  }
}

TEST_F(TokenizerTest, EncodePromptWithEmptyQueryOrTools) {
  const EncoderPrompt no_query = tokenizer().EncodePrompt("", kTools);
  EXPECT_EQ(no_query.query_tokens, 0);
  ASSERT_FALSE(no_query.tokens.empty());
  EXPECT_EQ(no_query.tokens[0], kToolsId);
  const EncoderPrompt no_tools = tokenizer().EncodePrompt("hello", "");
  EXPECT_EQ(no_tools.tokens.back(), kToolsId);
}

TEST_F(TokenizerTest, LongQueryIsCutTo1022Tokens) {
  const std::string query = LongQuery();
  const std::vector<int32_t> query_ids = tokenizer().Encode(query);
  ASSERT_GT(query_ids.size(), 1100u);
  const EncoderPrompt prompt = tokenizer().EncodePrompt(query, kTools);
  EXPECT_TRUE(prompt.query_truncated);
  EXPECT_TRUE(prompt.tools_truncated);  // one token of room for the tools is not enough
  EXPECT_EQ(prompt.query_tokens, kMaxQueryTokens);
  ASSERT_EQ(prompt.tokens.size(), static_cast<size_t>(kMaxEncoderTokens));
  EXPECT_TRUE(std::equal(prompt.tokens.begin(), prompt.tokens.begin() + kMaxQueryTokens, query_ids.begin()));
  EXPECT_EQ(prompt.tokens[kMaxQueryTokens], kToolsId);
  EXPECT_EQ(prompt.tokens[kMaxQueryTokens + 1], tokenizer().Encode(kTools)[0]);
}

TEST_F(TokenizerTest, LongToolsAreCutToTheTotalLimit) {
  std::string tools = "[";
  for (int i = 0; i < 200; ++i) {
    if (i > 0) tools += ",";
    tools += R"({"name":"tool_)" + std::to_string(i) + R"(","description":"does thing number )" + std::to_string(i) +
             R"("})";
  }
  tools += "]";
  const std::vector<int32_t> tool_ids = tokenizer().Encode(tools);
  ASSERT_GT(tool_ids.size(), 1100u);
  const std::string query = "turn on the lights";
  const EncoderPrompt prompt = tokenizer().EncodePrompt(query, tools);
  const size_t query_size = tokenizer().Encode(query).size();
  EXPECT_FALSE(prompt.query_truncated);
  EXPECT_TRUE(prompt.tools_truncated);
  EXPECT_EQ(prompt.query_tokens, static_cast<int>(query_size));
  ASSERT_EQ(prompt.tokens.size(), static_cast<size_t>(kMaxEncoderTokens));
  EXPECT_EQ(prompt.tokens[query_size], kToolsId);
  // The tools keep their first tokens: a prefix of the full encoding.
  EXPECT_TRUE(std::equal(prompt.tokens.begin() + query_size + 1, prompt.tokens.end(), tool_ids.begin()));
}

// Long texts are tokenized only as far as the kept tokens need; what is kept
// must equal the start of the whole text's encoding.
TEST_F(TokenizerTest, EncodeAtMostKeepsTheWholeEncodingsFirstTokens) {
  std::string words;
  while (words.size() < 300000) words += LongQuery() + "\n";
  std::string no_spaces;
  while (no_spaces.size() < 300000) no_spaces += "getWeatherForecast_2024,{\"x\":[1,2]}";
  std::string multibyte;
  while (multibyte.size() < 300000) multibyte += "caf\xC3\xA9\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80";
  for (const std::string* text : {&words, &no_spaces, &multibyte}) {
    const std::vector<int32_t> all = tokenizer().Encode(*text);
    for (size_t keep : {size_t{1}, size_t{500}, size_t{1022}, size_t{5000}}) {
      ASSERT_GT(all.size(), keep);
      bool truncated = false;
      const std::vector<int32_t> kept = tokenizer().EncodeAtMost(*text, keep, &truncated);
      EXPECT_TRUE(truncated);
      EXPECT_EQ(kept, std::vector<int32_t>(all.begin(), all.begin() + keep)) << text->substr(0, 20) << " " << keep;
    }
  }
  bool truncated = true;
  EXPECT_EQ(tokenizer().EncodeAtMost("turn on the lights", 1022, &truncated), tokenizer().Encode("turn on the lights"));
  EXPECT_FALSE(truncated);
}

TEST_F(TokenizerTest, TokenTextsMapWordBoundaryAndBytes) {
  const TokenTexts& texts = tokenizer().token_texts();
  ASSERT_EQ(texts.size(), tokenizer().vocab_size());
  // Control and unknown pieces add nothing to the output.
  EXPECT_EQ(texts.text(kPadId), "");
  EXPECT_EQ(texts.text(kEosId), "");
  EXPECT_EQ(texts.text(kBosId), "");
  EXPECT_EQ(texts.text(kUnkId), "");
  // Byte pieces "<0xAB>" stand for their one byte.
  int byte_pieces = 0;
  for (int32_t id = 0; id < texts.size(); ++id) {
    const std::string piece = tokenizer().IdToPiece(id);
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') {
      ++byte_pieces;
      ASSERT_EQ(texts.text(id), std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)))) << piece;
    }
  }
  EXPECT_EQ(byte_pieces, 256);
  // "▁" (U+2581) is a space wherever it appears in a piece; the default
  // tokenizer keeps it a piece of its own, so that values copy token for token.
  bool saw_word_boundary = false;
  for (int32_t id : tokenizer().Encode("What is the weather in Paris")) {
    const std::string piece = tokenizer().IdToPiece(id);
    std::string expected = piece;
    for (size_t pos; (pos = expected.find("\xE2\x96\x81")) != std::string::npos;) expected.replace(pos, 3, " ");
    EXPECT_EQ(texts.text(id), expected) << piece;
    EXPECT_EQ(texts.text(id).find("\xE2\x96\x81"), std::string::npos);
    saw_word_boundary |= piece == "\xE2\x96\x81";
  }
  EXPECT_TRUE(saw_word_boundary);
}

TEST_F(TokenizerTest, TokenTextsSpellTheDecodedText) {
  // Concatenating the token texts gives the decoded text (up to the leading
  // space SentencePiece drops), which is what constrained decoding relies on.
  const std::string text = R"([{"name":"get_weather","arguments":{"location":"Caf)"
                           "\xC3\xA9"
                           R"("}}])";
  std::string spelt;
  for (int32_t id : tokenizer().Encode(text)) spelt += tokenizer().token_texts().text(id);
  EXPECT_EQ(spelt, " " + text);
}

}  // namespace
}  // namespace needle
