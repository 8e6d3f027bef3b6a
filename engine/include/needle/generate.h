// One request end to end: prompt -> encoder -> greedy (optionally constrained)
// decoding -> tool-call text with the caller's tool names.
#ifndef NEEDLE_GENERATE_H_
#define NEEDLE_GENERATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/config.h"
#include "needle/engine.h"
#include "needle/tokenizer.h"
#include "needle/tools.h"

namespace needle {

struct GenerateOptions {
  bool constrained = true;
  int max_new_tokens = kMaxGeneratedTokens;
  // The output must be a call: it is made to begin `<tool_call>[{"name":"`,
  // the model choosing among the tokens that fit (OpenAI's tool_choice
  // "required"). Needs at least one tool.
  bool require_call = false;
  // Streams each generated token with the text it adds (leading <tool_call>
  // excluded, the caller's tool names). A tool name is held back until it is
  // complete, so the text of a token may come with a later one; the pieces
  // joined are the call as generated (`raw_text` with names restored).
  // Return false to stop early.
  std::function<bool(int32_t token, std::string_view text)> on_token;
};

enum class StopReason { kEos, kMaxTokens, kCallback };
std::string_view StopReasonName(StopReason reason);

struct GenerateResult {
  // The call: leading <tool_call> stripped, caller's tool names; when it is
  // valid JSON, written as upstream writes it (RedumpLikePython).
  std::string text;
  std::string raw_text;  // the decoded output exactly as generated
  std::vector<int32_t> encoder_tokens;
  std::vector<int32_t> tokens;  // generated ids, EOS excluded
  bool query_truncated = false;
  bool tools_truncated = false;
  StopReason stop = StopReason::kEos;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// A loaded model: engine plus tokenizer. Immutable and thread-safe; each call
// to Generate runs in a fresh Session.
class ToolCaller {
 public:
  ToolCaller(std::shared_ptr<const Engine> engine, std::shared_ptr<const Tokenizer> tokenizer);
  static absl::StatusOr<std::unique_ptr<ToolCaller>> Load(const std::string& model_path,
                                                          const std::string& tokenizer_path,
                                                          std::string_view engine_name,
                                                          const EngineOptions& engine_options = {});

  // `tools_json` is parsed by ToolSet::Parse; a caller that holds the
  // parsed tools already (a server validating a request) passes those.
  absl::StatusOr<GenerateResult> Generate(std::string_view query, std::string_view tools_json,
                                          const GenerateOptions& options = {}) const;
  absl::StatusOr<GenerateResult> Generate(std::string_view query, const ToolSet& tools,
                                          const GenerateOptions& options = {}) const;

  const Engine& engine() const { return *engine_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  // Generate once the request is checked.
  absl::StatusOr<GenerateResult> Run(std::string_view query, const ToolSet& tools,
                                     const GenerateOptions& options) const;

  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace needle

#endif  // NEEDLE_GENERATE_H_
