#include "needle/tokenizer.h"

#include <algorithm>

#include "needle/file.h"
#include "needle/str_cat.h"
#include "src/sentencepiece_model.h"

namespace needle {
namespace {

// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's word-boundary mark.
constexpr std::string_view kWordBoundary = "\xE2\x96\x81";

std::string ReplaceWordBoundaries(std::string piece) {
  for (size_t pos; (pos = piece.find(kWordBoundary)) != std::string::npos;)
    piece.replace(pos, kWordBoundary.size(), " ");
  return piece;
}

// A prefix of `text` at most `bytes` long that ends before whitespace when
// there is some in its second half, else at the start of a UTF-8 character.
std::string_view PrefixCutBeforeWhitespace(std::string_view text, size_t bytes) {
  if (bytes >= text.size()) return text;
  const size_t space = text.substr(0, bytes).find_last_of(" \t\r\n");
  if (space != std::string_view::npos && space >= bytes / 2) return text.substr(0, space);
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

// Tokens past the ones kept that a prefix must also yield: a piece cut in two
// where the prefix ends without whitespace changes only the last few tokens.
constexpr size_t kSpareTokens = 16;

// Upstream's tokenizer.model is under 1 MB; a vocabulary a hundred times larger is not a Needle tokenizer.
constexpr size_t kMaxTokenizerBytes = 64 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path) {
  auto tokenizer = std::unique_ptr<Tokenizer>(new Tokenizer());
  // Read here rather than by SentencePiece, which blocks on a FIFO, reads
  // /dev/zero until memory runs out and throws on a directory.
  absl::StatusOr<std::string> bytes = ReadRegularFile(path, kMaxTokenizerBytes);
  if (!bytes.ok()) return bytes.status();
  std::string error;
  tokenizer->model_ = SentencePieceModel::FromBytes(*bytes, &error);
  if (tokenizer->model_ == nullptr) {
    return absl::InvalidArgumentError(StrCat(path, ": not a SentencePiece model: ", error));
  }
  const SentencePieceModel& sp = *tokenizer->model_;
  struct Special {
    int32_t id;
    const char* piece;
  };
  for (const Special& special :
       {Special{kPadId, "<pad>"}, Special{kEosId, "</s>"}, Special{kBosId, "<s>"}, Special{kUnkId, "<unk>"},
        Special{kToolCallId, "<tool_call>"}, Special{kToolsId, "<tools>"}}) {
    if (special.id >= sp.size() || sp.IdToPiece(special.id) != special.piece) {
      return absl::InvalidArgumentError(
          StrCat(path, ": id ", special.id, " must be \"", special.piece, "\" (upstream Needle id layout), found \"",
                 special.id < sp.size() ? sp.IdToPiece(special.id) : "<out of range>", "\""));
    }
  }

  std::vector<std::string> texts(sp.size());
  for (int id = 0; id < sp.size(); ++id) {
    if (sp.IsControl(id) || sp.IsUnknown(id)) continue;
    const std::string piece = sp.IdToPiece(id);
    if (sp.IsByte(id)) {  // "<0xAB>"
      texts[id] = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    } else {
      texts[id] = ReplaceWordBoundaries(piece);
    }
  }
  tokenizer->token_texts_ = TokenTexts(std::move(texts));
  return tokenizer;
}

Tokenizer::~Tokenizer() = default;

int Tokenizer::vocab_size() const { return model_->size(); }

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  const std::vector<int> ids = model_->Encode(text);
  return {ids.begin(), ids.end()};
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids) const {
  std::vector<int> in;
  for (int32_t id : ids) {
    if (id >= 0 && id < vocab_size()) in.push_back(id);
  }
  return model_->Decode(in);
}

std::string Tokenizer::IdToPiece(int32_t id) const {
  // SentencePiece does not check the id: protobuf prints FATAL for one past the end.
  return id >= 0 && id < vocab_size() ? model_->IdToPiece(id) : std::string();
}

std::vector<int32_t> Tokenizer::EncodeAtMost(std::string_view text, size_t max_tokens, bool* truncated) const {
  // SentencePiece's time and memory grow with the text (a 4 MB query took
  // 1.1 GB), yet only the first tokens reach the encoder. Pieces never span
  // whitespace, so a prefix cut before a space encodes to the same first
  // tokens as the whole text; one that yields more tokens than are kept also
  // shows that the text had more. The prefix doubles until it does, so the
  // work is bounded by what the kept tokens span, not by the text.
  for (size_t bytes = std::max<size_t>(4096, 8 * (max_tokens + kSpareTokens));; bytes *= 2) {
    const std::string_view prefix = PrefixCutBeforeWhitespace(text, bytes);
    std::vector<int32_t> ids = Encode(prefix);
    if (prefix.size() == text.size() || ids.size() > max_tokens + kSpareTokens) {
      *truncated = ids.size() > max_tokens;
      if (*truncated) ids.resize(max_tokens);
      return ids;
    }
  }
}

EncoderPrompt Tokenizer::EncodePrompt(std::string_view query, std::string_view tools_json) const {
  EncoderPrompt prompt;
  std::vector<int32_t> query_ids = EncodeAtMost(query, kMaxQueryTokens, &prompt.query_truncated);
  const size_t room = kMaxEncoderTokens - query_ids.size() - 1;
  std::vector<int32_t> tool_ids = EncodeAtMost(tools_json, room, &prompt.tools_truncated);
  prompt.query_tokens = static_cast<int>(query_ids.size());
  prompt.tokens = std::move(query_ids);
  prompt.tokens.push_back(kToolsId);
  prompt.tokens.insert(prompt.tokens.end(), tool_ids.begin(), tool_ids.end());
  return prompt;
}

}  // namespace needle
