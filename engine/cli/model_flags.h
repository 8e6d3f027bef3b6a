// Command-line flags every user-facing tool shares, defined once here:
// --model, --tokenizer, --engine, --precision, --threads (engine threads),
// --numerics. needle, needle-eval and needle-serve link this library.
#ifndef NEEDLE_CLI_MODEL_FLAGS_H_
#define NEEDLE_CLI_MODEL_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "cli/command_line.h"
#include "needle/engine.h"

ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, tokenizer);
ABSL_DECLARE_FLAG(std::string, engine);
ABSL_DECLARE_FLAG(std::string, precision);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(std::string, numerics);

namespace needle::cli {

struct ModelChoice {
  std::string model_path;
  std::string tokenizer_path;
  std::string engine;
  EngineOptions options;  // precision as given ("auto" is resolved when the engine is created)
};

// The shared flags, with --numerics checked.
absl::StatusOr<ModelChoice> ModelFlags();

}  // namespace needle::cli

#endif  // NEEDLE_CLI_MODEL_FLAGS_H_
