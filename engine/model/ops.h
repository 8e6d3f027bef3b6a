// Scalar fp32 building blocks of the Needle network, one function per
// operation of the model description. Deliberately plain loops: the reference
// engine is composed of them, the optimized engine's kernels are tested
// against them, and both engines use the cheap ones (the gates' sigmoid, the
// retrieval head) as they are.
//
// Values between operations are fp32; every sum (dot products, norms,
// softmax) accumulates in double, so that the reference sits as close to the
// exact result as fp32 storage allows and rounding in a sharp or deep network
// is not mistaken for an engine bug. Under Numerics::kUpstream the operations
// that upstream runs in bfloat16 round their results to it (the cast points
// are listed in docs/engine.md); the sums stay wide, as XLA's are in fp32.
#ifndef NEEDLE_MODEL_OPS_H_
#define NEEDLE_MODEL_OPS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "model/bf16.h"
#include "needle/engine.h"
#include "needle/weights.h"

namespace needle::model {

// Rounds `values` to bfloat16 in place under kUpstream; leaves them under kExact.
void RoundTo(Numerics numerics, absl::Span<float> values);

// y[r, o] = sum_i x[r, i] * w[i, o]; `w` is (in, out) as upstream stores kernels.
void MatMul(const float* x, int rows, int in, const float* w, int out, float* y);

// Zero-centred RMSNorm: y = (1 + scale) * x / sqrt(mean(x^2) + 1e-6).
// kUpstream: y = bf16(bf16(x / rms) * bf16(1 + scale)), the rms in fp32.
void ZcRmsNorm(const float* x, const float* scale, int n, float* y, Numerics numerics = Numerics::kExact);

// Rotate-half RoPE of one head vector in place: with x1 = x[:h/2], x2 = x[h/2:],
// x <- concat(x1*cos - x2*sin, x2*cos + x1*sin), angle_i = position * theta^(-2i/h).
void Rope(float* x, int head_dim, int position, double theta);

void Softmax(float* x, int n);

float Sigmoid(float x);

// Grouped-query attention of `tq` query rows against `tk` key/value rows.
// q: (tq, heads*head_dim); k, v: (tk, kv_heads*head_dim); out: (tq, heads*head_dim).
// KV head j serves query heads j*group .. j*group+group-1 (group = heads/kv_heads).
// `key_visible[j] == false` masks key j for every query (padding); causal
// masking is not needed here because the decoder feeds one position at a time.
// kUpstream: scores = bf16(bf16(q.k) / sqrt(head_dim)), softmax in fp32,
// probabilities rounded to bf16, out = bf16(probabilities . v).
void Attention(const float* q, int tq, const float* k, const float* v, int tk, int heads, int kv_heads, int head_dim,
               const std::vector<bool>& key_visible, float* out, Numerics numerics = Numerics::kExact);

// The retrieval head, shared by every engine (it is ~80k MACs per request):
// mean-pool the encoder output over non-padding positions -> Dense(+bias) ->
// ReLU -> Dense -> L2-normalise.
struct RetrievalHead {
  std::vector<float> hidden_kernel, hidden_bias, proj_kernel;

  // kUpstream rounds the weights to bfloat16.
  static RetrievalHead Load(const ModelWeights& weights, Numerics numerics = Numerics::kExact);
  // encoder_output: (tokens.size(), d) rows for `tokens`. kUpstream rounds the
  // pooled vector and both Dense outputs to bf16; the L2 norm is fp32.
  std::vector<float> Embed(const float* encoder_output, absl::Span<const int32_t> tokens, int d,
                           Numerics numerics = Numerics::kExact) const;
};

}  // namespace needle::model

#endif  // NEEDLE_MODEL_OPS_H_
