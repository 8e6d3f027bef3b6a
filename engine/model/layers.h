// The parameters of Needle's two layer stacks as an engine holds them,
// declared once for both engines. `Matrix` is an engine's form of a projection
// kernel: fp32 (in, out) in the reference, packed panels in the optimized
// engine. Norm scales are fp32 vectors; a gate is the checkpoint's logit, and
// its residual is scaled by Sigmoid(gate) (ops.h).
//
// LoadLayerStacks reads every layer by its registry name (tensor_names.h), so
// the two engines' loaders differ only in how they make a matrix and a vector.
#ifndef NEEDLE_MODEL_LAYERS_H_
#define NEEDLE_MODEL_LAYERS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/config.h"
#include "needle/safetensors.h"
#include "needle/tensor_names.h"

namespace needle::model {

template <typename Matrix>
struct AttentionWeights {
  Matrix q_proj, k_proj, v_proj, out_proj;
  std::vector<float> q_norm, k_norm;  // per-head ZCRMSNorm scales, (head_dim,)
};

template <typename Matrix>
struct EncoderLayer {
  float attn_gate;
  std::vector<float> norm;
  AttentionWeights<Matrix> self_attn;
};

template <typename Matrix>
struct DecoderLayer {
  float self_attn_gate, cross_attn_gate;
  std::vector<float> self_attn_norm, cross_attn_norm;
  AttentionWeights<Matrix> self_attn, cross_attn;
};

template <typename Matrix>
struct LayerStacks {
  std::vector<EncoderLayer<Matrix>> encoder;
  std::vector<float> encoder_final_norm;
  std::vector<DecoderLayer<Matrix>> decoder;
  std::vector<float> decoder_final_norm;
};

// The `layer` argument that asks for a whole tensor that is not stacked (the final norms).
inline constexpr int kUnstacked = -1;

// Layer `layer` of a tensor stacked on its leading axis; for kUnstacked, the tensor itself.
inline TensorView LayerOf(const TensorView& full, int layer) {
  if (layer == kUnstacked) return full;
  TensorView slice = full;
  slice.shape.erase(slice.shape.begin());
  slice.num_bytes = slice.num_elements() * DTypeSize(full.dtype);
  slice.data = full.data + layer * slice.num_bytes;
  return slice;
}

// `matrix(name, layer)` returns absl::StatusOr<Matrix>, layer `layer` of a
// stacked kernel; `vector(name, layer)` returns std::vector<float>, layer
// `layer` of a stacked tensor or, for kUnstacked, the whole tensor.
template <typename Matrix, typename MatrixFn, typename VectorFn>
absl::StatusOr<LayerStacks<Matrix>> LoadLayerStacks(const ModelConfig& config, MatrixFn matrix, VectorFn vector) {
  const TensorNames& names = Tensors();
  auto attention = [&](const AttentionTensorNames& n, int layer) -> absl::StatusOr<AttentionWeights<Matrix>> {
    absl::StatusOr<Matrix> q = matrix(n.q_proj, layer);
    if (!q.ok()) return q.status();
    absl::StatusOr<Matrix> k = matrix(n.k_proj, layer);
    if (!k.ok()) return k.status();
    absl::StatusOr<Matrix> v = matrix(n.v_proj, layer);
    if (!v.ok()) return v.status();
    absl::StatusOr<Matrix> o = matrix(n.out_proj, layer);
    if (!o.ok()) return o.status();
    return AttentionWeights<Matrix>{*std::move(q), *std::move(k),           *std::move(v),
                                    *std::move(o), vector(n.q_norm, layer), vector(n.k_norm, layer)};
  };
  LayerStacks<Matrix> stacks;
  for (int l = 0; l < config.num_encoder_layers; ++l) {
    absl::StatusOr<AttentionWeights<Matrix>> self_attn = attention(names.encoder_self_attn, l);
    if (!self_attn.ok()) return self_attn.status();
    stacks.encoder.push_back(
        {vector(names.encoder_attn_gate, l)[0], vector(names.encoder_norm, l), *std::move(self_attn)});
  }
  stacks.encoder_final_norm = vector(names.encoder_final_norm, kUnstacked);
  for (int l = 0; l < config.num_decoder_layers; ++l) {
    absl::StatusOr<AttentionWeights<Matrix>> self_attn = attention(names.decoder_self_attn, l);
    if (!self_attn.ok()) return self_attn.status();
    absl::StatusOr<AttentionWeights<Matrix>> cross_attn = attention(names.decoder_cross_attn, l);
    if (!cross_attn.ok()) return cross_attn.status();
    stacks.decoder.push_back({vector(names.decoder_self_attn_gate, l)[0], vector(names.decoder_cross_attn_gate, l)[0],
                              vector(names.decoder_self_attn_norm, l), vector(names.decoder_cross_attn_norm, l),
                              *std::move(self_attn), *std::move(cross_attn)});
  }
  stacks.decoder_final_norm = vector(names.decoder_final_norm, kUnstacked);
  return stacks;
}

}  // namespace needle::model

#endif  // NEEDLE_MODEL_LAYERS_H_
