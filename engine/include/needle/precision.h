// The precisions the engines run at, in one table: each precision's name,
// storage per weight, the number type its products multiply the weights with,
// and the number type of the cross-attention K/V cache that goes with it.
// Everything that names, validates or sizes a precision (the engines, the
// command lines, needle-bench's roofline) reads this table.
#ifndef NEEDLE_PRECISION_H_
#define NEEDLE_PRECISION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "needle/config.h"

namespace needle {

// Weights fp32, bf16, int8 or int4 with fp32 activations; w8a8 and w4a8 are
// int8/int4 weights times int8 activations (integer dot products). int8 and
// int4 are symmetric with one fp32 scale per group of 32 input rows per output
// column, as upstream's quantisation-aware training.
enum class Precision { kF32, kBF16, kInt8, kInt4, kW8A8, kW4A8 };

// How values of activations or of the K/V cache are stored.
enum class NumberType { kF32, kBF16, kInt8 };

struct PrecisionInfo {
  Precision precision;
  std::string_view name;  // "fp32", "bf16", "int8", "int4", "w8a8", "w4a8"
  // Bytes per weight as the optimized engine packs it, group scales (and w8a8's
  // per-group biases) included, before the padding of the last panel.
  double bytes_per_weight;
  NumberType activations;  // what the weight products multiply with
  // The cross-attention K/V cache's form at this precision; int8 needs head_dim
  // to be a multiple of 4 and falls back to bf16 otherwise (CrossKvType).
  NumberType kv;
};

// Every precision, in the order above.
absl::Span<const PrecisionInfo> Precisions();
const PrecisionInfo& InfoOf(Precision precision);
std::string_view PrecisionName(Precision precision);
// "unknown precision "fp8" (available: fp32, bf16, int8, int4, w8a8, w4a8)" for a name not in the table.
absl::StatusOr<Precision> ParsePrecision(std::string_view name);
std::string PrecisionNames();  // "fp32, bf16, int8, int4, w8a8, w4a8"

inline bool QuantizesActivations(Precision precision) { return InfoOf(precision).activations == NumberType::kInt8; }

// The form the optimized engine keeps the cross-attention K/V in for a model
// with this head_dim (the table's kv, or bf16 where int8 does not fit).
NumberType CrossKvType(Precision precision, int head_dim);
// Bytes of one encoder token's cross-attention K and V in one decoder layer,
// scales included.
int64_t CrossKvBytesPerToken(Precision precision, const ModelConfig& config);

// Bytes of one in x out weight matrix packed at `precision` by the optimized
// engine: output columns in panels of 32 (the last padded with zeros), each
// panel rounded up to 64 bytes.
int64_t PackedMatrixBytes(Precision precision, int in, int out);

}  // namespace needle

#endif  // NEEDLE_PRECISION_H_
