#include "optimized/optimized_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "needle/str_cat.h"
#include "optimized/attention.h"
#include "optimized/matmul.h"
#include "optimized/thread_pool.h"
#include "reference/ops.h"

namespace needle::optimized {
namespace {

struct AttentionWeights {
  PackedMatrix q_proj, k_proj, v_proj, out_proj;
  std::vector<float> q_norm, k_norm;
};

struct EncoderLayer {
  float gate;  // sigmoid(attn_gate), applied once per residual
  std::vector<float> norm;
  AttentionWeights self_attn;
};

struct DecoderLayer {
  float self_gate, cross_gate;
  std::vector<float> self_norm, cross_norm;
  AttentionWeights self_attn, cross_attn;
};

// Layer `layer` of a tensor stacked on its leading axis, widened to fp32 into `out`.
void CopyLayerToF32(const TensorView& full, int layer, std::vector<float>& out) {
  TensorView slice = full;
  slice.shape.erase(slice.shape.begin());
  slice.data = full.data + layer * slice.num_elements() * DTypeSize(full.dtype);
  slice.num_bytes = slice.num_elements() * DTypeSize(full.dtype);
  out.resize(slice.num_elements());
  slice.CopyToF32(out.data());
}

std::vector<float> LayerF32(const ModelWeights& weights, const std::string& name, int layer) {
  std::vector<float> out;
  CopyLayerToF32(weights.Get(name), layer, out);
  return out;
}

absl::StatusOr<PackedMatrix> PackLayer(const ModelWeights& weights, const std::string& name, int layer, WeightType type,
                                       std::vector<float>& scratch) {
  const TensorView& full = weights.Get(name);
  CopyLayerToF32(full, layer, scratch);
  const int in = static_cast<int>(full.shape[1]), out = static_cast<int>(full.shape[2]);
  absl::StatusOr<PackedMatrix> packed = PackedMatrix::Pack(scratch.data(), in, out, type);
  if (!packed.ok())
    return absl::Status(packed.status().code(), StrCat(name, ": ", std::string(packed.status().message())));
  return packed;
}

absl::StatusOr<AttentionWeights> LoadAttention(const ModelWeights& weights, const std::string& prefix, int layer,
                                               WeightType type, std::vector<float>& scratch) {
  absl::StatusOr<PackedMatrix> q = PackLayer(weights, prefix + "/q_proj/kernel", layer, type, scratch);
  if (!q.ok()) return q.status();
  absl::StatusOr<PackedMatrix> k = PackLayer(weights, prefix + "/k_proj/kernel", layer, type, scratch);
  if (!k.ok()) return k.status();
  absl::StatusOr<PackedMatrix> v = PackLayer(weights, prefix + "/v_proj/kernel", layer, type, scratch);
  if (!v.ok()) return v.status();
  absl::StatusOr<PackedMatrix> o = PackLayer(weights, prefix + "/out_proj/kernel", layer, type, scratch);
  if (!o.ok()) return o.status();
  return AttentionWeights{*std::move(q),
                          *std::move(k),
                          *std::move(v),
                          *std::move(o),
                          LayerF32(weights, prefix + "/q_norm/scale", layer),
                          LayerF32(weights, prefix + "/k_norm/scale", layer)};
}

// ZCRMSNorm with reference::ZcRmsNorm's arithmetic (double sums), but the sum
// of squares split over independent accumulators: the reference's single chain
// waits one add latency per element, which made the norms several percent of
// a long prefill. x and y may alias.
void ZcRmsNorm(const float* x, const float* scale, int n, float* y) {
  double sums[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) sums[j] += static_cast<double>(x[i + j]) * x[i + j];
  }
  for (; i < n; ++i) sums[0] += static_cast<double>(x[i]) * x[i];
  const double sum_squares = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
  const double inv_rms = 1.0 / std::sqrt(sum_squares / n + 1e-6);
  for (i = 0; i < n; ++i) y[i] = static_cast<float>((1.0 + scale[i]) * x[i] * inv_rms);
}

// y_i = x @ W_i for every (W_i, y_i): the same rows times several matrices of
// one type. For w8a8/w4a8 the rows are quantised once into `xq`, not once per product.
void Project(const float* x, int rows, QuantizedRows& xq,
             std::initializer_list<std::pair<const PackedMatrix*, float*>> products, ThreadPool* pool) {
  const PackedMatrix& first = *products.begin()->first;
  if (QuantizesActivations(first.type())) {
    xq.Quantize(x, rows, first.in(), pool);
    for (const auto& [w, y] : products) MatMul(xq, *w, y, pool);
  } else {
    for (const auto& [w, y] : products) MatMul(x, rows, *w, y, pool);
  }
}

// Runs body(begin, end) over [0, n), across the pool when there is one.
void ParallelRows(ThreadPool* pool, int n, int grain, const std::function<void(int, int)>& body) {
  if (pool == nullptr || n <= grain) {
    body(0, n);
  } else {
    pool->ParallelFor(n, grain, body);
  }
}

class OptimizedEngine;

// Buffers of one session, carved from a single allocation made when the
// session is created, so that neither Prefill nor Decode allocates. The
// session lays its buffers out twice: once to measure, once to hand them out.
class Arena {
 public:
  template <typename T = float>
  T* Take(size_t count) {
    const size_t bytes = (count * sizeof(T) + 63) / 64 * 64;  // keeps every buffer 64-byte aligned
    T* p = base_ == nullptr ? nullptr : reinterpret_cast<T*>(base_ + used_);
    used_ += bytes;
    return p;
  }
  void Allocate() {
    storage_.assign(used_ + 64, 0);
    const uintptr_t address = reinterpret_cast<uintptr_t>(storage_.data());
    base_ = storage_.data() + (64 - address % 64) % 64;
    used_ = 0;
  }

 private:
  std::vector<unsigned char> storage_;
  unsigned char* base_ = nullptr;
  size_t used_ = 0;
};

class OptimizedSession : public Session {
 public:
  OptimizedSession(const OptimizedEngine& engine, bool encoder_only);

  absl::Status Prefill(absl::Span<const int32_t> encoder_tokens) override;
  absl::StatusOr<absl::Span<const float>> Decode(int32_t token) override;
  absl::Span<const float> encoder_output() const override;
  int num_encoder_tokens() const override { return encoder_tokens_; }
  int num_decoded_tokens() const override { return decoded_; }

  // The encoder alone (no cross-attention K/V); the caller holds the pool.
  void RunEncoder(absl::Span<const int32_t> tokens);

 private:
  // The cross-attention K/V in the engine's CrossKv form: only that form's buffers are set.
  struct LayerCache {
    float *self_key_t, *self_v, *cross_key_t, *cross_v;
    uint16_t *cross_key_t_bf16, *cross_v_bf16;
    int8_t *cross_key_t_int8, *cross_v_int8;
    float *cross_key_scales, *cross_v_scales;
  };

  void RunEncoderLocked(absl::Span<const int32_t> tokens);
  void Carve();  // lays the buffers out in arena_
  // k_ and v_'s first t rows into int8 K/V (key tiles of `stride` keys), split across the pool.
  void QuantizeKeyValues(int t, int stride, int8_t* key_t, float* key_scales, int8_t* v, float* v_scales);

  const OptimizedEngine& engine_;
  const bool encoder_only_;
  Arena arena_;
  // Encoder work buffers (kMaxEncoderTokens rows).
  float *x_, *h_, *q_, *k_, *v_, *attended_, *projected_, *key_t_, *key_bias_, *encoder_out_;
  // The encoder's self-attention K/V in int8, where the cross-attention's are (CrossKv::kInt8).
  int8_t *key_t_int8_ = nullptr, *v_int8_ = nullptr;
  float *key_scales_ = nullptr, *v_scales_ = nullptr;
  // Decoder step buffers (one row) and caches.
  float *dx_, *dh_, *dq_, *dk_, *dattended_, *dprojected_, *logits_;
  std::vector<LayerCache> caches_;
  // w8a8/w4a8: the current product input, quantised (sized for the encoder at construction).
  QuantizedRows xq_;
  bool any_key_visible_ = false;
  int encoder_tokens_ = 0;
  int decoded_ = 0;
};

class OptimizedEngine : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<OptimizedEngine>> Create(std::shared_ptr<const ModelWeights> weights,
                                                                 const EngineOptions& options);

  std::string_view name() const override { return "optimized"; }
  const ModelConfig& config() const override { return config_; }
  std::unique_ptr<Session> NewSession() const override {
    return std::make_unique<OptimizedSession>(*this, /*encoder_only=*/false);
  }
  absl::StatusOr<std::vector<float>> RetrievalEmbedding(absl::Span<const int32_t> tokens) const override;

  // Sessions run one step at a time on the shared pool: ParallelFor is not
  // reentrant, and one request already keeps every core busy, so taking turns
  // costs no throughput while giving each request the whole machine. The
  // split of the work (hence every rounding) never depends on other sessions.
  std::unique_lock<std::mutex> LockPool() const { return std::unique_lock<std::mutex>(pool_mutex_); }
  ThreadPool* pool() const { return pool_.get(); }

  void Embed(int32_t token, float* x) const {
    const int d = config_.d_model;
    // An F32 table is read straight from the mapped file (not necessarily aligned, hence memcpy).
    std::memcpy(x, embedding_ + static_cast<size_t>(token) * d * sizeof(float), d * sizeof(float));
    for (int i = 0; i < d; ++i) x[i] *= embed_scale_;
  }

  // ZCRMSNorm over heads of `rows` rows, then RoPE at first_position + row when `rope`.
  void NormAndRope(const std::vector<float>& scale, float* heads, int rows, int num_heads, int first_position,
                   bool rope) const {
    const int hd = config_.head_dim(), half = hd / 2;
    ParallelRows(pool(), rows, 16, [&](int begin, int end) {
      for (int r = begin; r < end; ++r) {
        for (int h = 0; h < num_heads; ++h) {
          float* head = heads + (static_cast<size_t>(r) * num_heads + h) * hd;
          ZcRmsNorm(head, scale.data(), hd, head);
          if (!rope) continue;
          const float* cs = &rope_table_[static_cast<size_t>(first_position + r) * hd];
          for (int i = 0; i < half; ++i) {
            const float c = cs[i], s = cs[half + i], x1 = head[i], x2 = head[i + half];
            head[i] = x1 * c - x2 * s;
            head[i + half] = x2 * c + x1 * s;
          }
        }
      }
    });
  }

  void NormRows(const float* x, const std::vector<float>& scale, int rows, float* y) const {
    const int d = config_.d_model;
    ParallelRows(pool(), rows, 16, [&](int begin, int end) {
      for (int r = begin; r < end; ++r) ZcRmsNorm(x + static_cast<size_t>(r) * d, scale.data(), d, y + r * d);
    });
  }

  // x += gate * (attended @ Wo).
  void GatedResidual(const AttentionWeights& w, float gate, const float* attended, int rows, QuantizedRows& xq,
                     float* projected, float* x) const {
    const int d = config_.d_model;
    Project(attended, rows, xq, {{&w.out_proj, projected}}, pool());
    ParallelRows(pool(), rows, 64, [&](int begin, int end) {
      for (size_t i = static_cast<size_t>(begin) * d; i < static_cast<size_t>(end) * d; ++i)
        x[i] += gate * projected[i];
    });
  }

  template <typename Keys, typename Values>
  void Attend(const float* q, int tq, Keys keys, Values v, int tk, const float* key_bias, bool any_visible,
              float* out) const {
    // With every key masked the reference's softmax is uniform: equal scores, no bias.
    Attention(q, tq, keys, v, tk, config_.num_heads, config_.num_kv_heads, config_.head_dim(),
              any_visible ? attention_scale_ : 0.0f, any_visible ? key_bias : nullptr, out, pool());
  }

  ModelConfig config_;
  WeightType type_ = WeightType::kF32;
  // How the cross-attention K/V are kept: fp32 at fp32 (the reference's
  // numbers); int8 where activations are int8 anyway (w8a8, w4a8); bf16 at the
  // other precisions (and where head_dim is not a multiple of 4, as int8 needs).
  // With int8, on AVX-512 VNNI, the encoder's self-attention takes int8 K/V too: its
  // scores, a quarter of a long prefill's multiply-adds, become integer dot products.
  enum class CrossKv { kF32, kBf16, kInt8 };
  CrossKv cross_kv_ = CrossKv::kF32;
  std::shared_ptr<const ModelWeights> weights_;  // keeps a mapped F32 embedding alive
  const uint8_t* embedding_ = nullptr;           // vocab x d fp32
  std::vector<float> embedding_owned_;           // widened copy when the file is not F32
  float embed_scale_ = 1.0f, attention_scale_ = 1.0f;
  std::vector<float> rope_table_;  // [position][cos for i < half, sin for i < half]
  std::vector<EncoderLayer> encoder_;
  std::vector<float> encoder_final_norm_;
  std::vector<DecoderLayer> decoder_;
  std::vector<float> decoder_final_norm_;
  PackedMatrix logits_matrix_;  // embedding^T: in = d_model, out = vocab
  reference::RetrievalHead retrieval_;

 private:
  OptimizedEngine(PackedMatrix logits) : logits_matrix_(std::move(logits)) {}

  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex pool_mutex_;
};

absl::StatusOr<std::unique_ptr<OptimizedEngine>> OptimizedEngine::Create(std::shared_ptr<const ModelWeights> weights,
                                                                         const EngineOptions& options) {
  absl::StatusOr<WeightType> type = ParseWeightType(options.precision);
  if (!type.ok()) {
    return absl::InvalidArgumentError(
        StrCat("unknown precision \"", options.precision, "\" (available: auto, fp32, bf16, int8, int4, w8a8, w4a8)"));
  }
  if (options.threads < 0 || options.threads > kMaxEngineThreads) {
    return absl::InvalidArgumentError(StrCat("threads must be in [0, ", kMaxEngineThreads, "], got ", options.threads));
  }
  const ModelWeights& w = *weights;
  const ModelConfig& c = w.config();
  if (c.head_dim() > kMaxAttentionHeadDim) {
    return absl::InvalidArgumentError(
        StrCat("the optimized engine supports head_dim up to ", kMaxAttentionHeadDim, ", not ", c.head_dim()));
  }
  const int d = c.d_model, vocab = c.vocab_size;

  // Tied output head: pack embedding^T so that logits = h @ E^T is an ordinary product.
  const TensorView& embedding = w.Get("embedding/embedding");
  std::vector<float> scratch = embedding.ToF32();
  std::vector<float> transposed(scratch.size());
  for (int t = 0; t < vocab; ++t) {
    for (int i = 0; i < d; ++i)
      transposed[static_cast<size_t>(i) * vocab + t] = scratch[static_cast<size_t>(t) * d + i];
  }
  absl::StatusOr<PackedMatrix> logits = PackedMatrix::Pack(transposed.data(), d, vocab, *type);
  if (!logits.ok())
    return absl::Status(logits.status().code(), StrCat("embedding: ", std::string(logits.status().message())));
  std::vector<float>().swap(transposed);

  std::unique_ptr<OptimizedEngine> engine(new OptimizedEngine(*std::move(logits)));
  engine->config_ = c;
  engine->type_ = *type;
  engine->cross_kv_ = *type == WeightType::kF32                              ? CrossKv::kF32
                      : QuantizesActivations(*type) && c.head_dim() % 4 == 0 ? CrossKv::kInt8
                                                                             : CrossKv::kBf16;
  engine->weights_ = weights;
  if (embedding.dtype == DType::kF32) {
    engine->embedding_ = embedding.data;
  } else {
    engine->embedding_owned_ = std::move(scratch);
    engine->embedding_ = reinterpret_cast<const uint8_t*>(engine->embedding_owned_.data());
  }
  std::vector<float>().swap(scratch);
  engine->embed_scale_ = std::sqrt(static_cast<float>(d));
  engine->attention_scale_ = 1.0f / std::sqrt(static_cast<float>(c.head_dim()));

  const int hd = c.head_dim(), half = hd / 2;
  const int positions = std::max(kMaxEncoderTokens, kMaxGeneratedTokens + 1);
  engine->rope_table_.resize(static_cast<size_t>(positions) * hd);
  for (int pos = 0; pos < positions; ++pos) {
    for (int i = 0; i < half; ++i) {
      // The same expression as reference::Rope, so the rotations match it bit for bit.
      const double angle = pos * std::pow(c.rope_theta, -2.0 * i / hd);
      engine->rope_table_[static_cast<size_t>(pos) * hd + i] = static_cast<float>(std::cos(angle));
      engine->rope_table_[static_cast<size_t>(pos) * hd + half + i] = static_cast<float>(std::sin(angle));
    }
  }

  for (int l = 0; l < c.num_encoder_layers; ++l) {
    const std::string p = "encoder/layers/EncoderBlock_0";
    absl::StatusOr<AttentionWeights> attn = LoadAttention(w, p + "/self_attn", l, *type, scratch);
    if (!attn.ok()) return attn.status();
    engine->encoder_.push_back({reference::Sigmoid(LayerF32(w, p + "/attn_gate", l)[0]),
                                LayerF32(w, p + "/ZCRMSNorm_0/scale", l), *std::move(attn)});
  }
  engine->encoder_final_norm_ = w.Get("encoder/final_norm/scale").ToF32();
  for (int l = 0; l < c.num_decoder_layers; ++l) {
    const std::string p = "decoder/layers/DecoderBlock_0";
    absl::StatusOr<AttentionWeights> self_attn = LoadAttention(w, p + "/self_attn", l, *type, scratch);
    if (!self_attn.ok()) return self_attn.status();
    absl::StatusOr<AttentionWeights> cross_attn = LoadAttention(w, p + "/cross_attn", l, *type, scratch);
    if (!cross_attn.ok()) return cross_attn.status();
    engine->decoder_.push_back({reference::Sigmoid(LayerF32(w, p + "/self_attn_gate", l)[0]),
                                reference::Sigmoid(LayerF32(w, p + "/cross_attn_gate", l)[0]),
                                LayerF32(w, p + "/ZCRMSNorm_0/scale", l), LayerF32(w, p + "/ZCRMSNorm_1/scale", l),
                                *std::move(self_attn), *std::move(cross_attn)});
  }
  engine->decoder_final_norm_ = w.Get("decoder/ZCRMSNorm_0/scale").ToF32();
  engine->retrieval_ = reference::RetrievalHead::Load(w);

  const int threads = options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  engine->pool_ = std::make_unique<ThreadPool>(threads);
  return engine;
}

absl::StatusOr<std::vector<float>> OptimizedEngine::RetrievalEmbedding(absl::Span<const int32_t> tokens) const {
  if (absl::Status status = ValidateTokens(tokens, config_.vocab_size, kMaxEncoderTokens, "encoder input");
      !status.ok()) {
    return status;
  }
  OptimizedSession session(*this, /*encoder_only=*/true);
  session.RunEncoder(tokens);
  return retrieval_.Embed(session.encoder_output().data(), tokens, config_.d_model);
}

OptimizedSession::OptimizedSession(const OptimizedEngine& engine, bool encoder_only)
    : engine_(engine), encoder_only_(encoder_only) {
  Carve();
  arena_.Allocate();
  Carve();
  if (QuantizesActivations(engine_.type_)) xq_.Reserve(kMaxEncoderTokens, engine_.config().d_model);
}

void OptimizedSession::Carve() {
  const ModelConfig& c = engine_.config();
  const size_t d = c.d_model, kv = c.kv_dim(), t = kMaxEncoderTokens;
  const size_t encoder_stride = KeyStride(kMaxEncoderTokens), decoder_stride = KeyStride(kMaxGeneratedTokens + 1);
  x_ = arena_.Take(t * d);
  h_ = arena_.Take(t * d);
  q_ = arena_.Take(t * d);
  k_ = arena_.Take(t * kv);
  v_ = arena_.Take(t * kv);
  attended_ = arena_.Take(t * d);
  projected_ = arena_.Take(t * d);
  key_t_ = arena_.Take(kv * encoder_stride);
  if (engine_.cross_kv_ == OptimizedEngine::CrossKv::kInt8) {
    key_t_int8_ = arena_.Take<int8_t>(kv * encoder_stride);
    v_int8_ = arena_.Take<int8_t>(t * kv);
    key_scales_ = arena_.Take(c.num_kv_heads * encoder_stride);
    v_scales_ = arena_.Take(c.num_kv_heads * encoder_stride);
  }
  key_bias_ = arena_.Take(encoder_stride);
  encoder_out_ = arena_.Take(t * d);
  if (encoder_only_) return;
  dx_ = arena_.Take(d);
  dh_ = arena_.Take(d);
  dq_ = arena_.Take(d);
  dk_ = arena_.Take(kv);
  dattended_ = arena_.Take(d);
  dprojected_ = arena_.Take(d);
  logits_ = arena_.Take(c.vocab_size);
  caches_.clear();
  for (int l = 0; l < c.num_decoder_layers; ++l) {
    LayerCache cache{};
    cache.self_key_t = arena_.Take(kv * decoder_stride);
    cache.self_v = arena_.Take((kMaxGeneratedTokens + 1) * kv);
    switch (engine_.cross_kv_) {
      case OptimizedEngine::CrossKv::kF32:
        cache.cross_key_t = arena_.Take(kv * encoder_stride);
        cache.cross_v = arena_.Take(t * kv);
        break;
      case OptimizedEngine::CrossKv::kBf16:
        cache.cross_key_t_bf16 = arena_.Take<uint16_t>(kv * encoder_stride);
        cache.cross_v_bf16 = arena_.Take<uint16_t>(t * kv);
        break;
      case OptimizedEngine::CrossKv::kInt8:
        cache.cross_key_t_int8 = arena_.Take<int8_t>(kv * encoder_stride);
        cache.cross_v_int8 = arena_.Take<int8_t>(t * kv);
        cache.cross_key_scales = arena_.Take(c.num_kv_heads * encoder_stride);
        cache.cross_v_scales = arena_.Take(c.num_kv_heads * encoder_stride);
        break;
    }
    caches_.push_back(cache);
  }
}

absl::Span<const float> OptimizedSession::encoder_output() const {
  return absl::Span<const float>(encoder_out_, static_cast<size_t>(encoder_tokens_) * engine_.config().d_model);
}

void OptimizedSession::RunEncoder(absl::Span<const int32_t> tokens) {
  std::unique_lock<std::mutex> lock = engine_.LockPool();
  RunEncoderLocked(tokens);
}

void OptimizedSession::RunEncoderLocked(absl::Span<const int32_t> tokens) {
  const ModelConfig& c = engine_.config();
  const int t = static_cast<int>(tokens.size()), d = c.d_model;
  const KeysT keys{key_t_, KeyStride(kMaxEncoderTokens)};
  any_key_visible_ = false;
  for (int i = 0; i < t; ++i) {
    key_bias_[i] = tokens[i] != 0 ? 0.0f : kMaskedKeyBias;  // PAD keys are masked, as in the reference
    any_key_visible_ = any_key_visible_ || tokens[i] != 0;
  }
  for (int i = 0; i < t; ++i) engine_.Embed(tokens[i], x_ + static_cast<size_t>(i) * d);
  for (const EncoderLayer& layer : engine_.encoder_) {
    const AttentionWeights& w = layer.self_attn;
    engine_.NormRows(x_, layer.norm, t, h_);
    Project(h_, t, xq_, {{&w.q_proj, q_}, {&w.k_proj, k_}, {&w.v_proj, v_}}, engine_.pool());
    engine_.NormAndRope(w.q_norm, q_, t, c.num_heads, 0, /*rope=*/true);
    engine_.NormAndRope(w.k_norm, k_, t, c.num_kv_heads, 0, /*rope=*/true);
    if (key_t_int8_ != nullptr && Int8PrefillAttentionPays()) {
      QuantizeKeyValues(t, keys.stride, key_t_int8_, key_scales_, v_int8_, v_scales_);
      engine_.Attend(q_, t, KeysInt8{key_t_int8_, key_scales_, keys.stride}, ValuesInt8{v_int8_, v_scales_}, t,
                     key_bias_, any_key_visible_, attended_);
    } else {
      TransposeKeys(k_, 0, t, c.num_kv_heads, c.head_dim(), key_t_, keys.stride);
      engine_.Attend(q_, t, keys, v_, t, key_bias_, any_key_visible_, attended_);
    }
    engine_.GatedResidual(w, layer.gate, attended_, t, xq_, projected_, x_);
  }
  engine_.NormRows(x_, engine_.encoder_final_norm_, t, encoder_out_);
  encoder_tokens_ = t;
}

void OptimizedSession::QuantizeKeyValues(int t, int stride, int8_t* key_t, float* key_scales, int8_t* v,
                                         float* v_scales) {
  const ModelConfig& c = engine_.config();
  const int kv = c.kv_dim(), hd = c.head_dim();
  ParallelRows(engine_.pool(), t, 64, [&](int begin, int end) {
    QuantizeKeys(k_ + static_cast<size_t>(begin) * kv, begin, end - begin, c.num_kv_heads, hd, key_t, key_scales,
                 stride);
    QuantizeValues(v_ + static_cast<size_t>(begin) * kv, end - begin, c.num_kv_heads, hd,
                   v + static_cast<size_t>(begin) * kv, v_scales + begin, stride);
  });
}

absl::Status OptimizedSession::Prefill(absl::Span<const int32_t> tokens) {
  const ModelConfig& c = engine_.config();
  if (absl::Status status = ValidateTokens(tokens, c.vocab_size, kMaxEncoderTokens, "encoder input"); !status.ok()) {
    return status;
  }
  std::unique_lock<std::mutex> lock = engine_.LockPool();
  RunEncoderLocked(tokens);
  const int t = encoder_tokens_;
  // Every layer's cross-attention K/V reads the encoder output: quantised once.
  const bool w8a8 = QuantizesActivations(engine_.type_);
  if (w8a8) xq_.Quantize(encoder_out_, t, c.d_model, engine_.pool());
  const OptimizedEngine::CrossKv form = engine_.cross_kv_;
  const int kv = c.kv_dim(), hd = c.head_dim(), stride = KeyStride(kMaxEncoderTokens);
  for (size_t l = 0; l < engine_.decoder_.size(); ++l) {
    const AttentionWeights& w = engine_.decoder_[l].cross_attn;
    LayerCache& cache = caches_[l];
    // Reduced forms are computed in fp32, then rounded into the cache.
    float* values = form == OptimizedEngine::CrossKv::kF32 ? cache.cross_v : v_;
    if (w8a8) {
      MatMul(xq_, w.k_proj, k_, engine_.pool());
      MatMul(xq_, w.v_proj, values, engine_.pool());
    } else {
      MatMul(encoder_out_, t, w.k_proj, k_, engine_.pool());
      MatMul(encoder_out_, t, w.v_proj, values, engine_.pool());
    }
    engine_.NormAndRope(w.k_norm, k_, t, c.num_kv_heads, 0, /*rope=*/false);
    switch (form) {
      case OptimizedEngine::CrossKv::kF32:
        TransposeKeys(k_, 0, t, c.num_kv_heads, hd, cache.cross_key_t, stride);
        break;
      case OptimizedEngine::CrossKv::kBf16:
        ParallelRows(engine_.pool(), t, 64, [&](int begin, int end) {
          ToBf16(v_ + static_cast<size_t>(begin) * kv, static_cast<size_t>(end - begin) * kv,
                 cache.cross_v_bf16 + static_cast<size_t>(begin) * kv);
        });
        TransposeKeys(k_, 0, t, c.num_kv_heads, hd, cache.cross_key_t_bf16, stride);
        break;
      case OptimizedEngine::CrossKv::kInt8:
        QuantizeKeyValues(t, stride, cache.cross_key_t_int8, cache.cross_key_scales, cache.cross_v_int8,
                          cache.cross_v_scales);
        break;
    }
  }
  decoded_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const float>> OptimizedSession::Decode(int32_t token) {
  const ModelConfig& c = engine_.config();
  if (encoder_tokens_ == 0) return absl::FailedPreconditionError("Decode called before Prefill");
  if (decoded_ >= kMaxGeneratedTokens + 1) {
    return absl::OutOfRangeError(StrCat("decoder input is limited to ", kMaxGeneratedTokens + 1, " tokens"));
  }
  if (absl::Status status = ValidateTokens({&token, 1}, c.vocab_size, 1, "decoder token"); !status.ok()) {
    return status;
  }
  std::unique_lock<std::mutex> lock = engine_.LockPool();
  const int d = c.d_model, kv = c.kv_dim(), position = decoded_;
  const int self_stride = KeyStride(kMaxGeneratedTokens + 1);
  const int cross_stride = KeyStride(kMaxEncoderTokens);
  ThreadPool* pool = engine_.pool();
  engine_.Embed(token, dx_);
  for (size_t l = 0; l < engine_.decoder_.size(); ++l) {
    const DecoderLayer& layer = engine_.decoder_[l];
    LayerCache& cache = caches_[l];

    ZcRmsNorm(dx_, layer.self_norm.data(), d, dh_);
    Project(dh_, 1, xq_,
            {{&layer.self_attn.q_proj, dq_},
             {&layer.self_attn.k_proj, dk_},
             {&layer.self_attn.v_proj, cache.self_v + static_cast<size_t>(position) * kv}},
            pool);
    engine_.NormAndRope(layer.self_attn.q_norm, dq_, 1, c.num_heads, position, /*rope=*/true);
    engine_.NormAndRope(layer.self_attn.k_norm, dk_, 1, c.num_kv_heads, position, /*rope=*/true);
    TransposeKeys(dk_, position, 1, c.num_kv_heads, c.head_dim(), cache.self_key_t, self_stride);
    // Causal: the cache holds exactly the positions up to this one.
    engine_.Attend(dq_, 1, KeysT{cache.self_key_t, self_stride}, cache.self_v, position + 1, nullptr,
                   /*any_visible=*/true, dattended_);
    engine_.GatedResidual(layer.self_attn, layer.self_gate, dattended_, 1, xq_, dprojected_, dx_);

    ZcRmsNorm(dx_, layer.cross_norm.data(), d, dh_);
    Project(dh_, 1, xq_, {{&layer.cross_attn.q_proj, dq_}}, pool);
    engine_.NormAndRope(layer.cross_attn.q_norm, dq_, 1, c.num_heads, 0, /*rope=*/false);
    switch (engine_.cross_kv_) {
      case OptimizedEngine::CrossKv::kF32:
        engine_.Attend(dq_, 1, KeysT{cache.cross_key_t, cross_stride}, cache.cross_v, encoder_tokens_, key_bias_,
                       any_key_visible_, dattended_);
        break;
      case OptimizedEngine::CrossKv::kBf16:
        engine_.Attend(dq_, 1, KeysBf16{cache.cross_key_t_bf16, cross_stride}, cache.cross_v_bf16, encoder_tokens_,
                       key_bias_, any_key_visible_, dattended_);
        break;
      case OptimizedEngine::CrossKv::kInt8:
        engine_.Attend(dq_, 1, KeysInt8{cache.cross_key_t_int8, cache.cross_key_scales, cross_stride},
                       ValuesInt8{cache.cross_v_int8, cache.cross_v_scales}, encoder_tokens_, key_bias_,
                       any_key_visible_, dattended_);
        break;
    }
    engine_.GatedResidual(layer.cross_attn, layer.cross_gate, dattended_, 1, xq_, dprojected_, dx_);
  }
  ZcRmsNorm(dx_, engine_.decoder_final_norm_.data(), d, dh_);
  Project(dh_, 1, xq_, {{&engine_.logits_matrix_, logits_}}, pool);
  ++decoded_;
  return absl::Span<const float>(logits_, c.vocab_size);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> CreateOptimizedEngine(std::shared_ptr<const ModelWeights> weights,
                                                              const EngineOptions& options) {
  if (weights == nullptr) return absl::InvalidArgumentError("CreateOptimizedEngine: no weights");
  absl::StatusOr<std::unique_ptr<OptimizedEngine>> engine = OptimizedEngine::Create(std::move(weights), options);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Engine>(*std::move(engine));
}

}  // namespace needle::optimized
