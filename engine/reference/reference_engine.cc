#include "reference/reference_engine.h"

#include <cmath>
#include <string>
#include <vector>

#include "model/layers.h"
#include "model/ops.h"
#include "needle/str_cat.h"
#include "needle/tensor_names.h"

namespace needle::reference {
namespace {

using model::Attention;
using model::MatMul;
using model::RetrievalHead;
using model::Rope;
using model::RoundTo;
using model::Sigmoid;
using model::ZcRmsNorm;

// fp32 copies of the projections, (in, out) as upstream stores them.
using AttentionWeights = model::AttentionWeights<std::vector<float>>;
using EncoderLayer = model::EncoderLayer<std::vector<float>>;
using DecoderLayer = model::DecoderLayer<std::vector<float>>;

// A parameter widened to fp32; upstream numerics first round it to bf16, as
// upstream casts the loaded parameters.
std::vector<float> Parameter(const TensorView& tensor, Numerics numerics) {
  std::vector<float> values = tensor.ToF32();
  RoundTo(numerics, absl::MakeSpan(values));
  return values;
}

class ReferenceEngine;

class ReferenceSession : public Session {
 public:
  explicit ReferenceSession(const ReferenceEngine& engine) : engine_(engine) {}

  absl::Status Prefill(absl::Span<const int32_t> encoder_tokens) override;
  absl::StatusOr<absl::Span<const float>> Decode(int32_t token) override;
  absl::Span<const float> encoder_output() const override { return encoder_out_; }
  int num_encoder_tokens() const override { return static_cast<int>(key_visible_.size()); }
  int num_decoded_tokens() const override { return decoded_; }

 private:
  // Per decoder layer: self-attention K/V of the positions fed so far, and the
  // cross-attention K/V of the encoder output (computed once per request).
  struct LayerCache {
    std::vector<float> self_k, self_v, cross_k, cross_v;
  };

  const ReferenceEngine& engine_;
  std::vector<float> encoder_out_;
  std::vector<bool> key_visible_;  // encoder positions that are not padding
  std::vector<LayerCache> caches_;
  std::vector<float> logits_;
  int decoded_ = 0;
};

class ReferenceEngine : public Engine {
 public:
  ReferenceEngine(std::shared_ptr<const ModelWeights> weights, Numerics numerics)
      : weights_(std::move(weights)), numerics_(numerics) {
    const ModelWeights& w = *weights_;
    const Numerics n = numerics_;
    config_ = w.config();
    embedding_ = Parameter(w.Get(Tensors().embedding), n);
    auto vector = [&](const std::string& name, int layer) { return Parameter(model::LayerOf(w.Get(name), layer), n); };
    auto matrix = [&](const std::string& name, int layer) -> absl::StatusOr<std::vector<float>> {
      return vector(name, layer);
    };
    // Widening to fp32 cannot fail: the loader's status is always ok here.
    layers_ = *model::LoadLayerStacks<std::vector<float>>(config_, matrix, vector);
    retrieval_ = RetrievalHead::Load(w, n);
  }

  std::string_view name() const override { return "reference"; }
  const ModelConfig& config() const override { return config_; }
  std::unique_ptr<Session> NewSession() const override { return std::make_unique<ReferenceSession>(*this); }
  EngineInfo info() const override {
    // fp32 copies of every projection and the embedding (which is also the tied output projection).
    size_t floats = embedding_.size();
    auto add = [&](const AttentionWeights& w) {
      for (const std::vector<float>* m : {&w.q_proj, &w.k_proj, &w.v_proj, &w.out_proj}) floats += m->size();
    };
    for (const EncoderLayer& layer : layers_.encoder) add(layer.self_attn);
    for (const DecoderLayer& layer : layers_.decoder) add(layer.self_attn), add(layer.cross_attn);
    return {"", Precision::kF32, static_cast<int64_t>(floats * sizeof(float)),
            config_.num_decoder_layers * CrossKvBytesPerToken(Precision::kF32, config_)};
  }

  absl::StatusOr<std::vector<float>> RetrievalEmbedding(absl::Span<const int32_t> tokens) const override {
    ReferenceSession session(*this);
    if (absl::Status status = session.Prefill(tokens); !status.ok()) return status;
    return retrieval_.Embed(session.encoder_output().data(), tokens, config_.d_model, numerics_);
  }

  // x = embedding[token] * sqrt(d_model), the input scaling of both stacks
  // (upstream: a bf16 product by sqrt(d_model) rounded to bf16).
  void Embed(int32_t token, float* x) const {
    const int d = config_.d_model;
    const float sqrt_d = std::sqrt(static_cast<float>(d));
    const float scale = numerics_ == Numerics::kUpstream ? RoundToBf16(sqrt_d) : sqrt_d;
    for (int i = 0; i < d; ++i) x[i] = embedding_[static_cast<size_t>(token) * d + i] * scale;
    Round(x, d);
  }

  // Rounds activations to bf16 where upstream keeps them in bf16.
  void Round(float* values, size_t count) const { RoundTo(numerics_, absl::MakeSpan(values, count)); }

  // A norm of the residual stream (or of a head vector).
  void Norm(const float* x, const std::vector<float>& scale, int n, float* y) const {
    ZcRmsNorm(x, scale.data(), n, y, numerics_);
  }

  // y = x @ w; a dense output, bf16 in upstream.
  void Dense(const float* x, int rows, int in, const std::vector<float>& w, int out, float* y) const {
    MatMul(x, rows, in, w.data(), out, y);
    Round(y, static_cast<size_t>(rows) * out);
  }

  // Projects rows of `x` to query heads: q = x Wq, q_norm per head, RoPE at
  // positions first_position.. when `rope`.
  void Queries(const AttentionWeights& w, const float* x, int rows, int first_position, bool rope, float* q) const {
    const int d = config_.d_model;
    Dense(x, rows, d, w.q_proj, d, q);
    NormAndRope(w.q_norm, q, rows, config_.num_heads, first_position, rope);
  }

  // Projects rows of `x` to key and value heads (k_norm and RoPE on keys only).
  void KeysValues(const AttentionWeights& w, const float* x, int rows, int first_position, bool rope, float* k,
                  float* v) const {
    const int d = config_.d_model, kv = config_.kv_dim();
    Dense(x, rows, d, w.k_proj, kv, k);
    Dense(x, rows, d, w.v_proj, kv, v);
    NormAndRope(w.k_norm, k, rows, config_.num_kv_heads, first_position, rope);
  }

  void NormAndRope(const std::vector<float>& scale, float* heads, int rows, int num_heads, int first_position,
                   bool rope) const {
    const int hd = config_.head_dim();
    for (int r = 0; r < rows; ++r) {
      for (int h = 0; h < num_heads; ++h) {
        float* head = heads + (r * num_heads + h) * hd;
        Norm(head, scale, hd, head);
        if (rope) {
          Rope(head, hd, first_position + r, config_.rope_theta);  // fp32 in upstream too
          Round(head, hd);
        }
      }
    }
  }

  // x += sigmoid(gate) * (attention_out @ Wo), the gated residual (upstream:
  // the gate, the product and the sum each rounded to bf16).
  void GatedResidual(const AttentionWeights& w, float gate, const float* attention_out, int rows, float* x) const {
    const int d = config_.d_model;
    std::vector<float> projected(static_cast<size_t>(rows) * d);
    Dense(attention_out, rows, d, w.out_proj, d, projected.data());
    float g = Sigmoid(gate);
    Round(&g, 1);
    for (float& value : projected) value *= g;
    Round(projected.data(), projected.size());
    for (size_t i = 0; i < projected.size(); ++i) x[i] += projected[i];
    Round(x, projected.size());
  }

  void Attend(const float* q, int tq, const float* k, const float* v, int tk, const std::vector<bool>& visible,
              float* out) const {
    Attention(q, tq, k, v, tk, config_.num_heads, config_.num_kv_heads, config_.head_dim(), visible, out, numerics_);
  }

  std::shared_ptr<const ModelWeights> weights_;
  Numerics numerics_;
  ModelConfig config_;
  std::vector<float> embedding_;
  model::LayerStacks<std::vector<float>> layers_;
  RetrievalHead retrieval_;
};

absl::Status ReferenceSession::Prefill(absl::Span<const int32_t> tokens) {
  const ModelConfig& c = engine_.config();
  if (absl::Status status = ValidateTokens(tokens, c.vocab_size, kMaxEncoderTokens, "encoder input"); !status.ok()) {
    return status;
  }
  const int t = static_cast<int>(tokens.size()), d = c.d_model, kv = c.kv_dim();
  key_visible_.assign(t, true);
  for (int i = 0; i < t; ++i) key_visible_[i] = tokens[i] != 0;

  std::vector<float> x(static_cast<size_t>(t) * d), h(x.size()), q(x.size()), attended(x.size());
  std::vector<float> k(static_cast<size_t>(t) * kv), v(k.size());
  for (int i = 0; i < t; ++i) engine_.Embed(tokens[i], &x[i * d]);
  for (const EncoderLayer& layer : engine_.layers_.encoder) {
    for (int i = 0; i < t; ++i) engine_.Norm(&x[i * d], layer.norm, d, &h[i * d]);
    engine_.Queries(layer.self_attn, h.data(), t, 0, /*rope=*/true, q.data());
    engine_.KeysValues(layer.self_attn, h.data(), t, 0, /*rope=*/true, k.data(), v.data());
    engine_.Attend(q.data(), t, k.data(), v.data(), t, key_visible_, attended.data());
    engine_.GatedResidual(layer.self_attn, layer.attn_gate, attended.data(), t, x.data());
  }
  encoder_out_.resize(x.size());
  for (int i = 0; i < t; ++i) engine_.Norm(&x[i * d], engine_.layers_.encoder_final_norm, d, &encoder_out_[i * d]);

  caches_.assign(engine_.layers_.decoder.size(), {});
  for (size_t l = 0; l < engine_.layers_.decoder.size(); ++l) {
    LayerCache& cache = caches_[l];
    cache.cross_k.resize(k.size());
    cache.cross_v.resize(v.size());
    engine_.KeysValues(engine_.layers_.decoder[l].cross_attn, encoder_out_.data(), t, 0, /*rope=*/false,
                       cache.cross_k.data(), cache.cross_v.data());
  }
  decoded_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const float>> ReferenceSession::Decode(int32_t token) {
  const ModelConfig& c = engine_.config();
  if (encoder_out_.empty()) return absl::FailedPreconditionError("Decode called before Prefill");
  if (decoded_ >= kMaxGeneratedTokens + 1) {
    return absl::OutOfRangeError(StrCat("decoder input is limited to ", kMaxGeneratedTokens + 1, " tokens"));
  }
  if (absl::Status status = ValidateTokens({&token, 1}, c.vocab_size, 1, "decoder token"); !status.ok()) {
    return status;
  }
  const int d = c.d_model, kv = c.kv_dim(), position = decoded_;
  const int encoder_tokens = num_encoder_tokens();
  std::vector<float> x(d), h(d), q(d), attended(d), k(kv), v(kv);
  const std::vector<bool> all_visible(position + 1, true);  // causal: every cached position precedes this one
  engine_.Embed(token, x.data());
  for (size_t l = 0; l < engine_.layers_.decoder.size(); ++l) {
    const DecoderLayer& layer = engine_.layers_.decoder[l];
    LayerCache& cache = caches_[l];

    engine_.Norm(x.data(), layer.self_attn_norm, d, h.data());
    engine_.Queries(layer.self_attn, h.data(), 1, position, /*rope=*/true, q.data());
    engine_.KeysValues(layer.self_attn, h.data(), 1, position, /*rope=*/true, k.data(), v.data());
    cache.self_k.insert(cache.self_k.end(), k.begin(), k.end());
    cache.self_v.insert(cache.self_v.end(), v.begin(), v.end());
    engine_.Attend(q.data(), 1, cache.self_k.data(), cache.self_v.data(), position + 1, all_visible, attended.data());
    engine_.GatedResidual(layer.self_attn, layer.self_attn_gate, attended.data(), 1, x.data());

    engine_.Norm(x.data(), layer.cross_attn_norm, d, h.data());
    engine_.Queries(layer.cross_attn, h.data(), 1, 0, /*rope=*/false, q.data());
    engine_.Attend(q.data(), 1, cache.cross_k.data(), cache.cross_v.data(), encoder_tokens, key_visible_,
                   attended.data());
    engine_.GatedResidual(layer.cross_attn, layer.cross_attn_gate, attended.data(), 1, x.data());
  }
  engine_.Norm(x.data(), engine_.layers_.decoder_final_norm, d, h.data());
  // Tied output head: logits = h @ embedding^T, fp32 in upstream too.
  logits_.resize(c.vocab_size);
  for (int token_id = 0; token_id < c.vocab_size; ++token_id) {
    const float* row = &engine_.embedding_[static_cast<size_t>(token_id) * d];
    double sum = 0.0;
    for (int i = 0; i < d; ++i) sum += static_cast<double>(h[i]) * row[i];
    logits_[token_id] = static_cast<float>(sum);
  }
  ++decoded_;
  return absl::Span<const float>(logits_);
}

}  // namespace

std::unique_ptr<Engine> CreateReferenceEngine(std::shared_ptr<const ModelWeights> weights, Numerics numerics) {
  return std::make_unique<ReferenceEngine>(std::move(weights), numerics);
}

}  // namespace needle::reference
