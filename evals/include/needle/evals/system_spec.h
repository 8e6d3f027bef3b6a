// Systems named on a command line: "[NAME=]KIND[:ARGS]".
//   needle[:ENGINE[:PRECISION]]  a Needle engine in process (engine and precision default to
//                              SystemDefaults', i.e. --engine and --precision)
//   keyword                    the keyword-matching floor
//   openai:URL[#MODEL]         an OpenAI-compatible server, e.g. openai:http://127.0.0.1:8080#qwen3-0.6b
//   command:PROGRAM ARGS...    a JSON-lines subprocess (split on spaces, no shell)
// Without NAME= a system is named after its kind and argument.
#ifndef NEEDLE_EVALS_SYSTEM_SPEC_H_
#define NEEDLE_EVALS_SYSTEM_SPEC_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "needle/config.h"
#include "needle/engine.h"
#include "needle/evals/system.h"

namespace needle::evals {

struct SystemDefaults {
  std::string model_path;      // Needle checkpoint
  std::string tokenizer_path;  // Needle SentencePiece model
  bool constrained = true;     // Needle's constrained decoding
  int max_new_tokens = kMaxGeneratedTokens;
  std::string engine = kDefaultEngine;     // Needle engine when the spec names none
  std::string precision = kAutoPrecision;  // Needle precision when the spec names none
  int threads = 0;                         // Needle engine threads (0: all cores)
  Numerics numerics = Numerics::kExact;
  bool stream = true;  // OpenAI: stream to measure time to first token
  double timeout_seconds = 120;
  int processes = 1;  // command: copies run in parallel
};

absl::StatusOr<std::unique_ptr<System>> MakeSystem(const std::string& spec, const SystemDefaults& defaults);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_SYSTEM_SPEC_H_
