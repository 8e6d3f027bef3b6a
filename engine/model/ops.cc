#include "model/ops.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

#include "needle/tensor_names.h"

namespace needle::model {

void RoundTo(Numerics numerics, absl::Span<float> values) {
  if (numerics != Numerics::kUpstream) return;
  for (float& value : values) value = RoundToBf16(value);
}

void MatMul(const float* x, int rows, int in, const float* w, int out, float* y) {
  // Loop order r, i, o walks `w` row by row (it is stored (in, out)); each
  // y[r, o] still sums its products in order i = 0..in-1.
  std::vector<double> sums(out);
  for (int r = 0; r < rows; ++r) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int i = 0; i < in; ++i) {
      const double xi = x[static_cast<size_t>(r) * in + i];
      const float* wi = w + static_cast<size_t>(i) * out;
      for (int o = 0; o < out; ++o) sums[o] += xi * wi[o];
    }
    for (int o = 0; o < out; ++o) y[static_cast<size_t>(r) * out + o] = static_cast<float>(sums[o]);
  }
}

void ZcRmsNorm(const float* x, const float* scale, int n, float* y, Numerics numerics) {
  double sum_squares = 0.0;
  for (int i = 0; i < n; ++i) sum_squares += static_cast<double>(x[i]) * x[i];
  const double inv_rms = 1.0 / std::sqrt(sum_squares / n + 1e-6);
  if (numerics == Numerics::kUpstream) {
    // Upstream normalises in fp32, casts back to bf16, then multiplies by
    // (1 + scale), which bf16 arithmetic has already rounded.
    for (int i = 0; i < n; ++i) {
      const float normalised = RoundToBf16(static_cast<float>(x[i] * inv_rms));
      y[i] = RoundToBf16(normalised * RoundToBf16(1.0f + scale[i]));
    }
    return;
  }
  for (int i = 0; i < n; ++i) y[i] = static_cast<float>((1.0 + scale[i]) * x[i] * inv_rms);
}

void Rope(float* x, int head_dim, int position, double theta) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double angle = position * std::pow(theta, -2.0 * i / head_dim);
    const float c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    const float x1 = x[i], x2 = x[i + half];
    x[i] = x1 * c - x2 * s;
    x[i + half] = x2 * c + x1 * s;
  }
}

void Softmax(float* x, int n) {
  float max = x[0];
  for (int i = 1; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] / sum);
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

void Attention(const float* q, int tq, const float* k, const float* v, int tk, int heads, int kv_heads, int head_dim,
               const std::vector<bool>& key_visible, float* out, Numerics numerics) {
  const int group = heads / kv_heads;
  const int q_stride = heads * head_dim, kv_stride = kv_heads * head_dim;
  const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::vector<float> scores(tk);
  std::vector<double> mixed(head_dim);
  for (int t = 0; t < tq; ++t) {
    for (int h = 0; h < heads; ++h) {
      const int kv_head = h / group;
      const float* qh = q + t * q_stride + h * head_dim;
      for (int j = 0; j < tk; ++j) {
        if (!key_visible[j]) {
          scores[j] = std::numeric_limits<float>::lowest();
          continue;
        }
        const float* kj = k + j * kv_stride + kv_head * head_dim;
        double dot = 0.0;
        for (int i = 0; i < head_dim; ++i) dot += static_cast<double>(qh[i]) * kj[i];
        scores[j] = numerics == Numerics::kUpstream ? RoundToBf16(RoundToBf16(static_cast<float>(dot)) * inv_sqrt)
                                                    : static_cast<float>(dot * inv_sqrt);
      }
      Softmax(scores.data(), tk);
      RoundTo(numerics, absl::MakeSpan(scores));
      std::fill(mixed.begin(), mixed.end(), 0.0);
      for (int j = 0; j < tk; ++j) {
        const float* vj = v + j * kv_stride + kv_head * head_dim;
        for (int i = 0; i < head_dim; ++i) mixed[i] += static_cast<double>(scores[j]) * vj[i];
      }
      float* oh = out + t * q_stride + h * head_dim;
      for (int i = 0; i < head_dim; ++i) oh[i] = static_cast<float>(mixed[i]);
      RoundTo(numerics, absl::MakeSpan(oh, head_dim));
    }
  }
}

RetrievalHead RetrievalHead::Load(const ModelWeights& weights, Numerics numerics) {
  const TensorNames& names = Tensors();
  RetrievalHead head{weights.Get(names.retrieval_hidden_kernel).ToF32(),
                     weights.Get(names.retrieval_hidden_bias).ToF32(),
                     weights.Get(names.retrieval_proj_kernel).ToF32()};
  for (std::vector<float>* values : {&head.hidden_kernel, &head.hidden_bias, &head.proj_kernel}) {
    RoundTo(numerics, absl::MakeSpan(*values));
  }
  return head;
}

std::vector<float> RetrievalHead::Embed(const float* encoder_output, absl::Span<const int32_t> tokens, int d,
                                        Numerics numerics) const {
  const int r = static_cast<int>(hidden_bias.size());
  std::vector<double> sums(d, 0.0);
  int count = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] == 0) continue;  // PAD
    for (int i = 0; i < d; ++i) sums[i] += encoder_output[t * d + i];
    ++count;
  }
  std::vector<float> pooled(d);
  for (int i = 0; i < d; ++i) pooled[i] = static_cast<float>(sums[i] / std::max(count, 1));
  RoundTo(numerics, absl::MakeSpan(pooled));
  std::vector<float> hidden(r), embedding(r);
  MatMul(pooled.data(), 1, d, hidden_kernel.data(), r, hidden.data());
  RoundTo(numerics, absl::MakeSpan(hidden));  // the product, then its sum with the bias
  for (int i = 0; i < r; ++i) hidden[i] = std::max(0.0f, hidden[i] + hidden_bias[i]);
  RoundTo(numerics, absl::MakeSpan(hidden));
  MatMul(hidden.data(), 1, r, proj_kernel.data(), r, embedding.data());
  RoundTo(numerics, absl::MakeSpan(embedding));
  double sum_squares = 0.0;
  for (float x : embedding) sum_squares += static_cast<double>(x) * x;
  const float inv_norm = static_cast<float>(1.0 / std::sqrt(sum_squares + 1e-12));
  for (float& x : embedding) x *= inv_norm;
  return embedding;
}

}  // namespace needle::model
