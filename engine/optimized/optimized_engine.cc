#include "optimized/optimized_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "model/layers.h"
#include "model/ops.h"
#include "needle/str_cat.h"
#include "needle/tensor_names.h"
#include "optimized/attention.h"
#include "optimized/matmul.h"
#include "optimized/multiversion.h"
#include "optimized/thread_pool.h"

namespace needle::optimized {
namespace {

// The projections packed at the engine's precision.
using AttentionWeights = model::AttentionWeights<PackedMatrix>;
using EncoderLayer = model::EncoderLayer<PackedMatrix>;
using DecoderLayer = model::DecoderLayer<PackedMatrix>;

// ZCRMSNorm with model::ZcRmsNorm's arithmetic (double sums), but the sum
// of squares split over independent accumulators: the reference's single chain
// waits one add latency per element, which made the norms several percent of
// a long prefill. x and y may alias.
NEEDLE_AVX2_CLONES void ZcRmsNorm(const float* x, const float* scale, int n, float* y) {
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
void Project(const IsaKernels& kernels, const float* x, int rows, QuantizedRows& xq,
             std::initializer_list<std::pair<const PackedMatrix*, float*>> products, ThreadPool* pool) {
  const PackedMatrix& first = *products.begin()->first;
  if (QuantizesActivations(first.type())) {
    xq.Quantize(kernels, x, rows, first.in(), pool);
    for (const auto& [w, y] : products) MatMul(xq, *w, y, pool);
  } else {
    for (const auto& [w, y] : products) MatMul(kernels, x, rows, *w, y, pool);
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

// K/V of up to kMaxEncoderTokens encoder positions, keys in the tiled layout
// of attention.h (stride KeyStride(kMaxEncoderTokens)), values row-major. One
// struct per storage form, each carving its buffers from a session's arena,
// filling them from fp32 K/V rows and naming them as the attention takes them.
struct F32KeyValues {
  float *key_t = nullptr, *v = nullptr;

  void Carve(Arena& arena, const ModelConfig& c) {
    key_t = arena.Take(static_cast<size_t>(c.kv_dim()) * KeyStride(kMaxEncoderTokens));
    v = arena.Take(static_cast<size_t>(kMaxEncoderTokens) * c.kv_dim());
  }
  // The V projection writes its rows here directly: fp32 needs no conversion.
  float* ValueRows(float*) const { return v; }
  void Fill(const float* k, const float*, int t, const ModelConfig& c, ThreadPool*) const {
    TransposeKeys(k, 0, t, c.num_kv_heads, c.head_dim(), key_t, KeyStride(kMaxEncoderTokens));
  }
  KeysT keys() const { return {key_t, KeyStride(kMaxEncoderTokens)}; }
  const float* values() const { return v; }
};

struct Bf16KeyValues {
  uint16_t *key_t = nullptr, *v = nullptr;

  void Carve(Arena& arena, const ModelConfig& c) {
    key_t = arena.Take<uint16_t>(static_cast<size_t>(c.kv_dim()) * KeyStride(kMaxEncoderTokens));
    v = arena.Take<uint16_t>(static_cast<size_t>(kMaxEncoderTokens) * c.kv_dim());
  }
  // Values are projected in fp32 into `scratch`, then rounded in by Fill.
  float* ValueRows(float* scratch) const { return scratch; }
  void Fill(const float* k, const float* v_rows, int t, const ModelConfig& c, ThreadPool* pool) const {
    const size_t kv = c.kv_dim();
    ParallelRows(pool, t, 64,
                 [&](int begin, int end) { ToBf16(v_rows + begin * kv, (end - begin) * kv, v + begin * kv); });
    TransposeKeys(k, 0, t, c.num_kv_heads, c.head_dim(), key_t, KeyStride(kMaxEncoderTokens));
  }
  KeysBf16 keys() const { return {key_t, KeyStride(kMaxEncoderTokens)}; }
  const uint16_t* values() const { return v; }
};

// One scale per (KV head, position) for keys and for values.
struct Int8KeyValues {
  int8_t *key_t = nullptr, *v = nullptr;
  float *key_scales = nullptr, *v_scales = nullptr;

  void Carve(Arena& arena, const ModelConfig& c) {
    const size_t stride = KeyStride(kMaxEncoderTokens);
    key_t = arena.Take<int8_t>(c.kv_dim() * stride);
    v = arena.Take<int8_t>(static_cast<size_t>(kMaxEncoderTokens) * c.kv_dim());
    key_scales = arena.Take(c.num_kv_heads * stride);
    v_scales = arena.Take(c.num_kv_heads * stride);
  }
  float* ValueRows(float* scratch) const { return scratch; }
  // Quantises each (row, KV head) vector on its own, split across the pool.
  void Fill(const float* k, const float* v_rows, int t, const ModelConfig& c, ThreadPool* pool) const {
    const int kv = c.kv_dim(), hd = c.head_dim(), stride = KeyStride(kMaxEncoderTokens);
    ParallelRows(pool, t, 64, [&](int begin, int end) {
      QuantizeKeys(k + static_cast<size_t>(begin) * kv, begin, end - begin, c.num_kv_heads, hd, key_t, key_scales,
                   stride);
      QuantizeValues(v_rows + static_cast<size_t>(begin) * kv, end - begin, c.num_kv_heads, hd,
                     v + static_cast<size_t>(begin) * kv, v_scales + begin, stride);
    });
  }
  KeysInt8 keys() const { return {key_t, key_scales, KeyStride(kMaxEncoderTokens)}; }
  ValuesInt8 values() const { return {v, v_scales}; }
};

// One decoder layer's cross-attention K/V: computed once per request from the
// encoder output, read at every decode step, in the engine's form
// (CrossKvType: fp32, bf16 or int8).
class CrossKvCache {
 public:
  void Carve(Arena& arena, NumberType form, const ModelConfig& c) {
    switch (form) {
      case NumberType::kF32:
        kv_.emplace<F32KeyValues>();
        break;
      case NumberType::kBF16:
        kv_.emplace<Bf16KeyValues>();
        break;
      case NumberType::kInt8:
        kv_.emplace<Int8KeyValues>();
        break;
    }
    std::visit([&](auto& kv) { kv.Carve(arena, c); }, kv_);
  }
  // Where the V projection writes its fp32 rows for Fill: the cache itself at fp32, else `scratch`.
  float* ValueRows(float* scratch) const {
    return std::visit([&](const auto& kv) { return kv.ValueRows(scratch); }, kv_);
  }
  // Stores t positions: k the normed keys, v_rows what the V projection wrote to ValueRows.
  void Fill(const float* k, const float* v_rows, int t, const ModelConfig& c, ThreadPool* pool) const {
    std::visit([&](const auto& kv) { kv.Fill(k, v_rows, t, c, pool); }, kv_);
  }
  // attend(keys, values) with this form's keys and values.
  template <typename AttendFn>
  void Attend(const AttendFn& attend) const {
    std::visit([&](const auto& kv) { attend(kv.keys(), kv.values()); }, kv_);
  }

 private:
  std::variant<F32KeyValues, Bf16KeyValues, Int8KeyValues> kv_;
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
  // Per decoder layer: the self-attention K/V of the positions so far (fp32) and the cross-attention's.
  struct LayerCache {
    float *self_key_t, *self_v;
    CrossKvCache cross;
  };

  void RunEncoderLocked(absl::Span<const int32_t> tokens);
  void Carve();  // lays the buffers out in arena_

  const OptimizedEngine& engine_;
  const bool encoder_only_;
  Arena arena_;
  // Encoder work buffers (kMaxEncoderTokens rows).
  float *x_, *h_, *q_, *k_, *v_, *attended_, *projected_, *key_t_, *key_bias_, *encoder_out_;
  // The encoder's self-attention K/V in int8, where the cross-attention's are (NumberType::kInt8).
  std::optional<Int8KeyValues> encoder_int8_kv_;
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
                                                                 Precision precision, int threads, Isa isa);

  std::string_view name() const override { return "optimized"; }
  const ModelConfig& config() const override { return config_; }
  std::unique_ptr<Session> NewSession() const override {
    return std::make_unique<OptimizedSession>(*this, /*encoder_only=*/false);
  }
  absl::StatusOr<std::vector<float>> RetrievalEmbedding(absl::Span<const int32_t> tokens) const override;
  EngineInfo info() const override {
    int64_t weight_bytes = logits_matrix_.bytes();
    auto add = [&](const AttentionWeights& w) {
      for (const PackedMatrix* m : {&w.q_proj, &w.k_proj, &w.v_proj, &w.out_proj}) weight_bytes += m->bytes();
    };
    for (const EncoderLayer& layer : layers_.encoder) add(layer.self_attn);
    for (const DecoderLayer& layer : layers_.decoder) add(layer.self_attn), add(layer.cross_attn);
    return {std::string(IsaName(kernels_->isa)), type_, weight_bytes,
            config_.num_decoder_layers * CrossKvBytesPerToken(type_, config_)};
  }

  // Sessions run one step at a time on the shared pool: ParallelFor is not
  // reentrant, and one request already keeps every core busy, so taking turns
  // costs no throughput while giving each request the whole machine. The
  // split of the work (hence every rounding) never depends on other sessions.
  std::unique_lock<std::mutex> LockPool() const { return std::unique_lock<std::mutex>(pool_mutex_); }
  ThreadPool* pool() const { return pool_.get(); }
  const IsaKernels& kernels() const { return *kernels_; }

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

  // x += sigmoid(gate) * (attended @ Wo).
  void GatedResidual(const AttentionWeights& w, float gate, const float* attended, int rows, QuantizedRows& xq,
                     float* projected, float* x) const {
    const int d = config_.d_model;
    const float scale = model::Sigmoid(gate);
    Project(*kernels_, attended, rows, xq, {{&w.out_proj, projected}}, pool());
    ParallelRows(pool(), rows, 64, [&](int begin, int end) {
      for (size_t i = static_cast<size_t>(begin) * d; i < static_cast<size_t>(end) * d; ++i)
        x[i] += scale * projected[i];
    });
  }

  template <typename Keys, typename Values>
  void Attend(const float* q, int tq, Keys keys, Values v, int tk, const float* key_bias, bool any_visible,
              float* out) const {
    // With every key masked the reference's softmax is uniform: equal scores, no bias.
    Attention(q, tq, keys, v, tk, config_.num_heads, config_.num_kv_heads, config_.head_dim(),
              any_visible ? attention_scale_ : 0.0f, any_visible ? key_bias : nullptr, out, pool(), kernels_->isa);
  }

  ModelConfig config_;
  WeightType type_ = WeightType::kF32;
  // How the cross-attention K/V are kept (CrossKvType): fp32 at fp32 (the
  // reference's numbers); int8 where activations are int8 anyway (w8a8, w4a8);
  // bf16 at the other precisions (and where head_dim is not a multiple of 4, as
  // int8 needs). With int8, on AVX-512 VNNI, the encoder's self-attention takes
  // int8 K/V too: its scores, a quarter of a long prefill's multiply-adds,
  // become integer dot products.
  NumberType cross_kv_ = NumberType::kF32;
  const IsaKernels* kernels_ = &KernelsFor(Isa::kScalar);
  std::shared_ptr<const ModelWeights> weights_;  // keeps a mapped F32 embedding alive
  const uint8_t* embedding_ = nullptr;           // vocab x d fp32
  std::vector<float> embedding_owned_;           // widened copy when the file is not F32
  float embed_scale_ = 1.0f, attention_scale_ = 1.0f;
  std::vector<float> rope_table_;  // [position][cos for i < half, sin for i < half]
  model::LayerStacks<PackedMatrix> layers_;
  PackedMatrix logits_matrix_;  // embedding^T: in = d_model, out = vocab
  model::RetrievalHead retrieval_;

 private:
  OptimizedEngine(PackedMatrix logits) : logits_matrix_(std::move(logits)) {}

  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex pool_mutex_;
};

absl::StatusOr<std::unique_ptr<OptimizedEngine>> OptimizedEngine::Create(std::shared_ptr<const ModelWeights> weights,
                                                                         Precision precision, int threads, Isa isa) {
  const WeightType type = precision;
  const ModelWeights& w = *weights;
  const ModelConfig& c = w.config();
  if (c.head_dim() > kMaxAttentionHeadDim) {
    return absl::InvalidArgumentError(
        StrCat("the optimized engine supports head_dim up to ", kMaxAttentionHeadDim, ", not ", c.head_dim()));
  }
  const int d = c.d_model, vocab = c.vocab_size;

  // Tied output head: pack embedding^T so that logits = h @ E^T is an ordinary product.
  const TensorNames& names = Tensors();
  const TensorView& embedding = w.Get(names.embedding);
  std::vector<float> scratch = embedding.ToF32();
  std::vector<float> transposed(scratch.size());
  for (int t = 0; t < vocab; ++t) {
    for (int i = 0; i < d; ++i)
      transposed[static_cast<size_t>(i) * vocab + t] = scratch[static_cast<size_t>(t) * d + i];
  }
  absl::StatusOr<PackedMatrix> logits = PackedMatrix::Pack(transposed.data(), d, vocab, type);
  if (!logits.ok())
    return absl::Status(logits.status().code(), StrCat("embedding: ", std::string(logits.status().message())));
  std::vector<float>().swap(transposed);

  std::unique_ptr<OptimizedEngine> engine(new OptimizedEngine(*std::move(logits)));
  engine->config_ = c;
  engine->type_ = type;
  engine->cross_kv_ = CrossKvType(type, c.head_dim());
  engine->kernels_ = &KernelsFor(isa);
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
      // The same expression as model::Rope, so the rotations match it bit for bit.
      const double angle = pos * std::pow(c.rope_theta, -2.0 * i / hd);
      engine->rope_table_[static_cast<size_t>(pos) * hd + i] = static_cast<float>(std::cos(angle));
      engine->rope_table_[static_cast<size_t>(pos) * hd + half + i] = static_cast<float>(std::sin(angle));
    }
  }

  auto vector = [&](const std::string& name, int layer) { return model::LayerOf(w.Get(name), layer).ToF32(); };
  auto matrix = [&](const std::string& name, int layer) -> absl::StatusOr<PackedMatrix> {
    const TensorView kernel = model::LayerOf(w.Get(name), layer);
    scratch.resize(kernel.num_elements());
    kernel.CopyToF32(scratch.data());
    absl::StatusOr<PackedMatrix> packed =
        PackedMatrix::Pack(scratch.data(), static_cast<int>(kernel.shape[0]), static_cast<int>(kernel.shape[1]), type);
    if (!packed.ok())
      return absl::Status(packed.status().code(), StrCat(name, ": ", std::string(packed.status().message())));
    return packed;
  };
  absl::StatusOr<model::LayerStacks<PackedMatrix>> layers = model::LoadLayerStacks<PackedMatrix>(c, matrix, vector);
  if (!layers.ok()) return layers.status();
  engine->layers_ = *std::move(layers);
  engine->retrieval_ = model::RetrievalHead::Load(w);

  engine->pool_ =
      std::make_unique<ThreadPool>(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()));
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
  if (engine_.cross_kv_ == NumberType::kInt8) encoder_int8_kv_.emplace().Carve(arena_, c);
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
    LayerCache& cache = caches_.emplace_back();
    cache.self_key_t = arena_.Take(kv * decoder_stride);
    cache.self_v = arena_.Take((kMaxGeneratedTokens + 1) * kv);
    cache.cross.Carve(arena_, engine_.cross_kv_, c);
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
  for (const EncoderLayer& layer : engine_.layers_.encoder) {
    const AttentionWeights& w = layer.self_attn;
    engine_.NormRows(x_, layer.norm, t, h_);
    Project(engine_.kernels(), h_, t, xq_, {{&w.q_proj, q_}, {&w.k_proj, k_}, {&w.v_proj, v_}}, engine_.pool());
    engine_.NormAndRope(w.q_norm, q_, t, c.num_heads, 0, /*rope=*/true);
    engine_.NormAndRope(w.k_norm, k_, t, c.num_kv_heads, 0, /*rope=*/true);
    if (encoder_int8_kv_.has_value() && Int8PrefillAttentionPays(engine_.kernels().isa)) {
      encoder_int8_kv_->Fill(k_, v_, t, c, engine_.pool());
      engine_.Attend(q_, t, encoder_int8_kv_->keys(), encoder_int8_kv_->values(), t, key_bias_, any_key_visible_,
                     attended_);
    } else {
      TransposeKeys(k_, 0, t, c.num_kv_heads, c.head_dim(), key_t_, keys.stride);
      engine_.Attend(q_, t, keys, v_, t, key_bias_, any_key_visible_, attended_);
    }
    engine_.GatedResidual(w, layer.attn_gate, attended_, t, xq_, projected_, x_);
  }
  engine_.NormRows(x_, engine_.layers_.encoder_final_norm, t, encoder_out_);
  encoder_tokens_ = t;
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
  if (w8a8) xq_.Quantize(engine_.kernels(), encoder_out_, t, c.d_model, engine_.pool());
  for (size_t l = 0; l < engine_.layers_.decoder.size(); ++l) {
    const AttentionWeights& w = engine_.layers_.decoder[l].cross_attn;
    const CrossKvCache& cache = caches_[l].cross;
    // Reduced forms are computed in fp32, then rounded into the cache.
    float* values = cache.ValueRows(v_);
    if (w8a8) {
      MatMul(xq_, w.k_proj, k_, engine_.pool());
      MatMul(xq_, w.v_proj, values, engine_.pool());
    } else {
      MatMul(engine_.kernels(), encoder_out_, t, w.k_proj, k_, engine_.pool());
      MatMul(engine_.kernels(), encoder_out_, t, w.v_proj, values, engine_.pool());
    }
    engine_.NormAndRope(w.k_norm, k_, t, c.num_kv_heads, 0, /*rope=*/false);
    cache.Fill(k_, values, t, c, engine_.pool());
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
  ThreadPool* pool = engine_.pool();
  engine_.Embed(token, dx_);
  for (size_t l = 0; l < engine_.layers_.decoder.size(); ++l) {
    const DecoderLayer& layer = engine_.layers_.decoder[l];
    LayerCache& cache = caches_[l];

    ZcRmsNorm(dx_, layer.self_attn_norm.data(), d, dh_);
    Project(engine_.kernels(), dh_, 1, xq_,
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
    engine_.GatedResidual(layer.self_attn, layer.self_attn_gate, dattended_, 1, xq_, dprojected_, dx_);

    ZcRmsNorm(dx_, layer.cross_attn_norm.data(), d, dh_);
    Project(engine_.kernels(), dh_, 1, xq_, {{&layer.cross_attn.q_proj, dq_}}, pool);
    engine_.NormAndRope(layer.cross_attn.q_norm, dq_, 1, c.num_heads, 0, /*rope=*/false);
    cache.cross.Attend([&](auto keys, auto values) {
      engine_.Attend(dq_, 1, keys, values, encoder_tokens_, key_bias_, any_key_visible_, dattended_);
    });
    engine_.GatedResidual(layer.cross_attn, layer.cross_attn_gate, dattended_, 1, xq_, dprojected_, dx_);
  }
  ZcRmsNorm(dx_, engine_.layers_.decoder_final_norm.data(), d, dh_);
  Project(engine_.kernels(), dh_, 1, xq_, {{&engine_.logits_matrix_, logits_}}, pool);
  ++decoded_;
  return absl::Span<const float>(logits_, c.vocab_size);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> CreateOptimizedEngine(std::shared_ptr<const ModelWeights> weights,
                                                              Precision precision, int threads, Isa isa) {
  if (weights == nullptr) return absl::InvalidArgumentError("CreateOptimizedEngine: no weights");
  absl::StatusOr<std::unique_ptr<OptimizedEngine>> engine =
      OptimizedEngine::Create(std::move(weights), precision, threads, isa);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Engine>(*std::move(engine));
}

}  // namespace needle::optimized
