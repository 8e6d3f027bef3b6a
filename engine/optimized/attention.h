// Fused grouped-query attention for the optimized engine.
//
// Scores are never materialised as a (queries x keys) matrix: each task walks
// the keys in blocks with an online softmax (running max and sum, rescaling
// the partial output when the max grows), as flash attention does, so memory
// traffic stays at one pass over K and V per query block whatever the length.
#ifndef NEEDLE_OPTIMIZED_ATTENTION_H_
#define NEEDLE_OPTIMIZED_ATTENTION_H_

#include <cstddef>
#include <cstdint>

#include "needle/cpu.h"

namespace needle::optimized {

class ThreadPool;

// The largest head_dim the kernels keep in registers/stack; configs above it are refused at load.
inline constexpr int kMaxAttentionHeadDim = 256;

// Keys are read transposed in tiles of kKeyTile keys: for KV head h, key j and
// component i the value sits at
//   data[((h * (stride / kKeyTile) + j / kKeyTile) * head_dim + i) * kKeyTile + j % kKeyTile].
// A block of scores is then a sum of broadcast-q times contiguous key rows (no
// horizontal reductions), a tile is one contiguous 16 KiB run (no 4 KiB-strided
// rows fighting over L1 sets), and the decoder appends a position in place.
struct KeysT {
  const float* data = nullptr;
  // Key capacity, a multiple of kKeyTile: kernels read whole tiles and ignore
  // the lanes past the last key.
  int stride = 0;
};
inline constexpr int kKeyTile = 64;
inline int KeyStride(int keys) { return (keys + kKeyTile - 1) / kKeyTile * kKeyTile; }

// The same layout holding bf16 (the upper halves of fp32 values, rounded to
// nearest even). Decoding after a long prompt reads every layer's cross-
// attention K/V at every step; in bf16 they are half the memory traffic, and
// small enough to stay in the last-level cache with compact weights.
struct KeysBf16 {
  const uint16_t* data = nullptr;
  int stride = 0;
};

// The same tiles of 64 keys holding int8 (symmetric), in VNNI's order: 4-dim quads
// of 64 keys x 4 bytes, stored as q + 128 (see Int8KeyPosition in
// attention.cc); one scale per (KV head, key) at scales[kv_head * stride + key].
// Values are int8 rows (tk x kv_heads*head_dim) with one scale per (KV head,
// row), laid out as the keys' scales. A quarter of fp32's bytes: at w8a8/w4a8
// decoding reads them at every step, from the last-level cache, whose
// bandwidth bounds it. head_dim must be a multiple of 4.
struct KeysInt8 {
  const int8_t* data = nullptr;
  const float* scales = nullptr;
  int stride = 0;
};
struct ValuesInt8 {
  const int8_t* data = nullptr;
  const float* scales = nullptr;  // [kv_head * KeysInt8::stride + row]
};

// Grouped-query attention of `tq` query rows against `tk` keys.
// q: (tq, heads*head_dim) row-major; v: (tk, kv_heads*head_dim) row-major;
// out: (tq, heads*head_dim). KV head j serves query heads j*group .. j*group+group-1.
// score = (q . k) * scale + (key_bias ? key_bias[j] : 0); a masked key has a large
// negative bias (kMaskedKeyBias). At least one key must be unmasked (with every
// key masked the reference gives the uniform average: pass no bias and scale 0).
// Split across `pool` (may be null) by (KV head, query block); `isa` picks the kernels.
inline constexpr float kMaskedKeyBias = -1e30f;
void Attention(const float* q, int tq, KeysT keys, const float* v, int tk, int heads, int kv_heads, int head_dim,
               float scale, const float* key_bias, float* out, ThreadPool* pool, Isa isa);
// The same with keys and values (v: tk x kv_heads*head_dim) in bf16; queries and arithmetic stay fp32.
void Attention(const float* q, int tq, KeysBf16 keys, const uint16_t* v, int tk, int heads, int kv_heads, int head_dim,
               float scale, const float* key_bias, float* out, ThreadPool* pool, Isa isa);

// int8 keys and values: each query row (per head) is quantised as well (QuantizeInt8), so that on
// AVX-512 VNNI a score is an exact integer dot product; every instruction set gives the reference's
// numbers on the dequantised q, K and V, to fp32 rounding. Except: on AVX-512 VNNI, a task of more
// than 4 query rows per KV head (prefill) with head_dim a multiple of 64 takes the value pass in
// integers too, each row's probabilities rounded to u8 against its largest in each tile of kKeyTile
// keys (an error of up to 1/510 of that largest per probability, below the values' own rounding).
void Attention(const float* q, int tq, KeysInt8 keys, ValuesInt8 v, int tk, int heads, int kv_heads, int head_dim,
               float scale, const float* key_bias, float* out, ThreadPool* pool, Isa isa);

// Whether prefill-sized attention (many query rows) with int8 K/V outruns fp32 K/V on `isa`: only
// AVX-512 VNNI scores int8 keys with integer dot products; elsewhere the int8 path converts K and V
// to fp32 on the fly and is slower.
bool Int8PrefillAttentionPays(Isa isa);

// Writes rows [first, first + count) of k (row-major, kv_heads*head_dim wide) into the tiled layout.
void TransposeKeys(const float* k, int first, int count, int kv_heads, int head_dim, float* key_t, int stride);
void TransposeKeys(const float* k, int first, int count, int kv_heads, int head_dim, uint16_t* key_t, int stride);

// The int8 forms: each (row, KV head) vector of head_dim values quantised on its own (QuantizeInt8).
void QuantizeKeys(const float* k, int first, int count, int kv_heads, int head_dim, int8_t* key_t, float* scales,
                  int stride);
void QuantizeValues(const float* v, int count, int kv_heads, int head_dim, int8_t* dst, float* scales, int stride);

// Symmetric int8 of n values: q[i] = round-half-even(x[i] * 127 / max|x|); returns the scale max|x| / 127
// (0 for all zeros), so that x[i] ~ q[i] * scale.
float QuantizeInt8(const float* x, int n, int8_t* q);

// dst[i] = bf16(src[i]), rounded to nearest even.
void ToBf16(const float* src, size_t count, uint16_t* dst);

}  // namespace needle::optimized

#endif  // NEEDLE_OPTIMIZED_ATTENTION_H_
