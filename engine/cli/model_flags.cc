#include "cli/model_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, model, NEEDLE_DEFAULT_MODEL_DIR "/needle.safetensors", "checkpoint (.safetensors)");
ABSL_FLAG(std::string, tokenizer, NEEDLE_DEFAULT_MODEL_DIR "/tokenizer.model", "SentencePiece model");
ABSL_FLAG(std::string, engine, needle::kDefaultEngine,
          "engine: optimized (packed kernels, threads) or reference (single-threaded fp32, the numbers to check "
          "against)");
ABSL_FLAG(std::string, precision, needle::kAutoPrecision,
          "optimized engine: auto (w8a8 where the CPU has SIMD integer kernels, else fp32), fp32, bf16, int8, int4 "
          "(weights; fp32 activations) or w8a8, w4a8 (int8 activations too); the reference engine is fp32");
ABSL_FLAG(int, threads, 0, "engine threads per model (0 = all cores; the reference engine uses one)");
ABSL_FLAG(std::string, numerics, "exact",
          "reference engine: exact (fp32) or upstream (bfloat16 where upstream rounds, to reproduce its tokens)");

namespace needle::cli {

absl::StatusOr<ModelChoice> ModelFlags() {
  absl::StatusOr<Numerics> numerics = ParseNumerics(absl::GetFlag(FLAGS_numerics));
  if (!numerics.ok()) return numerics.status();
  ModelChoice choice;
  choice.model_path = absl::GetFlag(FLAGS_model);
  choice.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
  choice.engine = absl::GetFlag(FLAGS_engine);
  choice.options = EngineOptions{absl::GetFlag(FLAGS_precision), absl::GetFlag(FLAGS_threads), *numerics};
  return choice;
}

}  // namespace needle::cli
