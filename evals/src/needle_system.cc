#include "needle/evals/needle_system.h"

#include <chrono>
#include <utility>

#include "elapsed.h"

namespace needle::evals {
namespace {

class NeedleSystem : public System {
 public:
  NeedleSystem(std::string name, std::shared_ptr<const ToolCaller> caller, bool constrained, int max_new_tokens)
      : name_(std::move(name)),
        caller_(std::move(caller)),
        constrained_(constrained),
        max_new_tokens_(max_new_tokens) {}

  const std::string& name() const override { return name_; }

  absl::StatusOr<Prediction> Predict(const EvalItem& item) const override {
    const Clock::time_point start = Clock::now();
    double ttft_ms = -1;
    GenerateOptions options;
    options.constrained = constrained_;
    options.max_new_tokens = max_new_tokens_;
    // The first generated token is the model's first output, even when it is
    // the <tool_call> marker that adds no text.
    options.on_token = [&](int32_t, std::string_view) {
      if (ttft_ms < 0) ttft_ms = MillisecondsSince(start);
      return true;
    };
    absl::StatusOr<GenerateResult> result = caller_->Generate(item.query, item.tools_json, options);
    if (!result.ok()) return result.status();
    Prediction prediction;
    prediction.text = std::move(result->text);
    prediction.latency_ms = MillisecondsSince(start);
    // An immediate EOS streams nothing: the (empty) output came all at once.
    prediction.ttft_ms = ttft_ms < 0 ? prediction.latency_ms : ttft_ms;
    prediction.output_tokens = static_cast<int>(result->tokens.size());
    prediction.input_truncated = result->query_truncated || result->tools_truncated;
    return prediction;
  }

 private:
  std::string name_;
  std::shared_ptr<const ToolCaller> caller_;
  bool constrained_;
  int max_new_tokens_;
};

}  // namespace

std::unique_ptr<System> MakeNeedleSystem(std::string name, std::shared_ptr<const ToolCaller> caller, bool constrained,
                                         int max_new_tokens) {
  return std::make_unique<NeedleSystem>(std::move(name), std::move(caller), constrained, max_new_tokens);
}

}  // namespace needle::evals
