// SentencePiece tokenizer with upstream Needle's special ids and prompt layout.
#ifndef NEEDLE_TOKENIZER_H_
#define NEEDLE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "needle/config.h"
#include "needle/constrained.h"

namespace needle {

class SentencePieceModel;

inline constexpr int32_t kPadId = 0;
inline constexpr int32_t kEosId = 1;
inline constexpr int32_t kBosId = 2;
inline constexpr int32_t kUnkId = 3;
inline constexpr int32_t kToolCallId = 4;
inline constexpr int32_t kToolsId = 5;

// The encoder input of one request, with what truncation cut.
struct EncoderPrompt {
  std::vector<int32_t> tokens;
  int query_tokens = 0;  // after truncation
  bool query_truncated = false;
  bool tools_truncated = false;
};

class Tokenizer {
 public:
  // Loads a SentencePiece model and checks that it has upstream's id layout
  // (<pad>=0, </s>=1, <s>=2, <unk>=3, <tool_call>=4, <tools>=5).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path);
  ~Tokenizer();

  int vocab_size() const;
  std::vector<int32_t> Encode(std::string_view text) const;
  std::string Decode(absl::Span<const int32_t> ids) const;
  std::string IdToPiece(int32_t id) const;  // "" for an id outside the vocabulary

  // tokens(query)[:1022] + [<tools>] + tokens(tools_json), cut to 1024 in all.
  // Only as much of each text is tokenized as the kept tokens need.
  EncoderPrompt EncodePrompt(std::string_view query, std::string_view tools_json) const;

  // Encode(text) cut to its first max_tokens, tokenizing only a prefix of a
  // long text; *truncated says whether the text had more tokens.
  std::vector<int32_t> EncodeAtMost(std::string_view text, size_t max_tokens, bool* truncated) const;

  // What each id contributes to the output text, for constrained decoding.
  const TokenTexts& token_texts() const { return token_texts_; }

 private:
  Tokenizer() = default;
  std::unique_ptr<SentencePieceModel> model_;
  TokenTexts token_texts_;
};

}  // namespace needle

#endif  // NEEDLE_TOKENIZER_H_
