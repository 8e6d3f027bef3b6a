// Model hyper-parameters of a Needle checkpoint (see docs/checkpoint-format.md).
#ifndef NEEDLE_CONFIG_H_
#define NEEDLE_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace needle {

// Limits of the prompt layout; fixed by upstream, not stored in checkpoints.
inline constexpr int kMaxEncoderTokens = 1024;
inline constexpr int kMaxQueryTokens = 1022;
inline constexpr int kMaxGeneratedTokens = 511;
// Upstream's retrieval head reads each text (a query, or one tool) cut to this many tokens.
inline constexpr int kMaxRetrievalTokens = 256;

struct ModelConfig {
  int vocab_size = 8192;
  int d_model = 512;
  int num_heads = 8;
  int num_kv_heads = 4;
  int num_encoder_layers = 12;
  int num_decoder_layers = 8;
  double rope_theta = 10000.0;

  int head_dim() const { return d_model / num_heads; }
  int kv_dim() const { return num_kv_heads * head_dim(); }
  int retrieval_dim() const { return d_model / 4; }

  // The 26M-parameter "Needle 1" release.
  static ModelConfig Release26M() { return ModelConfig{}; }

  // Parses the `needle_config` JSON object; every key is required.
  static absl::StatusOr<ModelConfig> FromJson(std::string_view json);
  std::string ToJson() const;
  // Checks the shape arithmetic the engines rely on (divisibility, even head_dim for RoPE).
  absl::Status Validate() const;
};

// One tensor a checkpoint for `config` must hold, with its exact shape.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t num_elements() const;
};

// "(12, 512, 256)", for error messages.
std::string ShapeString(const std::vector<int64_t>& shape);

// The complete tensor list, in file order; the single source of truth for
// the loader, the parameter count and the random-checkpoint tests.
std::vector<TensorSpec> ExpectedTensors(const ModelConfig& config);

struct ParameterCounts {
  int64_t embedding = 0;
  int64_t encoder = 0;
  int64_t decoder = 0;
  int64_t retrieval = 0;
  int64_t total() const { return embedding + encoder + decoder + retrieval; }
};
ParameterCounts CountParameters(const ModelConfig& config);

}  // namespace needle

#endif  // NEEDLE_CONFIG_H_
