#include "needle/generate.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "needle/constrained.h"
#include "needle/python_json.h"
#include "needle/str_cat.h"
#include "needle/tools.h"
#include "needle/utf8.h"

namespace needle {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Index of the first maximum, as numpy's argmax picks it.
int32_t ArgMax(absl::Span<const float> values) {
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

// The generated ids without the leading <tool_call>, which upstream strips.
absl::Span<const int32_t> CallTokens(const std::vector<int32_t>& generated) {
  const bool leading_tool_call = !generated.empty() && generated.front() == kToolCallId;
  return absl::MakeConstSpan(generated).subspan(leading_tool_call ? 1 : 0);
}

// How many of the last `tokens` are byte-fallback pieces of a UTF-8
// character that still lacks bytes. SentencePiece decodes such a partial
// character as U+FFFD, which the next byte would turn back into the
// character, so streaming must wait for it to be complete.
size_t PendingCharacterBytes(absl::Span<const int32_t> tokens, const TokenTexts& texts) {
  // Only byte pieces have a text of one byte >= 0x80; learned pieces are valid UTF-8.
  auto byte_of = [&](size_t from_end) -> int {
    const int32_t id = tokens[tokens.size() - from_end];
    if (id < 0 || id >= texts.size() || texts.text(id).size() != 1) return -1;
    const unsigned char byte = static_cast<unsigned char>(texts.text(id)[0]);
    return byte >= 0x80 ? byte : -1;
  };
  for (size_t from_end = 1; from_end <= std::min<size_t>(tokens.size(), 4); ++from_end) {
    const int byte = byte_of(from_end);
    if (byte < 0) return 0;
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look for the lead byte
    const size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
    return length > from_end ? from_end : 0;
  }
  return 0;
}

// The output up to a tool name still being written. Its caller's spelling is
// known only once the name is complete, and streamed text is never taken back.
std::string_view UpToOpenName(std::string_view text) {
  constexpr std::string_view kNameKey = "\"name\":\"";
  const size_t key = text.rfind(kNameKey);
  if (key == std::string_view::npos) return text;
  const size_t begin = key + kNameKey.size();
  for (size_t i = begin; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return text;
    }
  }
  return text.substr(0, begin);
}

// What a required call begins with, after the <tool_call> token.
constexpr std::string_view kCallStart = "[{\"name\":\"";

// Leaves finite only the tokens that keep the call text `written` on the way
// to kCallStart. Returns false when none is left.
bool KeepCallStart(std::string_view written, const TokenTexts& texts, absl::Span<float> scores) {
  const std::string_view rest = kCallStart.substr(written.size());
  bool any = false;
  for (int32_t id = 0; id < static_cast<int32_t>(scores.size()); ++id) {
    const std::string& text = id < texts.size() ? texts.text(id) : std::string();
    const size_t n = std::min(text.size(), rest.size());
    const bool fits = !text.empty() && text.compare(0, n, rest, 0, n) == 0;
    if (fits && scores[id] != -std::numeric_limits<float>::infinity()) {
      any = true;
    } else {
      scores[id] = -std::numeric_limits<float>::infinity();
    }
  }
  return any;
}

// The checks of a request that come before its tools are read.
absl::Status CheckRequest(std::string_view query, const GenerateOptions& options) {
  if (options.max_new_tokens < 1 || options.max_new_tokens > kMaxGeneratedTokens) {
    return absl::InvalidArgumentError(
        StrCat("max_new_tokens must be in [1, ", kMaxGeneratedTokens, "], got ", options.max_new_tokens));
  }
  if (size_t bad = FindInvalidUtf8(query); bad != std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("query: invalid UTF-8 at byte ", bad));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kEos:
      return "eos";
    case StopReason::kMaxTokens:
      return "max_tokens";
    case StopReason::kCallback:
      return "callback";
  }
  return "?";
}

ToolCaller::ToolCaller(std::shared_ptr<const Engine> engine, std::shared_ptr<const Tokenizer> tokenizer)
    : engine_(std::move(engine)), tokenizer_(std::move(tokenizer)) {}

absl::StatusOr<std::unique_ptr<ToolCaller>> ToolCaller::Load(const std::string& model_path,
                                                             const std::string& tokenizer_path,
                                                             std::string_view engine_name,
                                                             const EngineOptions& engine_options) {
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::Load(model_path);
  if (!weights.ok()) return weights.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(tokenizer_path);
  if (!tokenizer.ok()) return tokenizer.status();
  if ((*tokenizer)->vocab_size() != (*weights)->config().vocab_size) {
    return absl::InvalidArgumentError(StrCat(tokenizer_path, ": tokenizer has ", (*tokenizer)->vocab_size(),
                                             " pieces but ", model_path, " has vocab_size ",
                                             (*weights)->config().vocab_size));
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine(engine_name, *std::move(weights), engine_options);
  if (!engine.ok()) return engine.status();
  return std::make_unique<ToolCaller>(*std::move(engine), *std::move(tokenizer));
}

absl::StatusOr<GenerateResult> ToolCaller::Generate(std::string_view query, std::string_view tools_json,
                                                    const GenerateOptions& options) const {
  if (absl::Status status = CheckRequest(query, options); !status.ok()) return status;
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(tools_json);
  if (!tools.ok()) return tools.status();
  return Run(query, *tools, options);
}

absl::StatusOr<GenerateResult> ToolCaller::Generate(std::string_view query, const ToolSet& tools,
                                                    const GenerateOptions& options) const {
  if (absl::Status status = CheckRequest(query, options); !status.ok()) return status;
  return Run(query, tools, options);
}

absl::StatusOr<GenerateResult> ToolCaller::Run(std::string_view query, const ToolSet& tools,
                                               const GenerateOptions& options) const {
  if (options.require_call && tools.tools().empty()) {
    return absl::InvalidArgumentError("a call is required but no tool is given");
  }

  GenerateResult result;
  EncoderPrompt prompt = tokenizer_->EncodePrompt(query, tools.prompt_json());
  result.encoder_tokens = std::move(prompt.tokens);
  result.query_truncated = prompt.query_truncated;
  result.tools_truncated = prompt.tools_truncated;

  std::unique_ptr<Session> session = engine_->NewSession();
  auto start = std::chrono::steady_clock::now();
  if (absl::Status status = session->Prefill(result.encoder_tokens); !status.ok()) return status;
  result.prefill_seconds = SecondsSince(start);

  start = std::chrono::steady_clock::now();
  ConstrainedDecoder constraints(tools, tokenizer_->token_texts());
  std::vector<float> scores;
  std::string streamed;   // text already handed to on_token
  std::string call_text;  // with require_call: the call text so far, while it is shorter than kCallStart
  int32_t token = kEosId;
  result.stop = StopReason::kMaxTokens;
  while (static_cast<int>(result.tokens.size()) < options.max_new_tokens) {
    absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
    if (!logits.ok()) return logits.status();
    scores.assign(logits->begin(), logits->end());
    if (options.constrained) constraints.Constrain(absl::MakeSpan(scores));
    token = ArgMax(scores);
    if (options.require_call && call_text.size() < kCallStart.size()) {
      if (result.tokens.empty()) {
        token = kToolCallId;
      } else {
        // The constraints never apply before a name starts; should they
        // leave no fitting token, the raw scores decide.
        if (!KeepCallStart(call_text, tokenizer_->token_texts(), absl::MakeSpan(scores))) {
          scores.assign(logits->begin(), logits->end());
          KeepCallStart(call_text, tokenizer_->token_texts(), absl::MakeSpan(scores));
        }
        token = ArgMax(scores);
        call_text += tokenizer_->token_texts().text(token);
      }
    }
    if (token == kEosId) {
      result.stop = StopReason::kEos;
      break;
    }
    result.tokens.push_back(token);
    constraints.Accept(token);
    if (options.on_token) {
      // The last allowed token flushes whatever is pending. A character left
      // incomplete at EOS is never streamed; the final text shows it as U+FFFD.
      const absl::Span<const int32_t> call = CallTokens(result.tokens);
      const bool last = static_cast<int>(result.tokens.size()) == options.max_new_tokens;
      const size_t pending = last ? 0 : PendingCharacterBytes(call, tokenizer_->token_texts());
      const std::string decoded = tokenizer_->Decode(call.subspan(0, call.size() - pending));
      const std::string text = tools.RestoreNames(last ? std::string_view(decoded) : UpToOpenName(decoded));
      const std::string delta = text.size() >= streamed.size() ? text.substr(streamed.size()) : std::string();
      streamed = text;
      if (!options.on_token(token, delta)) {
        result.stop = StopReason::kCallback;
        break;
      }
    }
  }
  result.decode_seconds = SecondsSince(start);

  result.raw_text = tokenizer_->Decode(result.tokens);
  // A valid call comes back as upstream prints it (json.dumps of the parsed
  // call), anything else as generated.
  const std::string call = tokenizer_->Decode(CallTokens(result.tokens));
  absl::StatusOr<std::string> redumped = RedumpLikePython(call);
  result.text = tools.RestoreNames(redumped.ok() ? *redumped : call);
  return result;
}

}  // namespace needle
