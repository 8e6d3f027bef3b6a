#include "needle/generate.h"

#include <algorithm>
#include <chrono>

#include "needle/str_cat.h"
#include "needle/constrained.h"
#include "needle/tools.h"

namespace needle {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Index of the first maximum, as numpy's argmax picks it.
int32_t ArgMax(absl::Span<const float> values) {
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
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
                                                             std::string_view engine_name) {
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::Load(model_path);
  if (!weights.ok()) return weights.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(tokenizer_path);
  if (!tokenizer.ok()) return tokenizer.status();
  if ((*tokenizer)->vocab_size() != (*weights)->config().vocab_size) {
    return absl::InvalidArgumentError(StrCat(tokenizer_path, ": tokenizer has ", (*tokenizer)->vocab_size(),
                                                   " pieces but ", model_path, " has vocab_size ",
                                                   (*weights)->config().vocab_size));
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine(engine_name, *std::move(weights));
  if (!engine.ok()) return engine.status();
  return std::make_unique<ToolCaller>(*std::move(engine), *std::move(tokenizer));
}

absl::StatusOr<GenerateResult> ToolCaller::Generate(std::string_view query, std::string_view tools_json,
                                                    const GenerateOptions& options) const {
  if (options.max_new_tokens < 1 || options.max_new_tokens > kMaxGeneratedTokens) {
    return absl::InvalidArgumentError(
        StrCat("max_new_tokens must be in [1, ", kMaxGeneratedTokens, "], got ", options.max_new_tokens));
  }
  absl::StatusOr<ToolSet> tools = ToolSet::Parse(tools_json);
  if (!tools.ok()) return tools.status();

  GenerateResult result;
  EncoderPrompt prompt = tokenizer_->EncodePrompt(query, tools->prompt_json());
  result.encoder_tokens = std::move(prompt.tokens);
  result.query_truncated = prompt.query_truncated;
  result.tools_truncated = prompt.tools_truncated;

  std::unique_ptr<Session> session = engine_->NewSession();
  auto start = std::chrono::steady_clock::now();
  if (absl::Status status = session->Prefill(result.encoder_tokens); !status.ok()) return status;
  result.prefill_seconds = SecondsSince(start);

  start = std::chrono::steady_clock::now();
  ConstrainedDecoder constraints(*tools, tokenizer_->token_texts());
  std::vector<float> scores;
  std::string streamed;  // text already handed to on_token
  int32_t token = kEosId;
  result.stop = StopReason::kMaxTokens;
  while (static_cast<int>(result.tokens.size()) < options.max_new_tokens) {
    absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
    if (!logits.ok()) return logits.status();
    scores.assign(logits->begin(), logits->end());
    if (options.constrained) constraints.Constrain(absl::MakeSpan(scores));
    token = ArgMax(scores);
    if (token == kEosId) {
      result.stop = StopReason::kEos;
      break;
    }
    result.tokens.push_back(token);
    constraints.Accept(token);
    if (options.on_token) {
      const bool leading_tool_call = result.tokens.front() == kToolCallId;
      const std::string text = tokenizer_->Decode(absl::MakeConstSpan(result.tokens).subspan(leading_tool_call));
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
  const bool leading_tool_call = !result.tokens.empty() && result.tokens.front() == kToolCallId;
  result.text = tools->RestoreNames(tokenizer_->Decode(absl::MakeConstSpan(result.tokens).subspan(leading_tool_call)));
  return result;
}

}  // namespace needle
