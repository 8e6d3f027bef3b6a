// A roofline for needle-bench: this machine's measured peaks, and the work a
// test must do at least, so that each row's speed reads as a fraction of what
// the hardware can do (FLOP/s for prefill, bytes/s for decode).
#ifndef NEEDLE_BENCH_ROOFLINE_H_
#define NEEDLE_BENCH_ROOFLINE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "needle/bench/row.h"
#include "needle/config.h"

namespace needle::bench {

// What `threads` threads (each on its own data) reach on this machine, each
// figure the best of a few runs of ~0.1 s. Operation counts: a multiply-add is
// two operations, in every figure.
struct MachinePeak {
  int threads = 0;
  std::string cpu_mask;   // the CPUs it ran on; empty: not pinned
  double fp32_flops = 0;  // fp32 FMA
  std::string fp32_isa;   // the vector unit it used: "avx512", "avx2", "neon" or "scalar"
  // bf16 dot products (AVX-512 BF16 vdpbf16ps); without them, the fp32 figure.
  double bf16_flops = 0;
  bool bf16_native = false;
  double int8_ops = 0;   // int8 dot products
  std::string int8_isa;  // "avx512vnni", "avx2", "neon-sdot", "neon-smlal" or "scalar"
  // Reads: a buffer far larger than any cache, and one that fits in the last-level cache.
  double dram_bytes_per_s = 0;
  double cache_bytes_per_s = 0;
  int64_t dram_buffer_bytes = 0;
  int64_t cache_buffer_bytes = 0;
};

MachinePeak MeasurePeak(int threads);

// The arithmetic peak a row at `precision` is held against: the int8 dot
// product for w8a8 and w4a8, bf16 for bf16, fp32 for everything else (fp32, and int8
// and int4, whose weights are widened to fp32 before the multiply-adds).
double PeakFlopsFor(const MachinePeak& peak, std::string_view precision);

// "peak, 2 threads: fp32 226 GFLOP/s, bf16 452, int8 903 GOP/s; DRAM 30 GB/s, L3 150 GB/s"
std::string DescribePeak(const MachinePeak& peak);

// The least work of a test's timed part: floating-point (or integer, for
// w8a8 and w4a8) operations and bytes read from memory.
struct RowWork {
  double flop = 0;
  double bytes = 0;
};

// With d = d_model, kv = kv_dim, V = vocab, L_e / L_d encoder / decoder
// layers, P(i, o) = PackedMatrixBytes(precision, i, o)
// (needle/precision.h), K/V(t) = CrossKvBytesPerToken x t:
//
// Prefill of n ids (prompt tests, and the first part of combined tests):
//   flop  = 2 x [ L_e x n x (2 d^2 + 2 d kv)      Q, K, V, O projections
//               + L_e x 2 n^2 d                   scores and values, every head
//               + L_d x n x 2 d kv ]              cross-attention K and V
//   bytes = L_e x (2 P(d,d) + 2 P(d,kv)) + L_d x 2 P(d,kv)   weights, once
//         + n x d x 4                              the ids' embedding rows
//         + fp32 norm scales
// Decode step s (0-based) after an encoder input of t ids (t = n_depth for a
// generation test, n_prompt for a combined one):
//   flop  = 2 x [ L_d x (4 d^2 + 2 d kv)          self Q, K, V, O; cross Q, O
//               + L_d x 2 d (s + 1)               self-attention over the cache
//               + L_d x 2 d t                     cross-attention
//               + d V ]                           tied output projection
//   bytes = L_d x (4 P(d,d) + 2 P(d,kv))          the decoder weights decode reads
//         + P(d, V)                               output projection
//         + L_d x K/V(t)                          cross-attention K/V (fp32, bf16 or int8)
//         + L_d x 2 (s + 1) kv x 4                self-attention K/V cache (fp32)
//         + d x 4 (embedding row) + fp32 norm scales
// The cross-attention K/V projections run once, in prefill, so decode does not
// read them. Norms, RoPE, softmax and the embedding lookup are left out of the
// operation counts (they are a few percent at most). A test's work is the sum
// of its timed parts: n_prompt > 0 times the prefill, n_gen > 0 the steps.
absl::StatusOr<RowWork> WorkOf(const ModelConfig& config, std::string_view precision, int n_prompt, int n_gen,
                               int n_depth);

// Fills work_flop, work_bytes, peak_flops and peak_bytes_per_s (DRAM) of a
// row measured with `peak`; a precision whose storage is unknown (a peer's
// own) leaves them at -1.
void FillRoofline(const ModelConfig& config, const MachinePeak& peak, Row& row);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_ROOFLINE_H_
