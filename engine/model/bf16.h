// bfloat16 conversions. One rounding rule (to nearest, ties to even; a NaN
// stays a NaN) for everything that makes bf16 values: checkpoints read as
// fp32, the reference's upstream numerics, and the optimized engine's bf16
// weights and K/V caches.
#ifndef NEEDLE_MODEL_BF16_H_
#define NEEDLE_MODEL_BF16_H_

#include <cstdint>
#include <cstring>

namespace needle {

inline uint16_t RoundToBf16Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);                                                      // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

// bf16 is the top half of an fp32, so widening is exact.
inline float Bf16BitsToF32(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

// The bfloat16 nearest to `value`, as an fp32.
inline float RoundToBf16(float value) { return Bf16BitsToF32(RoundToBf16Bits(value)); }

}  // namespace needle

#endif  // NEEDLE_MODEL_BF16_H_
