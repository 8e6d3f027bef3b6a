#include "needle/config.h"

#include <cmath>

#include "needle/json.h"
#include "needle/str_cat.h"
#include "needle/tensor_names.h"
#include "nlohmann/json.hpp"

namespace needle {
namespace {

using Json = nlohmann::ordered_json;

absl::Status RequireInt(const Json& json, const char* key, int& out) {
  auto it = json.find(key);
  if (it == json.end()) return absl::InvalidArgumentError(StrCat("needle_config: missing key \"", key, "\""));
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(StrCat("needle_config.", key, ": expected an integer, got ", it->dump()));
  }
  const int64_t value = it->get<int64_t>();
  if (value <= 0 || value > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(StrCat("needle_config.", key, ": ", value, " is out of range"));
  }
  out = static_cast<int>(value);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromJson(std::string_view text) {
  absl::StatusOr<Json> parsed = ParseJson<Json>(text);
  if (!parsed.ok())
    return absl::InvalidArgumentError(
        StrCat("needle_config: not valid JSON: ", std::string(parsed.status().message())));
  Json json = *std::move(parsed);
  if (!json.is_object()) return absl::InvalidArgumentError("needle_config: not a JSON object");
  ModelConfig config;
  for (auto [key, field] : {std::pair{"vocab_size", &config.vocab_size},
                            {"d_model", &config.d_model},
                            {"num_heads", &config.num_heads},
                            {"num_kv_heads", &config.num_kv_heads},
                            {"num_encoder_layers", &config.num_encoder_layers},
                            {"num_decoder_layers", &config.num_decoder_layers}}) {
    if (absl::Status status = RequireInt(json, key, *field); !status.ok()) return status;
  }
  auto theta = json.find("rope_theta");
  if (theta == json.end() || !theta->is_number() || !(theta->get<double>() > 1.0) ||
      !std::isfinite(theta->get<double>())) {
    return absl::InvalidArgumentError("needle_config.rope_theta: expected a finite number > 1");
  }
  config.rope_theta = theta->get<double>();
  if (absl::Status status = config.Validate(); !status.ok()) return status;
  return config;
}

std::string ModelConfig::ToJson() const {
  Json json = {{"vocab_size", vocab_size},
               {"d_model", d_model},
               {"num_heads", num_heads},
               {"num_kv_heads", num_kv_heads},
               {"num_encoder_layers", num_encoder_layers},
               {"num_decoder_layers", num_decoder_layers},
               {"rope_theta", rope_theta}};
  return json.dump();
}

absl::Status ModelConfig::Validate() const {
  if (d_model % num_heads != 0) {
    return absl::InvalidArgumentError(
        StrCat("needle_config: d_model ", d_model, " is not divisible by num_heads ", num_heads));
  }
  if (num_heads % num_kv_heads != 0) {
    return absl::InvalidArgumentError(
        StrCat("needle_config: num_heads ", num_heads, " is not a multiple of num_kv_heads ", num_kv_heads));
  }
  if (head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(StrCat("needle_config: head_dim ", head_dim(), " must be even for RoPE"));
  }
  if (d_model % 4 != 0) {
    return absl::InvalidArgumentError(
        StrCat("needle_config: d_model ", d_model, " must be divisible by 4 (retrieval head)"));
  }
  if (vocab_size < 6) {
    return absl::InvalidArgumentError("needle_config: vocab_size must cover the 6 special ids");
  }
  return absl::OkStatus();
}

std::string ShapeString(const std::vector<int64_t>& shape) { return fmt::format("({})", fmt::join(shape, ", ")); }

int64_t TensorSpec::num_elements() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

const TensorNames& Tensors() {
  static const TensorNames names = [] {
    auto attention = [](const std::string& prefix) {
      return AttentionTensorNames{prefix + "/q_proj/kernel",   prefix + "/k_proj/kernel", prefix + "/v_proj/kernel",
                                  prefix + "/out_proj/kernel", prefix + "/q_norm/scale",  prefix + "/k_norm/scale"};
    };
    const std::string enc = "encoder/layers/EncoderBlock_0", dec = "decoder/layers/DecoderBlock_0";
    TensorNames n;
    n.embedding = "embedding/embedding";
    n.encoder_attn_gate = enc + "/attn_gate";
    n.encoder_norm = enc + "/ZCRMSNorm_0/scale";
    n.encoder_self_attn = attention(enc + "/self_attn");
    n.encoder_final_norm = "encoder/final_norm/scale";
    n.decoder_self_attn_gate = dec + "/self_attn_gate";
    n.decoder_cross_attn_gate = dec + "/cross_attn_gate";
    n.decoder_self_attn_norm = dec + "/ZCRMSNorm_0/scale";
    n.decoder_cross_attn_norm = dec + "/ZCRMSNorm_1/scale";
    n.decoder_self_attn = attention(dec + "/self_attn");
    n.decoder_cross_attn = attention(dec + "/cross_attn");
    n.decoder_final_norm = "decoder/ZCRMSNorm_0/scale";
    n.retrieval_hidden_kernel = "contrastive_hidden/kernel";
    n.retrieval_hidden_bias = "contrastive_hidden/bias";
    n.retrieval_proj_kernel = "contrastive_proj/kernel";
    n.log_temp = "log_temp";
    return n;
  }();
  return names;
}

std::vector<TensorSpec> ExpectedTensors(const ModelConfig& c) {
  const TensorNames& n = Tensors();
  const int64_t d = c.d_model, kv = c.kv_dim(), hd = c.head_dim(), r = c.retrieval_dim();
  std::vector<TensorSpec> specs = {{n.embedding, {c.vocab_size, d}}};
  auto add_attention = [&](const AttentionTensorNames& names, int64_t layers) {
    specs.push_back({names.q_proj, {layers, d, d}});
    specs.push_back({names.k_proj, {layers, d, kv}});
    specs.push_back({names.v_proj, {layers, d, kv}});
    specs.push_back({names.out_proj, {layers, d, d}});
    specs.push_back({names.q_norm, {layers, hd}});
    specs.push_back({names.k_norm, {layers, hd}});
  };
  const int64_t le = c.num_encoder_layers;
  specs.push_back({n.encoder_attn_gate, {le}});
  specs.push_back({n.encoder_norm, {le, d}});
  add_attention(n.encoder_self_attn, le);
  specs.push_back({n.encoder_final_norm, {d}});

  const int64_t ld = c.num_decoder_layers;
  specs.push_back({n.decoder_self_attn_gate, {ld}});
  specs.push_back({n.decoder_cross_attn_gate, {ld}});
  specs.push_back({n.decoder_self_attn_norm, {ld, d}});
  specs.push_back({n.decoder_cross_attn_norm, {ld, d}});
  add_attention(n.decoder_self_attn, ld);
  add_attention(n.decoder_cross_attn, ld);
  specs.push_back({n.decoder_final_norm, {d}});

  specs.push_back({n.retrieval_hidden_kernel, {d, r}});
  specs.push_back({n.retrieval_hidden_bias, {r}});
  specs.push_back({n.retrieval_proj_kernel, {r, r}});
  specs.push_back({n.log_temp, {}});
  return specs;
}

ParameterCounts CountParameters(const ModelConfig& config) {
  ParameterCounts counts;
  for (const TensorSpec& spec : ExpectedTensors(config)) {
    const std::string& n = spec.name;
    int64_t* part = n.rfind("embedding", 0) == 0 ? &counts.embedding
                    : n.rfind("encoder", 0) == 0 ? &counts.encoder
                    : n.rfind("decoder", 0) == 0 ? &counts.decoder
                                                 : &counts.retrieval;
    *part += spec.num_elements();
  }
  return counts;
}

}  // namespace needle
