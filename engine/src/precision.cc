#include "needle/precision.h"

#include <array>

#include "needle/str_cat.h"

namespace needle {
namespace {

// Scales are fp32 per 32 weights; w8a8 adds an int32 bias per 32 weights.
constexpr double kScaleBytes = 4.0 / 32;
constexpr std::array<PrecisionInfo, 6> kPrecisions = {{
    {Precision::kF32, "fp32", 4, NumberType::kF32, NumberType::kF32},
    {Precision::kBF16, "bf16", 2, NumberType::kF32, NumberType::kBF16},
    {Precision::kInt8, "int8", 1 + kScaleBytes, NumberType::kF32, NumberType::kBF16},
    {Precision::kInt4, "int4", 0.5 + kScaleBytes, NumberType::kF32, NumberType::kBF16},
    {Precision::kW8A8, "w8a8", 1 + 2 * kScaleBytes, NumberType::kInt8, NumberType::kInt8},
    {Precision::kW4A8, "w4a8", 0.5 + kScaleBytes, NumberType::kInt8, NumberType::kInt8},
}};

}  // namespace

absl::Span<const PrecisionInfo> Precisions() { return kPrecisions; }

const PrecisionInfo& InfoOf(Precision precision) { return kPrecisions[static_cast<size_t>(precision)]; }

std::string_view PrecisionName(Precision precision) { return InfoOf(precision).name; }

std::string PrecisionNames() {
  std::string names;
  for (const PrecisionInfo& info : kPrecisions) names += StrCat(names.empty() ? "" : ", ", info.name);
  return names;
}

absl::StatusOr<Precision> ParsePrecision(std::string_view name) {
  for (const PrecisionInfo& info : kPrecisions) {
    if (info.name == name) return info.precision;
  }
  return absl::InvalidArgumentError(StrCat("unknown precision \"", name, "\" (available: ", PrecisionNames(), ")"));
}

NumberType CrossKvType(Precision precision, int head_dim) {
  const NumberType kv = InfoOf(precision).kv;
  // The int8 key layout holds quads of 4 dimensions (the operand of VPDPBUSD and SDOT).
  return kv == NumberType::kInt8 && head_dim % 4 != 0 ? NumberType::kBF16 : kv;
}

int64_t CrossKvBytesPerToken(Precision precision, const ModelConfig& config) {
  const int64_t kv = config.kv_dim();
  switch (CrossKvType(precision, config.head_dim())) {
    case NumberType::kF32:
      return 2 * kv * 4;
    case NumberType::kBF16:
      return 2 * kv * 2;
    case NumberType::kInt8:
      return 2 * (kv + config.num_kv_heads * 4);  // an fp32 scale per KV head
  }
  return 0;
}

}  // namespace needle
