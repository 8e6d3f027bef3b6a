// A model behind an OpenAI-compatible /v1/chat/completions endpoint
// (llama.cpp's server, vLLM, Ollama, needle-serve).
#ifndef NEEDLE_EVALS_OPENAI_SYSTEM_H_
#define NEEDLE_EVALS_OPENAI_SYSTEM_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "needle/evals/system.h"

namespace needle::evals {

struct OpenAiOptions {
  std::string name = "openai";
  std::string base_url = "http://127.0.0.1:8080";  // "/v1/chat/completions" is appended
  std::string model;                               // sent as "model"; may be empty
  std::string api_key;                             // sent as a Bearer token when set
  bool stream = true;                              // streaming gives time to first token
  double timeout_seconds = 120;
  // Sent as "max_tokens" when positive: without it some servers (llama-cpp-python)
  // generate until the context is full when a model does not stop.
  int max_tokens = 0;
};

absl::StatusOr<std::unique_ptr<System>> MakeOpenAiSystem(const OpenAiOptions& options);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_OPENAI_SYSTEM_H_
