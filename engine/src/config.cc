#include "needle/config.h"

#include <cmath>

#include "needle/json.h"
#include "needle/str_cat.h"
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

std::vector<TensorSpec> ExpectedTensors(const ModelConfig& c) {
  const int64_t d = c.d_model, kv = c.kv_dim(), hd = c.head_dim(), r = c.retrieval_dim();
  std::vector<TensorSpec> specs = {{"embedding/embedding", {c.vocab_size, d}}};
  auto add_attention = [&](const std::string& prefix, int64_t layers) {
    specs.push_back({prefix + "/q_proj/kernel", {layers, d, d}});
    specs.push_back({prefix + "/k_proj/kernel", {layers, d, kv}});
    specs.push_back({prefix + "/v_proj/kernel", {layers, d, kv}});
    specs.push_back({prefix + "/out_proj/kernel", {layers, d, d}});
    specs.push_back({prefix + "/q_norm/scale", {layers, hd}});
    specs.push_back({prefix + "/k_norm/scale", {layers, hd}});
  };
  const std::string enc = "encoder/layers/EncoderBlock_0";
  const int64_t le = c.num_encoder_layers;
  specs.push_back({enc + "/attn_gate", {le}});
  specs.push_back({enc + "/ZCRMSNorm_0/scale", {le, d}});
  add_attention(enc + "/self_attn", le);
  specs.push_back({"encoder/final_norm/scale", {d}});

  const std::string dec = "decoder/layers/DecoderBlock_0";
  const int64_t ld = c.num_decoder_layers;
  specs.push_back({dec + "/self_attn_gate", {ld}});
  specs.push_back({dec + "/cross_attn_gate", {ld}});
  specs.push_back({dec + "/ZCRMSNorm_0/scale", {ld, d}});
  specs.push_back({dec + "/ZCRMSNorm_1/scale", {ld, d}});
  add_attention(dec + "/self_attn", ld);
  add_attention(dec + "/cross_attn", ld);
  specs.push_back({"decoder/ZCRMSNorm_0/scale", {d}});

  specs.push_back({"contrastive_hidden/kernel", {d, r}});
  specs.push_back({"contrastive_hidden/bias", {r}});
  specs.push_back({"contrastive_proj/kernel", {r, r}});
  specs.push_back({"log_temp", {}});
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
