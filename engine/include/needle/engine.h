// The interface every Needle engine implements (reference, optimized), and the
// factory that makes them by name.
//
// An Engine owns immutable, loaded weights and may be shared by any number of
// threads. All per-request state lives in a Session, so concurrent requests
// never see each other's caches: one Session per request (or per thread).
#ifndef NEEDLE_ENGINE_H_
#define NEEDLE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "needle/config.h"
#include "needle/cpu.h"
#include "needle/precision.h"
#include "needle/weights.h"

namespace needle {

class Session {
 public:
  virtual ~Session() = default;

  // Runs the encoder over 1..kMaxEncoderTokens ids and clears all decoder state.
  virtual absl::Status Prefill(absl::Span<const int32_t> encoder_tokens) = 0;

  // Appends one decoder token at the next position and returns the logits
  // (vocab_size floats) predicting the token after it. The span stays valid
  // until the next call on this session.
  virtual absl::StatusOr<absl::Span<const float>> Decode(int32_t token) = 0;

  // Encoder output after final_norm, row-major (encoder tokens x d_model).
  virtual absl::Span<const float> encoder_output() const = 0;
  virtual int num_encoder_tokens() const = 0;
  virtual int num_decoded_tokens() const = 0;
};

// What an engine runs on and holds, for throughput and bandwidth figures.
struct EngineInfo {
  std::string isa;  // the kernels' instruction set (IsaName); empty for an engine without kernels
  Precision precision = Precision::kF32;
  int64_t weight_bytes = 0;  // the weight matrices as the engine holds them (packed), embedding included
  // Cross-attention K and V of one encoder token, summed over the decoder layers.
  int64_t kv_bytes_per_token = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;
  virtual const ModelConfig& config() const = 0;
  virtual EngineInfo info() const = 0;
  virtual std::unique_ptr<Session> NewSession() const = 0;

  // Retrieval head: L2-normalised embedding of a (query or tool) encoding.
  // Runs its own encoder pass; thread-safe.
  virtual absl::StatusOr<std::vector<float>> RetrievalEmbedding(absl::Span<const int32_t> encoder_tokens) const = 0;
};

// Where values are rounded between the network's operations.
enum class Numerics {
  kExact,     // fp32 throughout (the reference sums in double): the default
  kUpstream,  // upstream's bfloat16 cast points (docs/engine.md), to reproduce its tokens; reference only
};
std::string_view NumericsName(Numerics numerics);  // "exact", "upstream"
absl::StatusOr<Numerics> ParseNumerics(std::string_view name);

// Far more than any CPU has cores; past it, starting the threads would fail.
inline constexpr int kMaxEngineThreads = 1024;

// How an engine runs; the reference engine accepts only fp32 (or "auto").
struct EngineOptions {
  // Precision of the projections and the logits, a name from the precision table (needle/precision.h),
  // or kAutoPrecision, which CreateEngine resolves (ResolvePrecision).
  std::string precision = "fp32";
  int threads = 0;  // 0 = all cores; at most kMaxEngineThreads
  Numerics numerics = Numerics::kExact;
  // The optimized engine's kernels; unset = DefaultIsa() (NEEDLE_ISA, else the best the CPU has).
  // One the CPU or this build lacks is refused. The reference engine has no kernels and ignores it.
  std::optional<Isa> isa = std::nullopt;
};

// What every tool loads unless told otherwise: the optimized engine at the
// precision ResolvePrecision picks for this CPU. The reference engine is the
// one to choose for checking numbers, not for speed.
inline constexpr char kDefaultEngine[] = "optimized";
// A precision name that stands for "the best this engine has on this CPU".
inline constexpr char kAutoPrecision[] = "auto";

// `precision` unless it is kAutoPrecision. For "auto" the reference engine
// gets fp32 (its only precision) and the optimized engine w8a8 where the CPU
// has SIMD integer kernels (AVX2, AVX-512, NEON): decode 2.5x fp32's speed on
// a 2-core Zen 1, and exact match on the needle15 test split within 0.2
// points of fp32 (docs/engine.md). Without SIMD (`isa` scalar) it gets fp32.
std::string ResolvePrecision(std::string_view engine, std::string_view precision, Isa isa = DefaultIsa());

// Engines by name ("reference", "optimized"); the list is what `--engine` accepts.
std::vector<std::string> EngineNames();
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(std::string_view name, std::shared_ptr<const ModelWeights> weights,
                                                     const EngineOptions& options = {});

// Checks the ids a caller hands to an engine: range and length.
absl::Status ValidateTokens(absl::Span<const int32_t> tokens, int vocab_size, int max_len, std::string_view what);

}  // namespace needle

#endif  // NEEDLE_ENGINE_H_
