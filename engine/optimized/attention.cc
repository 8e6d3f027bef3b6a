#include "optimized/attention.h"

#if defined(__x86_64__)
// GCC 12 reports the deliberately undefined pass-through operand inside its own
// AVX-512 intrinsics (_mm512_undefined_*) as uninitialised (see matmul_avx512.cc).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>

#include "optimized/matmul.h"
#include "optimized/multiversion.h"
#include "optimized/thread_pool.h"
#include "optimized/vnni.h"

// The vector helpers below return GCC vector types; they are always inlined
// into one target-specific function, so no value crosses an ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace needle::optimized {
namespace {

// The kernel is written once over GCC vector types of W floats and compiled
// per instruction set by inlining it into functions with a target attribute,
// so the same source becomes AVX-512, AVX2, NEON or SSE code.
template <int W>
struct Vectors {
  typedef float F __attribute__((vector_size(W * sizeof(float))));
  typedef int32_t I __attribute__((vector_size(W * sizeof(float))));
  typedef uint32_t U __attribute__((vector_size(W * sizeof(float))));
};

constexpr int kRows = 6;              // query rows sharing each load of a key block
constexpr int kSweepRows = 48;        // rows (a multiple of kRows) that share each pass over the keys
constexpr int kQueryBlock = 24;       // query positions per task (times the GQA group in rows)
constexpr int kFewRows = 4;           // up to this many rows per KV head take AttendFew (decode)
constexpr int kChunk = 512;           // keys whose scores AttendFew holds at once (a multiple of kKeyTile)
constexpr int kPrefetchKeys = 8;      // value rows ahead that the value pass prefetches
constexpr float kExpLowest = -87.3f;  // below this expf underflows; treat as an exact 0

// How many W-wide vectors of keys (scores) or of a value row (the value pass)
// one pass holds for R rows: the most, up to 8, whose R x that many accumulators,
// plus the key or value vectors and a broadcast, fit in the vector registers.
// AVX-512 (W = 16) has 32; AVX2 has 16. NEON has 32, but counted as 16 at its
// W = 4: with 4 vectors for 6 rows, the rows' broadcast operands pushed GCC into
// spills (llvm-mca, bench/arm-estimate). Past that, GCC spilled accumulators and
// folded every key or value load into its multiply-add, and the products were
// load-bound at about half the FMA peak; fewer than 8 accumulators leave the FMA
// latency exposed.
template <int W, int R>
constexpr int PassVectors() {
  const int registers = W >= 16 ? 32 : 16;
  int vectors = 8;
  while (vectors > 1 && (R + 1) * vectors + 1 > registers) vectors /= 2;
  return vectors;
}

template <int W>
__attribute__((always_inline)) inline typename Vectors<W>::F Load(const float* p) {
  typename Vectors<W>::F v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Reduced-precision K/V (bf16, int8) are read as W 32-bit lanes of kPerLane<T>
// values each and widened to fp32 by shifts and masks alone, slot s of every
// lane making one vector. Widening in order takes a shuffle per vector (three
// uops on the shuffle port for bf16), and GCC scalarises int8 conversions.
// So the slices of a value row arrive de-interleaved (see WriteRow), bf16 keys
// are stored so that each slot holds consecutive keys (KeyPosition), and int8
// keys as VNNI wants them: each lane is 4 consecutive dims of one key.
template <typename T>
inline constexpr int kPerLane = 4 / static_cast<int>(sizeof(T));
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "values are unpacked from little-endian 32-bit lanes");

// Slot `slot` of W lanes, as fp32: an int8 is sign-extended and converted (its
// scale is applied by the caller).
template <int W>
__attribute__((always_inline)) inline typename Vectors<W>::F Int8Slot(typename Vectors<W>::U lanes, int slot) {
  const auto byte = (typename Vectors<W>::I)(lanes << (24 - 8 * slot)) >> 24;
  return __builtin_convertvector(byte, typename Vectors<W>::F);
}

// Slot `slot` of the W lanes at p, as fp32 (a bf16 is the upper half of an fp32).
template <int W, typename T>
__attribute__((always_inline)) inline typename Vectors<W>::F LoadSlot(const T* p, int slot) {
  using F = typename Vectors<W>::F;
  typename Vectors<W>::U lanes;
  std::memcpy(&lanes, p, sizeof(lanes));
  F v;
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(&v, &lanes, sizeof(v));
  } else if constexpr (std::is_same_v<T, uint16_t>) {
    const typename Vectors<W>::U bits = slot == 0 ? lanes << 16 : lanes & 0xffff0000u;
    std::memcpy(&v, &bits, sizeof(v));
  } else {
    static_assert(std::is_same_v<T, int8_t>);
    v = Int8Slot<W>(lanes, slot);
  }
  return v;
}

// Where key k of an fp32 or bf16 tile row is stored: groups of 16 * kPerLane
// keys, key m of a group in lane m % 16, slot m / 16. (For fp32, simply k.)
template <typename T>
inline int KeyPosition(int k) {
  constexpr int kP = kPerLane<T>;
  return (k & ~(16 * kP - 1)) + kP * (k & 15) + ((k >> 4) & (kP - 1));
}

// Keys [key, key + W) of one fp32 or bf16 tile row (key a multiple of W, W <= 16).
template <int W, typename T>
__attribute__((always_inline)) inline typename Vectors<W>::F LoadKeys(const T* row, int key) {
  static_assert(W <= 16, "a key vector must lie in one slot of a group");
  constexpr int kP = kPerLane<T>;
  return LoadSlot<W>(row + (key & ~(16 * kP - 1)) + kP * (key & 15), (key >> 4) & (kP - 1));
}

// Where dim i of key k sits in an int8 tile: 4-dim quads, each a row of
// kKeyTile keys x 4 bytes. The bytes are q + 128 (VPDPBUSD's unsigned operand).
inline int Int8KeyPosition(int k, int i) { return (i / 4) * 4 * kKeyTile + k * 4 + i % 4; }

// s[r][v] = sum_i q_rows[r][i] * key_(v*W + lane)[i] over the first NV*W keys of a tile of
// keys (its scale not applied for int8).
template <int W, int R, int NV, typename T>
__attribute__((always_inline)) inline void ScoreKeys(const T* tile, int hd, const float* const* q_rows,
                                                     typename Vectors<W>::F (&s)[R][NV]) {
  using F = typename Vectors<W>::F;
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) s[r][v] = F{};
  }
  if constexpr (!std::is_same_v<T, int8_t>) {
    constexpr int kPass = std::min(NV, PassVectors<W, R>());
    static_assert(NV % kPass == 0, "whole passes");
    for (int v0 = 0; v0 < NV; v0 += kPass) {
      for (int i = 0; i < hd; ++i) {
        F k[kPass];
        for (int v = 0; v < kPass; ++v) k[v] = LoadKeys<W, T>(tile + i * kKeyTile, (v0 + v) * W);
        for (int r = 0; r < R; ++r) {
          const float qi = q_rows[r][i];
          for (int v = 0; v < kPass; ++v) s[r][v0 + v] += qi * k[v];
        }
      }
    }
  } else {
    // A few key vectors at a time over all dims: each load unpacks into 4 dims, so
    // holding every vector's lanes, dims and scores at once would not fit in 16 registers.
    constexpr int kChunkVectors = NV < 2 ? NV : 2;
    for (int v0 = 0; v0 < NV; v0 += kChunkVectors) {
      for (int g = 0; g < hd; g += 4) {
        typename Vectors<W>::U lanes[kChunkVectors];
        for (int v = 0; v < kChunkVectors; ++v) {
          std::memcpy(&lanes[v], tile + Int8KeyPosition((v0 + v) * W, g), sizeof(lanes[v]));
          lanes[v] ^= 0x80808080u;  // back to signed
        }
        for (int b = 0; b < 4; ++b) {
          for (int v = 0; v < kChunkVectors; ++v) {
            const F k = Int8Slot<W>(lanes[v], b);
            for (int r = 0; r < R; ++r) s[r][v0 + v] += q_rows[r][g + b] * k;
          }
        }
      }
    }
  }
}

// S W-wide slices of a value row, kPerLane<T> slices per load: slice s + k of
// the load at p + s * W holds values s * W + kPerLane * e + k, e < W.
// With S < kPerLane<T>, slices kFirst .. kFirst + S - 1 of the one load at p.
template <int W, int S, typename T, int kFirst = 0>
__attribute__((always_inline)) inline void LoadValues(const T* p, typename Vectors<W>::F (&v)[S]) {
  constexpr int kP = kPerLane<T>;
  if constexpr (S < kP) {
    static_assert(kFirst + S <= kP, "slices of one load");
    for (int k = 0; k < S; ++k) v[k] = LoadSlot<W>(p, kFirst + k);
  } else {
    static_assert(S % kP == 0 && kFirst == 0, "whole loads of slices");
    for (int s = 0; s < S; s += kP) {
      for (int k = 0; k < kP; ++k) v[s + k] = LoadSlot<W>(p + s * W, k);
    }
  }
}

template <int W>
__attribute__((always_inline)) inline void Store(float* p, typename Vectors<W>::F v) {
  std::memcpy(p, &v, sizeof(v));
}

// expf for a vector (Cephes polynomial, ~1 ulp on the range softmax uses: x <= 0).
template <int W>
__attribute__((always_inline)) inline typename Vectors<W>::F Exp(typename Vectors<W>::F x) {
  using F = typename Vectors<W>::F;
  using I = typename Vectors<W>::I;
  const F zero = {};
  const F clamped = x < kExpLowest ? zero + kExpLowest : (x > 88.0f ? zero + 88.0f : x);
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits
  const F t = clamped * 1.44269504088896341f + kMagic;
  const F n = t - kMagic;
  const I n_int = (I)t - (I)(zero + kMagic);
  const F r = clamped - n * 0.693359375f + n * 2.12194440e-4f;
  F y = zero + 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const F pow2n = (F)((n_int + 127) << 23);
  return x < kExpLowest ? zero : y * pow2n;
}

template <int W>
__attribute__((always_inline)) inline float MaxLanes(const typename Vectors<W>::F& v) {
  if constexpr (W <= 4) {
    float m = v[0];
    for (int i = 1; i < W; ++i) m = std::max(m, v[i]);
    return m;
  } else {
    // Halving: log2(W) vector steps run once per row and key block, instead of W - 1 dependent scalar ones.
    typename Vectors<W / 2>::F lo, hi;
    std::memcpy(&lo, &v, sizeof(lo));
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
    const typename Vectors<W / 2>::F halves = lo > hi ? lo : hi;
    return MaxLanes<W / 2>(halves);
  }
}

template <int W>
__attribute__((always_inline)) inline float SumLanes(typename Vectors<W>::F v) {
  float s = 0.0f;
  for (int i = 0; i < W; ++i) s += v[i];
  return s;
}

// out = acc * scale for one row, undoing LoadValues' de-interleaving.
template <int W, typename T>
__attribute__((always_inline)) inline void WriteRow(const float* acc, int hd, float scale, float* out) {
  constexpr int kP = kPerLane<T>;
  for (int b = 0; b < hd; b += kP * W) {
    for (int k = 0; k < kP; ++k) {
      for (int e = 0; e < W; ++e) out[b + kP * e + k] = acc[b + k * W + e] * scale;
    }
  }
}

// With int8 K/V the query rows are quantised too (QuantizeInt8 per row), so
// that on AVX-512 VNNI, AVX2 and NEON with SDOT a tile's scores are exact integer
// dot products; every other path scores the same dequantised rows in fp32, so all
// agree to fp32 rounding.
struct QuantizedQueries {
  alignas(64) int8_t q[kSweepRows][kMaxAttentionHeadDim];
  alignas(64) float dequantised[kSweepRows][kMaxAttentionHeadDim];
  int16_t wide[kSweepRows][kMaxAttentionHeadDim];  // q as int16, for VPMADDWD
  float scale[kSweepRows];
  int32_t sum[kSweepRows];  // of q: the integer paths read keys as q + 128

  void Quantize(int row, const float* x, int hd) {
    scale[row] = QuantizeInt8(x, hd, q[row]);
    sum[row] = 0;
    for (int i = 0; i < hd; ++i) {
      sum[row] += q[row][i];
      wide[row][i] = q[row][i];
      dequantised[row][i] = q[row][i] * scale[row];
    }
  }

  void CopyRow(int from, int to, int hd) {
    std::copy(q[from], q[from] + hd, q[to]);
    std::copy(dequantised[from], dequantised[from] + hd, dequantised[to]);
    std::copy(wide[from], wide[from] + hd, wide[to]);
    scale[to] = scale[from];
    sum[to] = sum[from];
  }
};

// A row's int32 dot products with keys stored as q + 128 (an intrinsic vector of
// W lanes), corrected and scaled to fp32; the keys' scales are the caller's.
// The result goes out through a reference: this helper has no target attribute,
// and Clang rejects a wide vector passed by value across such a boundary, even inlined.
template <int W, typename V>
__attribute__((always_inline)) inline void IntegerScores(const V& acc, const QuantizedQueries& queries, int row,
                                                         typename Vectors<W>::F& scores) {
  typename Vectors<W>::I dot;
  static_assert(sizeof(dot) == sizeof(acc), "one lane per key");
  std::memcpy(&dot, &acc, sizeof(dot));
  scores = __builtin_convertvector(dot - 128 * queries.sum[row], typename Vectors<W>::F) * queries.scale[row];
}

#if defined(__x86_64__)
// ScoreKeys for a whole int8 tile (W = 16) with VPDPBUSD: 4 dims of 16 keys per
// instruction, exact in int32, for query rows first .. first + R - 1; the scale is
// the query row's (the keys' are applied by the caller).
// Called, not inlined: GCC inlines a target-specific function only into one
// with the same target, and the kernels above it are target-neutral templates.
template <int R>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void ScoreKeysVnni(
    const int8_t* tile, int hd, const QuantizedQueries& queries, int first,
    typename Vectors<16>::F (&s)[R][kKeyTile / 16]) {
  constexpr int kNV = kKeyTile / 16;
  __m512i acc[R][kNV];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < kNV; ++v) acc[r][v] = _mm512_setzero_si512();
  }
  for (int g = 0; g < hd; g += 4) {
    __m512i k[kNV];
    for (int v = 0; v < kNV; ++v) k[v] = _mm512_loadu_si512(tile + Int8KeyPosition(v * 16, g));
    for (int r = 0; r < R; ++r) {
      int32_t quad;
      std::memcpy(&quad, queries.q[first + r] + g, sizeof(quad));
      const __m512i q = _mm512_set1_epi32(quad);
      for (int v = 0; v < kNV; ++v) acc[r][v] = DotBytes(acc[r][v], k[v], q);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < kNV; ++v) IntegerScores<16>(acc[r][v], queries, first + r, s[r][v]);
  }
}

// The same on AVX2 (W = 8), which has no byte dot product that is exact here
// (VPMADDUBSW saturates: 2 * 255 * 127 > 2^15). The key bytes are widened to
// int16 (VPUNPCK*BW with zero: keys 0, 1 | 4, 5 from the low halves of the
// 128-bit lanes, 2, 3 | 6, 7 from the high ones) and multiplied by the query
// quad with VPMADDWD, each key's two pair sums kept in adjacent int32 lanes
// until VPHADDD joins them, in key order, once per vector of 8 keys.
// A pass holds kPass key vectors' accumulators for every row (8 registers for
// two rows) and walks the quads with one pointer, so each quad's query
// broadcasts serve all of them.
template <int R>
__attribute__((target("avx2,fma"))) void ScoreKeysAvx2(const int8_t* tile, int hd, const QuantizedQueries& queries,
                                                       typename Vectors<8>::F (&s)[R][kKeyTile / 8]) {
  constexpr int kNV = kKeyTile / 8;
  constexpr int kPass = R <= 2 ? 2 : 1;
  constexpr int kQuadBytes = 4 * kKeyTile;  // one quad of dims of every key in the tile
  const __m256i zero = _mm256_setzero_si256();
  for (int v0 = 0; v0 < kNV; v0 += kPass) {
    __m256i lo[R][kPass], hi[R][kPass];
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < kPass; ++v) lo[r][v] = hi[r][v] = zero;
    }
    const int8_t* quad = tile + Int8KeyPosition(v0 * 8, 0);
    for (int g = 0; g < hd; g += 4, quad += kQuadBytes) {
      // The same line of the next tile, which decoding reads from memory: over the
      // passes this requests each of its lines once.
      __builtin_prefetch(quad + hd * kKeyTile);
      __m256i q[R];
      for (int r = 0; r < R; ++r) {
        int64_t wide_quad;
        std::memcpy(&wide_quad, queries.wide[r] + g, sizeof(wide_quad));
        q[r] = _mm256_set1_epi64x(wide_quad);
      }
      for (int v = 0; v < kPass; ++v) {
        const __m256i k = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quad + Int8KeyPosition(v * 8, 0)));
        const __m256i k_lo = _mm256_unpacklo_epi8(k, zero), k_hi = _mm256_unpackhi_epi8(k, zero);
        for (int r = 0; r < R; ++r) {
          lo[r][v] = _mm256_add_epi32(lo[r][v], _mm256_madd_epi16(k_lo, q[r]));
          hi[r][v] = _mm256_add_epi32(hi[r][v], _mm256_madd_epi16(k_hi, q[r]));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < kPass; ++v) IntegerScores<8>(_mm256_hadd_epi32(lo[r][v], hi[r][v]), queries, r, s[r][v0 + v]);
    }
  }
}

// The value pass with VPDPBUSD (prefill on AVX-512 VNNI) wants each 32-bit lane
// to hold one dim of 4 consecutive keys, where value rows hold 4 dims of one
// key. So each tile's rows are regrouped once, into quads of 4 keys, and then
// serve every group of query rows: quad k's bytes for dims [c, c + 64) are 4
// vectors at quads + (k * hd + c) * 4, vector s lane e holding dim c + 4e + s
// of the 4 keys: the slot order of LoadValues, so WriteRow reads either pass's
// accumulators. Rows at or past `valid` read as zeros.
__attribute__((target("avx512f,avx512bw"))) void GatherValueQuads(const int8_t* values, int kv_stride, int kb,
                                                                  int valid, int hd, int8_t* quads) {
  // Within each 128-bit lane, byte 4s + d takes byte 4d + s: after the two unpack
  // steps below, lane e of vector s then holds dim 4e + s.
  const __m512i transpose4x4 =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  for (int j = 0; j < valid; j += 4) {
    for (int c = 0; c < hd; c += 64) {
      __m512i row[4];
      for (int k = 0; k < 4; ++k) {
        row[k] = j + k < valid
                     ? _mm512_shuffle_epi8(_mm512_loadu_si512(values + static_cast<size_t>(kb + j + k) * kv_stride + c),
                                           transpose4x4)
                     : _mm512_setzero_si512();
      }
      const __m512i keys01_lo = _mm512_unpacklo_epi8(row[0], row[1]), keys01_hi = _mm512_unpackhi_epi8(row[0], row[1]);
      const __m512i keys23_lo = _mm512_unpacklo_epi8(row[2], row[3]), keys23_hi = _mm512_unpackhi_epi8(row[2], row[3]);
      int8_t* quad = quads + (static_cast<size_t>(j / 4) * hd + c) * 4;
      _mm512_storeu_si512(quad, _mm512_unpacklo_epi16(keys01_lo, keys23_lo));
      _mm512_storeu_si512(quad + 64, _mm512_unpackhi_epi16(keys01_lo, keys23_lo));
      _mm512_storeu_si512(quad + 128, _mm512_unpacklo_epi16(keys01_hi, keys23_hi));
      _mm512_storeu_si512(quad + 192, _mm512_unpackhi_epi16(keys01_hi, keys23_hi));
    }
  }
}

// acc[r] = acc[r] * rescale[r] + sum_j probs[r][j] * v_j for R rows against the first
// `valid` keys of a tile regrouped by GatherValueQuads (probs already carry the value
// rows' scales). Each row's probabilities are rounded to u8 against the row's largest
// in the tile, so that VPDPBUSD takes 4 keys per instruction, exactly in int32: per
// key, R instructions instead of 4R fp32 FMAs and the int8 unpacking. A probability
// then carries an error of up to 1/510 of the tile's largest, the price of this path.
template <int R>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void AccumulateValuesVnni(const int8_t* quads, int hd, int valid,
                                                                                 const float (*probs)[kKeyTile],
                                                                                 const float* rescale, float* acc) {
  constexpr int kVectors = kKeyTile / 16;
  alignas(64) uint8_t rounded[R][kKeyTile];
  float step[R];
  // Lanes past the last key hold 0 times a stale value scale, which may be NaN.
  __mmask16 keys[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const int in_vector = std::clamp(valid - v * 16, 0, 16);
    keys[v] = static_cast<__mmask16>((1u << in_vector) - 1);
  }
  for (int r = 0; r < R; ++r) {
    __m512 p[kVectors];
    __m512 largest = _mm512_setzero_ps();
    for (int v = 0; v < kVectors; ++v) {
      p[v] = _mm512_maskz_loadu_ps(keys[v], probs[r] + v * 16);
      largest = _mm512_max_ps(largest, p[v]);
    }
    const float max_p = _mm512_reduce_max_ps(largest);
    step[r] = max_p / 255.0f;
    const __m512 to_u8 = _mm512_set1_ps(max_p > 0.0f ? 255.0f / max_p : 0.0f);
    for (int v = 0; v < kVectors; ++v) {
      // Round to nearest even (the default MXCSR mode); the products lie in [0, 255].
      _mm_storeu_si128(reinterpret_cast<__m128i*>(rounded[r] + v * 16),
                       _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(p[v], to_u8))));
    }
  }
  for (int c = 0; c < hd; c += 64) {
    __m512i dot[R][4];
    for (int r = 0; r < R; ++r) {
      for (int s = 0; s < 4; ++s) dot[r][s] = _mm512_setzero_si512();
    }
    for (int j = 0; j < valid; j += 4) {
      const int8_t* quad = quads + (static_cast<size_t>(j / 4) * hd + c) * 4;
      __m512i v[4];
      for (int s = 0; s < 4; ++s) v[s] = _mm512_loadu_si512(quad + 64 * s);
      for (int r = 0; r < R; ++r) {
        int32_t four;
        std::memcpy(&four, rounded[r] + j, sizeof(four));
        const __m512i p = _mm512_set1_epi32(four);
        for (int s = 0; s < 4; ++s) dot[r][s] = DotBytes(dot[r][s], p, v[s]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int s = 0; s < 4; ++s) {
        float* a = acc + r * hd + c + 16 * s;
        const __m512 sum = _mm512_mul_ps(_mm512_cvtepi32_ps(dot[r][s]), _mm512_set1_ps(step[r]));
        _mm512_storeu_ps(a, _mm512_fmadd_ps(_mm512_loadu_ps(a), _mm512_set1_ps(rescale[r]), sum));
      }
    }
  }
}
#endif

#if defined(__aarch64__)
// Quad L of the query registers (dims 4L .. 4L + 3 of their 16) times kPass
// vectors of 4 keys each, stored as q + 128 at `keys`, 16 bytes apart.
template <int L, int R, int kPass>
__attribute__((target("arch=armv8.2-a+dotprod"), always_inline)) inline void DotQuad(const int8_t* keys,
                                                                                     const int8x16_t (&q)[R],
                                                                                     int32x4_t (&acc)[R][kPass]) {
  for (int v = 0; v < kPass; ++v) {
    const uint8x16_t stored = vld1q_u8(reinterpret_cast<const uint8_t*>(keys) + 16 * v);
    const int8x16_t k = vreinterpretq_s8_u8(veorq_u8(stored, vdupq_n_u8(0x80)));  // back to signed
    for (int r = 0; r < R; ++r) acc[r][v] = vdotq_laneq_s32(acc[r][v], k, q[r], L);
  }
}

// ScoreKeys for a whole int8 tile (W = 4) with SDOT, exact in int32, for query rows
// first .. first + R - 1; the keys' scales are the caller's. A q register of keys is 4
// dims of 4 keys (the tile's quad layout); a register of a query row holds 4 quads,
// and SDOT's by-element form broadcasts one. Widening each int8 key to fp32 instead
// took 8 conversions per 16 FMLA, about half the FMLA peak by llvm-mca (bench/arm-estimate).
template <int R>
__attribute__((target("arch=armv8.2-a+dotprod"))) void ScoreKeysNeonDot(const int8_t* tile, int hd,
                                                                        const QuantizedQueries& queries, int first,
                                                                        typename Vectors<4>::F (&s)[R][kKeyTile / 4]) {
  constexpr int kNV = kKeyTile / 4;
  constexpr int kPass = R <= 2 ? 8 : 4;  // R x kPass accumulators, kPass keys and R query rows in 32 registers
  for (int v0 = 0; v0 < kNV; v0 += kPass) {
    int32x4_t acc[R][kPass];
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < kPass; ++v) acc[r][v] = vdupq_n_s32(0);
    }
    for (int g = 0; g < hd; g += 16) {
      int8x16_t q[R];
      for (int r = 0; r < R; ++r) q[r] = vld1q_s8(queries.q[first + r] + g);
      DotQuad<0, R, kPass>(tile + Int8KeyPosition(v0 * 4, g), q, acc);
      DotQuad<1, R, kPass>(tile + Int8KeyPosition(v0 * 4, g + 4), q, acc);
      DotQuad<2, R, kPass>(tile + Int8KeyPosition(v0 * 4, g + 8), q, acc);
      DotQuad<3, R, kPass>(tile + Int8KeyPosition(v0 * 4, g + 12), q, acc);
    }
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < kPass; ++v) {
        const float32x4_t scores = vmulq_n_f32(vcvtq_f32_s32(acc[r][v]), queries.scale[first + r]);
        std::memcpy(&s[r][v0 + v], &scores, sizeof(scores));
      }
    }
  }
}
#endif

// int8 keys and values carry scales (Problem::key_scales, value_scales).
template <typename T>
inline constexpr bool kScaled = std::is_same_v<T, int8_t>;

// T: the element type of keys and values: float, bf16 bits (uint16_t) or int8_t.
template <typename T>
struct Problem {
  const float* q;
  int tq;
  const T* key_t;
  int key_stride;
  const T* v;
  int tk, heads, kv_heads, head_dim;
  float scale;
  const float* key_bias;
  float* out;
  // int8 only: the scales of keys and of value rows, [kv_head * key_stride + key].
  const float* key_scales = nullptr;
  const float* value_scales = nullptr;
};

// The biases of keys [first, first + W): key_bias's (0 without one), and the
// mask for every lane at or past the last key, so stale lanes never count.
template <int W>
__attribute__((always_inline)) inline typename Vectors<W>::F KeyBiases(const float* key_bias, int first, int tk) {
  typename Vectors<W>::F bias = {};
  if (first + W <= tk) return key_bias != nullptr ? Load<W>(key_bias + first) : bias;
  for (int l = 0; l < W; ++l) {
    bias[l] = first + l >= tk ? kMaskedKeyBias : (key_bias != nullptr ? key_bias[first + l] : 0.0f);
  }
  return bias;
}

// acc[r][i .. i + S*W) = acc[r][i ..] * rescale[r] + sum_j probs[r][j] * v_(kb + j)[i ..]
// for R rows and `valid` keys; probs rows are `probs_stride` apart. The online
// softmax's rescaling rides on the load of the accumulators.
// (With S < kPerLane<T>: slices kFirst .. of the loads at values, into acc from i.)
template <int W, int S, int R, typename T, int kFirst = 0>
__attribute__((always_inline)) inline void AccumulateValues(const T* values, int kv_stride, int kb, int valid,
                                                            const float* probs, int probs_stride, const float* rescale,
                                                            float* acc, int acc_stride, int i) {
  using F = typename Vectors<W>::F;
  F a[R][S];
  for (int r = 0; r < R; ++r) {
    for (int sl = 0; sl < S; ++sl) a[r][sl] = Load<W>(acc + r * acc_stride + i + sl * W) * rescale[r];
  }
  const T* vj = values + static_cast<size_t>(kb) * kv_stride;
  for (int j = 0; j < valid; ++j, vj += kv_stride) {
    // Rows of one KV head are kv_stride apart, too far for the hardware
    // prefetchers to follow when they come from the last-level cache.
    __builtin_prefetch(vj + kPrefetchKeys * kv_stride);
    F vv[S];
    LoadValues<W, S, T, kFirst>(vj, vv);
    for (int r = 0; r < R; ++r) {
      const float p = probs[r * probs_stride + j];
      for (int sl = 0; sl < S; ++sl) a[r][sl] += p * vv[sl];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int sl = 0; sl < S; ++sl) Store<W>(acc + r * acc_stride + i + sl * W, a[r][sl]);
  }
}

// The value pass over hd: PassVectors W-wide slices at a time (whole loads of
// them), then single loads. Where a load holds more slices than a pass has
// registers for (int8, 4 slices, with 6 rows on AVX2), each pass takes half of
// every load's slices and the next reloads the load from L1: holding all of them,
// GCC spilled accumulators and the pass was bound by the spills.
template <int W, int R, typename T>
__attribute__((always_inline)) inline void AccumulateAllValues(const T* values, int kv_stride, int kb, int valid,
                                                               const float* probs, int probs_stride,
                                                               const float* rescale, float* acc, int hd) {
  constexpr int kStep = kPerLane<T> * W;
  if constexpr (kPerLane<T> == 2 * PassVectors<W, R>()) {
    constexpr int kHalf = kPerLane<T> / 2;
    for (int i = 0; i < hd; i += kStep) {
      AccumulateValues<W, kHalf, R, T, 0>(values + i, kv_stride, kb, valid, probs, probs_stride, rescale, acc, hd, i);
      AccumulateValues<W, kHalf, R, T, kHalf>(values + i, kv_stride, kb, valid, probs, probs_stride, rescale, acc, hd,
                                              i + kHalf * W);
    }
    return;
  }
  int i = 0;
  constexpr int kPass = std::max(PassVectors<W, R>(), kPerLane<T>);
  for (; i + kPass * W <= hd; i += kPass * W)
    AccumulateValues<W, kPass, R>(values + i, kv_stride, kb, valid, probs, probs_stride, rescale, acc, hd, i);
  for (; i < hd; i += kStep)
    AccumulateValues<W, kStep / W, R>(values + i, kv_stride, kb, valid, probs, probs_stride, rescale, acc, hd, i);
}

// Up to kSweepRows query rows (any heads of one KV head) against every key,
// online softmax. The key blocks are the outer loop: each block of K and V is
// read once from L2 and then serves every group of kRows rows while it sits in
// L1; with the rows outermost, K and V were streamed from L2 once per group,
// and that bandwidth, not arithmetic, bounded long prefills. `rows` is a
// multiple of kRows (callers repeat a row to fill the last group); only
// `used_rows` are written. With integer scores (AVX-512 VNNI), `queries` holds
// the rows quantised, in the order of q_rows.
template <int W, typename T, bool kIntegerScores>
__attribute__((always_inline)) inline void AttendRows(const Problem<T>& p, int kv_head, const float* const* q_rows,
                                                      [[maybe_unused]] const QuantizedQueries* queries,
                                                      float* const* out_rows, int rows, int used_rows) {
  using F = typename Vectors<W>::F;
  // Keys go a whole tile at a time: the per-block softmax work (maxima, rescaling)
  // is shared by as many keys as the layout allows.
  constexpr int kKeyVectors = kKeyTile / W;
  const int hd = p.head_dim, kv_stride = p.kv_heads * hd;
  const T* key_t = p.key_t + static_cast<size_t>(kv_head) * hd * p.key_stride;  // this head's tiles
  const T* values = p.v + kv_head * hd;
  const size_t scales_at = static_cast<size_t>(kv_head) * p.key_stride;
  const float* key_scales = kScaled<T> ? p.key_scales + scales_at : nullptr;
  const float* value_scales = kScaled<T> ? p.value_scales + scales_at : nullptr;
  // Row r's accumulator is acc + r * hd: dense, so the rows' state shares no cache sets needlessly.
  alignas(64) float acc[kSweepRows * kMaxAttentionHeadDim];
  alignas(64) float probs[kRows][kKeyTile];
#if defined(__x86_64__)
  // AVX-512 VNNI takes the value pass in integers too (AccumulateValuesVnni), from each tile's values
  // regrouped once for all the rows.
  constexpr bool kIntegerValues = kIntegerScores && W == 16;
#else
  constexpr bool kIntegerValues = false;
#endif
  [[maybe_unused]] alignas(64) int8_t value_quads[kIntegerValues ? kKeyTile * kMaxAttentionHeadDim : 1];
  const F zero = {};
  float row_max[kSweepRows];
  F row_sum[kSweepRows];  // per lane; summed across lanes once at the end
  std::fill(acc, acc + rows * hd, 0.0f);
  for (int r = 0; r < rows; ++r) {
    row_max[r] = kMaskedKeyBias;
    row_sum[r] = zero;
  }
  for (int kb = 0; kb < p.tk; kb += kKeyTile) {
    const int valid = std::min(kKeyTile, p.tk - kb);
    F bias[kKeyVectors], key_scale[kKeyVectors], value_scale[kKeyVectors];
    for (int c = 0; c < kKeyVectors; ++c) {
      bias[c] = KeyBiases<W>(p.key_bias, kb + c * W, p.tk);
      key_scale[c] = zero + p.scale;
      if constexpr (kScaled<T>) {
        key_scale[c] *= Load<W>(key_scales + kb + c * W);
        value_scale[c] = Load<W>(value_scales + kb + c * W);
      }
    }
    const T* tile = key_t + static_cast<size_t>(kb / kKeyTile) * hd * kKeyTile;
#if defined(__x86_64__)
    if constexpr (kIntegerValues) GatherValueQuads(values, kv_stride, kb, valid, hd, value_quads);
#endif
    for (int g = 0; g < rows; g += kRows) {
      F s[kRows][kKeyVectors];
#if defined(__x86_64__)
      // Only VNNI: on AVX2, six rows of VPMADDWD accumulators spill (see ScoreKeysAvx2), and fp32
      // FMAs on the dequantised rows are as fast.
      if constexpr (kIntegerScores && W == 16) {
        ScoreKeysVnni<kRows>(tile, hd, *queries, g, s);
      } else
#elif defined(__aarch64__)
      if constexpr (kIntegerScores && W == 4) {
        ScoreKeysNeonDot<kRows>(tile, hd, *queries, g, s);
      } else
#endif
      {
        ScoreKeys<W, kRows, kKeyVectors, T>(tile, hd, q_rows + g, s);
      }
      // Every row of the group, used or not, so the value pass below never reads unset probabilities.
      // Each step is a loop over the rows with no branch, so the rows' dependency chains
      // (max, then exp) interleave.
      float new_max[kRows], correction[kRows];
      for (int r = 0; r < kRows; ++r) {
        F block_max = zero + kMaskedKeyBias;
        for (int c = 0; c < kKeyVectors; ++c) {
          // A masked score is exactly the bias, not q.k + bias, so stale lanes past the last key cannot leak in.
          const F scored = s[r][c] * key_scale[c] + bias[c];
          s[r][c] = bias[c] <= kMaskedKeyBias ? bias[c] : scored;
          block_max = block_max > s[r][c] ? block_max : s[r][c];
        }
        new_max[r] = std::max(row_max[g + r], MaxLanes<W>(block_max));
      }
      // The rows' rescaling factors in one vector exp (W >= kRows lanes, or a few), not one each: a
      // whole exp per row was a fifth of the softmax's. Not std::exp: a library call here would spill
      // every live score vector around it.
      for (int r0 = 0; r0 < kRows; r0 += W) {
        F shift = zero;
        for (int l = 0; l < W && r0 + l < kRows; ++l) shift[l] = row_max[g + r0 + l] - new_max[r0 + l];
        const F factor = Exp<W>(shift);
        for (int l = 0; l < W && r0 + l < kRows; ++l) correction[r0 + l] = factor[l];
      }
      for (int r = 0; r < kRows; ++r) row_max[g + r] = new_max[r];
      for (int r = 0; r < kRows; ++r) {
        F sum = zero;
        for (int c = 0; c < kKeyVectors; ++c) {
          const F e = Exp<W>(s[r][c] - new_max[r]);
          sum += e;
          // int8: each value row's scale rides on its probability (the sum stays unscaled).
          if constexpr (kScaled<T>) {
            Store<W>(probs[r] + c * W, e * value_scale[c]);
          } else {
            Store<W>(probs[r] + c * W, e);
          }
        }
        row_sum[g + r] = row_sum[g + r] * correction[r] + sum;
      }
#if defined(__x86_64__)
      if constexpr (kIntegerValues) {
        AccumulateValuesVnni<kRows>(value_quads, hd, valid, probs, correction, acc + g * hd);
        continue;
      }
#endif
      // kRows x PassVectors independent accumulators hide the FMA latency.
      AccumulateAllValues<W, kRows>(values, kv_stride, kb, valid, probs[0], kKeyTile, correction, acc + g * hd, hd);
    }
  }
  for (int r = 0; r < used_rows; ++r) {
    const float inv = 1.0f / SumLanes<W>(row_sum[r]);
    WriteRow<W, T>(acc + r * hd, hd, inv, out_rows[r]);
  }
}

// R rows (decode: one position's GQA group) against every key. No key block
// serves more than these rows, so the online softmax's per-block max, exp and
// rescale would cost more than the products: here each chunk of kChunk keys is
// scored whole, its softmax taken in one vector pass per row, and the values
// read once, in key order. Only `used_rows` are written.
template <int W, int R, typename T, bool kIntegerScores>
__attribute__((always_inline)) inline void AttendFew(const Problem<T>& p, int kv_head, const float* const* q_rows,
                                                     [[maybe_unused]] const QuantizedQueries* queries,
                                                     float* const* out_rows, int used_rows) {
  static_assert(!kIntegerScores || (kScaled<T> && (W == 16 || W == 8 || W == 4)), "integer scores are for int8 keys");
  using F = typename Vectors<W>::F;
  constexpr int kTileVectors = kKeyTile / W;
  const int hd = p.head_dim, kv_stride = p.kv_heads * hd;
  const T* key_t = p.key_t + static_cast<size_t>(kv_head) * hd * p.key_stride;  // this head's tiles
  const T* values = p.v + kv_head * hd;
  const size_t scales_at = static_cast<size_t>(kv_head) * p.key_stride;
  const float* key_scales = kScaled<T> ? p.key_scales + scales_at : nullptr;
  const float* value_scales = kScaled<T> ? p.value_scales + scales_at : nullptr;
  alignas(64) float acc[R * kMaxAttentionHeadDim];
  alignas(64) float scores[R][kChunk];  // then the chunk's probabilities
  float row_max[R], row_sum[R], correction[R];
  std::fill(acc, acc + R * hd, 0.0f);
  for (int r = 0; r < R; ++r) {
    row_max[r] = kMaskedKeyBias;
    row_sum[r] = 0.0f;
  }
  const F zero = {};
  for (int c0 = 0; c0 < p.tk; c0 += kChunk) {
    const int n = std::min(kChunk, p.tk - c0), padded = (n + kKeyTile - 1) / kKeyTile * kKeyTile;
    for (int t = 0; t < padded; t += kKeyTile) {
      const T* tile = key_t + static_cast<size_t>((c0 + t) / kKeyTile) * hd * kKeyTile;
      F s[R][kTileVectors];
#if defined(__x86_64__)
      if constexpr (kIntegerScores && W == 16) {
        ScoreKeysVnni<R>(tile, hd, *queries, 0, s);
      } else if constexpr (kIntegerScores && W == 8) {
        ScoreKeysAvx2<R>(tile, hd, *queries, s);
      } else
#elif defined(__aarch64__)
      if constexpr (kIntegerScores && W == 4) {
        ScoreKeysNeonDot<R>(tile, hd, *queries, 0, s);
      } else
#endif
      {
        ScoreKeys<W, R, kTileVectors, T>(tile, hd, q_rows, s);
      }
      for (int r = 0; r < R; ++r) {
        for (int v = 0; v < kTileVectors; ++v) {
          if constexpr (kScaled<T>) s[r][v] *= Load<W>(key_scales + c0 + t + v * W);
          Store<W>(scores[r] + t + v * W, s[r][v]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      float* row = scores[r];
      F block_max = zero + kMaskedKeyBias;
      for (int j = 0; j < padded; j += W) {
        const F bias = KeyBiases<W>(p.key_bias, c0 + j, p.tk);
        // A masked score is exactly the bias, as in AttendRows.
        const F scored = Load<W>(row + j) * p.scale + bias;
        const F x = bias <= kMaskedKeyBias ? bias : scored;
        Store<W>(row + j, x);
        block_max = block_max > x ? block_max : x;
      }
      const float new_max = std::max(row_max[r], MaxLanes<W>(block_max));
      correction[r] = Exp<W>(zero + (row_max[r] - new_max))[0];
      row_max[r] = new_max;
      F sum = zero;
      for (int j = 0; j < padded; j += W) {
        const F e = Exp<W>(Load<W>(row + j) - new_max);
        sum += e;
        if constexpr (kScaled<T>) {
          Store<W>(row + j, e * Load<W>(value_scales + c0 + j));  // as in AttendRows
        } else {
          Store<W>(row + j, e);
        }
      }
      row_sum[r] = row_sum[r] * correction[r] + SumLanes<W>(sum);
    }
    AccumulateAllValues<W, R>(values, kv_stride, c0, n, scores[0], kChunk, correction, acc, hd);
  }
  for (int r = 0; r < used_rows; ++r) {
    const float inv = 1.0f / row_sum[r];
    WriteRow<W, T>(acc + r * hd, hd, inv, out_rows[r]);
  }
}

// Rows collected so far: unused rows of the last group repeat the first one,
// so the group loop needs no row bound. (A function, not a lambda: a lambda
// would not inherit the caller's target attribute and would compile to
// baseline x86-64 code.)
template <int W, typename T, bool kIntegerScores>
__attribute__((always_inline)) inline void Sweep(const Problem<T>& p, int kv_head, const float** q_rows,
                                                 QuantizedQueries* queries, float* const* out_rows, int rows) {
  const int padded = (rows + kRows - 1) / kRows * kRows;
  for (int r = rows; r < padded; ++r) {
    q_rows[r] = q_rows[0];
    if constexpr (kScaled<T>) queries->CopyRow(0, r, p.head_dim);
  }
  AttendRows<W, T, kIntegerScores>(p, kv_head, q_rows, queries, out_rows, padded, rows);
}

// One task: query positions [q_begin, q_end) of every query head of `kv_head`.
template <int W, typename T, bool kIntegerScores = false>
__attribute__((always_inline)) inline void AttendTask(const Problem<T>& p, int kv_head, int q_begin, int q_end) {
  const int group = p.heads / p.kv_heads, hd = p.head_dim, q_stride = p.heads * hd;
  const float* q_rows[kSweepRows] = {};
  float* out_rows[kSweepRows] = {};
  struct NoQueries {};
  std::conditional_t<kScaled<T>, QuantizedQueries, NoQueries> queries;
  QuantizedQueries* quantized = nullptr;
  if constexpr (kScaled<T>) quantized = &queries;
  int rows = 0;
  for (int t = q_begin; t < q_end; ++t) {
    for (int g = 0; g < group; ++g) {
      const int head = kv_head * group + g;
      q_rows[rows] = p.q + static_cast<size_t>(t) * q_stride + head * hd;
      if constexpr (kScaled<T>) {
        queries.Quantize(rows, q_rows[rows], hd);
        q_rows[rows] = queries.dequantised[rows];
      }
      out_rows[rows] = p.out + static_cast<size_t>(t) * q_stride + head * hd;
      if (++rows == kSweepRows) {
        Sweep<W, T, kIntegerScores>(p, kv_head, q_rows, quantized, out_rows, rows);
        rows = 0;
      }
    }
  }
  if ((q_end - q_begin) * group > kFewRows) {
    if (rows > 0) Sweep<W, T, kIntegerScores>(p, kv_head, q_rows, quantized, out_rows, rows);
    return;
  }
  // The whole task is a few rows (decode): all of them were collected above.
  if (rows == 1) return AttendFew<W, 1, T, kIntegerScores>(p, kv_head, q_rows, quantized, out_rows, rows);
  if (rows == 2) return AttendFew<W, 2, T, kIntegerScores>(p, kv_head, q_rows, quantized, out_rows, rows);
  for (int r = rows; r < kFewRows; ++r) {
    if constexpr (kScaled<T>) queries.Quantize(r, q_rows[0], hd);  // unused rows: any finite values
    q_rows[r] = q_rows[0];
  }
  AttendFew<W, kFewRows, T, kIntegerScores>(p, kv_head, q_rows, quantized, out_rows, rows);
}

template <typename T>
using TaskFn = void (*)(const Problem<T>&, int, int, int);

template <typename T>
void TaskGeneric1(const Problem<T>& p, int kv_head, int b, int e) {
  AttendTask<1>(p, kv_head, b, e);
}
template <typename T>
void TaskGeneric2(const Problem<T>& p, int kv_head, int b, int e) {
  AttendTask<2>(p, kv_head, b, e);
}
template <typename T>
void TaskGeneric4(const Problem<T>& p, int kv_head, int b, int e) {
  AttendTask<4>(p, kv_head, b, e);
}
template <typename T>
void TaskGeneric8(const Problem<T>& p, int kv_head, int b, int e) {
  AttendTask<8>(p, kv_head, b, e);
}
#if defined(__aarch64__)
void TaskNeonDotInt8_4(const Problem<int8_t>& p, int kv_head, int b, int e) {
  AttendTask<4, int8_t, /*kIntegerScores=*/true>(p, kv_head, b, e);
}
#endif
#if defined(__x86_64__)
template <typename T>
__attribute__((target("avx2,fma"))) void TaskAvx2_8(const Problem<T>& p, int kv_head, int b, int e) {
  AttendTask<8>(p, kv_head, b, e);
}
template <typename T>
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))) void TaskAvx512_16(const Problem<T>& p, int kv_head,
                                                                                     int b, int e) {
  AttendTask<16>(p, kv_head, b, e);
}
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,fma"))) void TaskAvx512Vnni_16(
    const Problem<int8_t>& p, int kv_head, int b, int e) {
  AttendTask<16, int8_t, /*kIntegerScores=*/true>(p, kv_head, b, e);
}
__attribute__((target("avx2,fma"))) void TaskAvx2Int8_8(const Problem<int8_t>& p, int kv_head, int b, int e) {
  AttendTask<8, int8_t, /*kIntegerScores=*/true>(p, kv_head, b, e);
}
template <typename T>
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))) void TaskAvx512_8(const Problem<T>& p, int kv_head,
                                                                                    int b, int e) {
  AttendTask<8>(p, kv_head, b, e);
}
#endif

// The widest kernel `isa` has whose value step (kPerLane<T> * W) divides head_dim. The x86 sets have
// kernels of their own here, and NEON with SDOT one for int8 keys; the others take the generic ones.
template <typename T>
TaskFn<T> ChooseKernel([[maybe_unused]] Isa isa, int head_dim) {
  const auto fits = [head_dim](int w) { return head_dim % (kPerLane<T> * w) == 0; };
#if defined(__aarch64__)
  if constexpr (kScaled<T>) {
    if (isa == Isa::kNeonDot && fits(4)) return TaskNeonDotInt8_4;
  }
  // NEON's own width. GCC lowers a W = 8 vector (two q registers) through the stack: the prefill score
  // loop had 68 stores and 59 loads per 24 FMLA, against none at W = 4 (llvm-mca, bench/arm-estimate).
  if (fits(4)) return TaskGeneric4<T>;
#endif
#if defined(__x86_64__)
  switch (isa) {
    case Isa::kAvx512Vnni:
      if constexpr (kScaled<T>) {
        if (fits(16)) return TaskAvx512Vnni_16;
      }
      if (fits(16)) return TaskAvx512_16<T>;
      if (fits(8)) return TaskAvx512_8<T>;
      break;
    case Isa::kAvx2:
      if constexpr (kScaled<T>) {
        if (fits(8)) return TaskAvx2Int8_8;
      }
      if (fits(8)) return TaskAvx2_8<T>;
      break;
    default:
      break;
  }
#endif
  if (fits(8)) return TaskGeneric8<T>;
  if (fits(4)) return TaskGeneric4<T>;
  if (fits(2)) return TaskGeneric2<T>;
  return TaskGeneric1<T>;  // bf16 with head_dim 2 mod 4 (head_dim is even: RoPE needs halves; int8 needs 4 | head_dim)
}

template <typename T>
void RunAttention(const Problem<T>& problem, ThreadPool* pool, Isa isa) {
  const TaskFn<T> kernel = ChooseKernel<T>(isa, problem.head_dim);
  const int query_blocks = (problem.tq + kQueryBlock - 1) / kQueryBlock;
  const int tasks = problem.kv_heads * query_blocks;
  auto run = [&](int begin, int end) {
    for (int task = begin; task < end; ++task) {
      const int kv_head = task % problem.kv_heads, block = task / problem.kv_heads;
      kernel(problem, kv_head, block * kQueryBlock, std::min(problem.tq, (block + 1) * kQueryBlock));
    }
  };
  if (pool == nullptr || tasks == 1) {
    run(0, tasks);
  } else {
    pool->ParallelFor(tasks, 1, run);
  }
}

// Head h's tile holding key j in the tiled key layout (fp32, bf16 or int8).
template <typename T>
T* KeyTile(T* key_t, int h, int j, int stride, int head_dim) {
  return key_t + (static_cast<size_t>(h) * (stride / kKeyTile) + j / kKeyTile) * head_dim * kKeyTile;
}

template <typename T, typename Convert, typename Position>
void TransposeKeysAs(const float* k, int first, int count, int kv_heads, int head_dim, T* key_t, int stride,
                     Convert convert, Position position) {
  const int kv_dim = kv_heads * head_dim;
  for (int j = first; j < first + count; ++j) {
    const float* row = k + static_cast<size_t>(j - first) * kv_dim;
    for (int h = 0; h < kv_heads; ++h) {
      T* tile = KeyTile(key_t, h, j, stride, head_dim);
      const int at = position(j % kKeyTile);
      for (int i = 0; i < head_dim; ++i) tile[i * kKeyTile + at] = convert(row[h * head_dim + i]);
    }
  }
}

}  // namespace

void TransposeKeys(const float* k, int first, int count, int kv_heads, int head_dim, float* key_t, int stride) {
  TransposeKeysAs(
      k, first, count, kv_heads, head_dim, key_t, stride, [](float x) { return x; }, [](int j) { return j; });
}

void TransposeKeys(const float* k, int first, int count, int kv_heads, int head_dim, uint16_t* key_t, int stride) {
  TransposeKeysAs(k, first, count, kv_heads, head_dim, key_t, stride, RoundToBf16Bits, KeyPosition<uint16_t>);
}

void QuantizeKeys(const float* k, int first, int count, int kv_heads, int head_dim, int8_t* key_t, float* scales,
                  int stride) {
  const int kv_dim = kv_heads * head_dim;
  int8_t q[kMaxAttentionHeadDim];
  for (int j = first; j < first + count; ++j) {
    for (int h = 0; h < kv_heads; ++h) {
      scales[static_cast<size_t>(h) * stride + j] =
          QuantizeInt8(k + static_cast<size_t>(j - first) * kv_dim + h * head_dim, head_dim, q);
      int8_t* tile = KeyTile(key_t, h, j, stride, head_dim);
      for (int i = 0; i < head_dim; ++i) {
        tile[Int8KeyPosition(j % kKeyTile, i)] = static_cast<int8_t>(static_cast<uint8_t>(q[i]) ^ 0x80u);
      }
    }
  }
}

void QuantizeValues(const float* v, int count, int kv_heads, int head_dim, int8_t* dst, float* scales, int stride) {
  const size_t kv_dim = static_cast<size_t>(kv_heads) * head_dim;
  for (int j = 0; j < count; ++j) {
    for (int h = 0; h < kv_heads; ++h) {
      const size_t at = j * kv_dim + h * head_dim;
      scales[static_cast<size_t>(h) * stride + j] = QuantizeInt8(v + at, head_dim, dst + at);
    }
  }
}

NEEDLE_AVX2_CLONES float QuantizeInt8(const float* x, int n, int8_t* q) {
  // Eight running maxima: one would chain every MAXSS on the last (GCC does not reorder a float max
  // reduction), and this loop, run for every query, key and value row, took 6% of a w8a8 prefill.
  constexpr int kLanes = 8;
  float lane_max[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lane_max[l] = std::max(lane_max[l], std::fabs(x[i + l]));
  }
  for (; i < n; ++i) lane_max[0] = std::max(lane_max[0], std::fabs(x[i]));
  float max_abs = 0.0f;
  for (float m : lane_max) max_abs = std::max(max_abs, m);
  if (max_abs == 0.0f) {
    std::fill(q, q + n, 0);
    return 0.0f;
  }
  const float scale = max_abs / 127.0f, inverse = 127.0f / max_abs;
  // Adding and subtracting 1.5 * 2^23 rounds half to even (|x * inverse| <= 127 is far below 2^22) and,
  // unlike std::nearbyint (a library call here), vectorises.
  constexpr float kRound = 12582912.0f;
  for (int i = 0; i < n; ++i) {
    q[i] = static_cast<int8_t>(std::clamp((x[i] * inverse + kRound) - kRound, -127.0f, 127.0f));
  }
  return scale;
}

bool Int8PrefillAttentionPays(Isa isa) { return isa == Isa::kAvx512Vnni; }

void ToBf16(const float* src, size_t count, uint16_t* dst) {
  for (size_t i = 0; i < count; ++i) dst[i] = RoundToBf16Bits(src[i]);
}

void Attention(const float* q, int tq, KeysT keys, const float* v, int tk, int heads, int kv_heads, int head_dim,
               float scale, const float* key_bias, float* out, ThreadPool* pool, Isa isa) {
  RunAttention(Problem<float>{q, tq, keys.data, keys.stride, v, tk, heads, kv_heads, head_dim, scale, key_bias, out},
               pool, isa);
}

void Attention(const float* q, int tq, KeysInt8 keys, ValuesInt8 v, int tk, int heads, int kv_heads, int head_dim,
               float scale, const float* key_bias, float* out, ThreadPool* pool, Isa isa) {
  Problem<int8_t> problem{q, tq, keys.data, keys.stride, v.data, tk, heads, kv_heads, head_dim, scale, key_bias, out};
  problem.key_scales = keys.scales;
  problem.value_scales = v.scales;
  RunAttention(problem, pool, isa);
}

void Attention(const float* q, int tq, KeysBf16 keys, const uint16_t* v, int tk, int heads, int kv_heads, int head_dim,
               float scale, const float* key_bias, float* out, ThreadPool* pool, Isa isa) {
  RunAttention(Problem<uint16_t>{q, tq, keys.data, keys.stride, v, tk, heads, kv_heads, head_dim, scale, key_bias, out},
               pool, isa);
}

}  // namespace needle::optimized
