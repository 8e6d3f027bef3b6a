// Every tensor name of a Needle checkpoint (upstream's parameter paths), in
// one registry: the expected-tensor list (ExpectedTensors, config.h) and both
// engines' loaders take the names from here.
#ifndef NEEDLE_TENSOR_NAMES_H_
#define NEEDLE_TENSOR_NAMES_H_

#include <string>

namespace needle {

// One attention sublayer's tensors, each stacked over the layers on its leading axis.
struct AttentionTensorNames {
  std::string q_proj, k_proj, v_proj, out_proj;  // kernels, (layers, in, out)
  std::string q_norm, k_norm;                    // per-head ZCRMSNorm scales, (layers, head_dim)
};

struct TensorNames {
  std::string embedding;  // (vocab, d_model); also the tied output projection
  // Encoder blocks, stacked over the layers.
  std::string encoder_attn_gate, encoder_norm;
  AttentionTensorNames encoder_self_attn;
  std::string encoder_final_norm;
  // Decoder blocks, stacked over the layers; norm 0 precedes self-attention, norm 1 cross-attention.
  std::string decoder_self_attn_gate, decoder_cross_attn_gate, decoder_self_attn_norm, decoder_cross_attn_norm;
  AttentionTensorNames decoder_self_attn, decoder_cross_attn;
  std::string decoder_final_norm;
  // Retrieval head.
  std::string retrieval_hidden_kernel, retrieval_hidden_bias, retrieval_proj_kernel, log_temp;
};

const TensorNames& Tensors();

}  // namespace needle

#endif  // NEEDLE_TENSOR_NAMES_H_
