#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/ops.h"
#include "needle/engine.h"
#include "needle/tokenizer.h"  // special ids only; nothing here needs SentencePiece
#include "test_checkpoint.h"

namespace needle {
namespace {

using ::testing::HasSubstr;
namespace ref = ::needle::model;  // the plain ops the reference engine is made of

// ---- Scalar ops against values worked out by hand.

TEST(ReferenceOpsTest, MatMul) {
  // x (2x3) @ w (3x2), w stored (in, out).
  const float x[] = {1, 2, 3, 4, 5, 6};
  const float w[] = {1, -1, 0, 2, 0.5f, 0};
  float y[4];
  ref::MatMul(x, 2, 3, w, 2, y);
  EXPECT_EQ(y[0], 1 * 1 + 2 * 0 + 3 * 0.5f);
  EXPECT_EQ(y[1], 1 * -1 + 2 * 2 + 3 * 0);
  EXPECT_EQ(y[2], 4 * 1 + 5 * 0 + 6 * 0.5f);
  EXPECT_EQ(y[3], 4 * -1 + 5 * 2 + 6 * 0);
}

TEST(ReferenceOpsTest, ZcRmsNormWithZeroScaleGivesUnitRms) {
  const float x[] = {3, -4, 12, 0.5f, -7, 1};
  const float zero[6] = {};
  float y[6];
  ref::ZcRmsNorm(x, zero, 6, y);
  float sum_squares = 0;
  for (float v : y) sum_squares += v * v;
  EXPECT_NEAR(std::sqrt(sum_squares / 6), 1.0f, 1e-5f);
  for (int i = 0; i < 6; ++i) EXPECT_GT(y[i] * x[i], 0.0f) << "the norm only rescales";
}

TEST(ReferenceOpsTest, ZcRmsNormValues) {
  // x = (3, 4): mean(x^2) = 12.5, so y = (1 + scale) * x / sqrt(12.5 + 1e-6).
  const float x[] = {3, 4};
  const float scale[] = {1.0f, -1.0f};  // "zero-centred": 1 + scale doubles the first, zeroes the second
  float y[2];
  ref::ZcRmsNorm(x, scale, 2, y);
  EXPECT_NEAR(y[0], 2 * 3 / std::sqrt(12.5f), 1e-5f);
  EXPECT_EQ(y[1], 0.0f);
}

TEST(ReferenceOpsTest, ZcRmsNormOfZeroIsFinite) {
  // The epsilon keeps an all-zero row (e.g. a fresh residual) at zero, not NaN.
  const float x[4] = {};
  const float scale[4] = {};
  float y[4];
  ref::ZcRmsNorm(x, scale, 4, y);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(ReferenceOpsTest, ZcRmsNormInPlace) {
  float x[] = {1, 2, 3, 4};
  const float expected_scale = 1 / std::sqrt(7.5f + 1e-6f);
  const float zero[4] = {};
  ref::ZcRmsNorm(x, zero, 4, x);
  EXPECT_NEAR(x[3], 4 * expected_scale, 1e-6f);
}

TEST(ReferenceOpsTest, RopeAtPositionZeroIsIdentity) {
  float x[] = {0.3f, -1.2f, 2.5f, 0.7f, -0.1f, 4.0f, 1.5f, -2.0f};
  const std::vector<float> before(std::begin(x), std::end(x));
  ref::Rope(x, 8, 0, 10000.0);
  EXPECT_EQ(std::vector<float>(std::begin(x), std::end(x)), before);
}

TEST(ReferenceOpsTest, RopeRotatesHalvesByPositionTimesFrequency) {
  // head_dim 4: pairs (x0, x2) at frequency 1 and (x1, x3) at theta^(-1/2) = 1/100.
  float x[] = {1, 2, 0, 0};
  ref::Rope(x, 4, 3, 10000.0);
  EXPECT_NEAR(x[0], std::cos(3.0f), 1e-6f);
  EXPECT_NEAR(x[2], std::sin(3.0f), 1e-6f);
  EXPECT_NEAR(x[1], 2 * std::cos(0.03f), 1e-6f);
  EXPECT_NEAR(x[3], 2 * std::sin(0.03f), 1e-6f);
}

TEST(ReferenceOpsTest, RopePreservesNormAndDependsOnlyOnRelativePosition) {
  const std::vector<float> q = {0.3f, -1.2f, 2.5f, 0.7f, -0.1f, 4.0f, 1.5f, -2.0f};
  const std::vector<float> k = {1.1f, 0.4f, -0.6f, 2.2f, 0.9f, -1.3f, 0.2f, 0.8f};
  auto rotated = [](std::vector<float> v, int position) {
    ref::Rope(v.data(), static_cast<int>(v.size()), position, 10000.0);
    return v;
  };
  auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
    return std::inner_product(a.begin(), a.end(), b.begin(), 0.0f);
  };
  EXPECT_NEAR(dot(rotated(q, 37), rotated(q, 37)), dot(q, q), 1e-4f);
  // The attention score of positions (m, n) is a function of m - n.
  EXPECT_NEAR(dot(rotated(q, 5), rotated(k, 2)), dot(rotated(q, 103), rotated(k, 100)), 1e-4f);
  EXPECT_GT(std::fabs(dot(rotated(q, 5), rotated(k, 2)) - dot(q, k)), 1e-3f) << "rotation should matter";
}

TEST(ReferenceOpsTest, SoftmaxSumsToOne) {
  float x[] = {1.0f, 2.0f, 3.0f, -1.0f};
  ref::Softmax(x, 4);
  EXPECT_NEAR(x[0] + x[1] + x[2] + x[3], 1.0f, 1e-6f);
  const float z = std::exp(1.0f) + std::exp(2.0f) + std::exp(3.0f) + std::exp(-1.0f);
  EXPECT_NEAR(x[2], std::exp(3.0f) / z, 1e-6f);
  EXPECT_NEAR(x[3], std::exp(-1.0f) / z, 1e-6f);
}

TEST(ReferenceOpsTest, SoftmaxIsStableForLargeAndMaskedScores) {
  // Large scores must not overflow; the dtype's lowest value (a mask) gets weight 0.
  float x[] = {1000.0f, 1001.0f, std::numeric_limits<float>::lowest()};
  ref::Softmax(x, 3);
  EXPECT_NEAR(x[0], 1 / (1 + std::exp(1.0f)), 1e-6f);
  EXPECT_NEAR(x[1], 1 / (1 + std::exp(-1.0f)), 1e-6f);
  EXPECT_EQ(x[2], 0.0f);
}

TEST(ReferenceOpsTest, Sigmoid) {
  EXPECT_EQ(ref::Sigmoid(0.0f), 0.5f);
  EXPECT_NEAR(ref::Sigmoid(2.0f), 1 / (1 + std::exp(-2.0f)), 1e-7f);
  EXPECT_NEAR(ref::Sigmoid(-2.0f) + ref::Sigmoid(2.0f), 1.0f, 1e-7f);
}

TEST(ReferenceOpsTest, AttentionWithOneKeyReturnsItsValue) {
  // 4 query heads, 2 KV heads, head_dim 2: softmax over one key is 1 whatever the score.
  const float q[] = {5, -3, 0.1f, 2, -7, 1, 0, 0};
  const float k[] = {1, 2, 3, 4};
  const float v[] = {10, 20, 30, 40};
  float out[8];
  ref::Attention(q, 1, k, v, 1, 4, 2, 2, {true}, out);
  // Query heads 0, 1 read KV head 0; heads 2, 3 read KV head 1.
  EXPECT_EQ(std::vector<float>(out, out + 8), (std::vector<float>{10, 20, 10, 20, 30, 40, 30, 40}));
}

TEST(ReferenceOpsTest, AttentionGqaHeadsShareTheirKvHead) {
  // Query heads 2j and 2j+1 must score against KV head j: give each KV head
  // two keys, and make each query head prefer one of them strongly.
  const int heads = 4, kv_heads = 2, head_dim = 2;
  const float big = 50.0f;
  // Per query head: a one-hot direction picking key 0 (dimension 0) or key 1 (dimension 1).
  const float q[] = {big, 0, 0, big, big, 0, 0, big};
  // Key rows: (kv head 0, kv head 1). Key 0 points along dim 0 for head 0 and
  // along dim 1 for head 1, so the two KV heads disagree about which key a query wants.
  const float k[] = {1, 0, 0, 1,   // key 0
                     0, 1, 1, 0};  // key 1
  const float v[] = {1, 1, 3, 3,   // key 0: value 1 for KV head 0, 3 for KV head 1
                     2, 2, 4, 4};  // key 1: value 2 and 4
  float out[8];
  ref::Attention(q, 1, k, v, 2, heads, kv_heads, head_dim, {true, true}, out);
  const float expected[] = {1, 1, 2, 2, 4, 4, 3, 3};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[i], expected[i], 1e-6f) << i;
}

TEST(ReferenceOpsTest, AttentionScoresAreScaledByInverseSqrtHeadDim) {
  // One head, head_dim 4, two keys with scores q.k = 2 and 0: weights softmax(2 / 2, 0).
  const float q[] = {1, 1, 0, 0};
  const float k[] = {1, 1, 0, 0, 0, 0, 1, 1};
  const float v[] = {1, 0, 0, 0, 0, 1, 0, 0};
  float out[4];
  ref::Attention(q, 1, k, v, 2, 1, 1, 4, {true, true}, out);
  const float w0 = 1 / (1 + std::exp(-1.0f));
  EXPECT_NEAR(out[0], w0, 1e-6f);
  EXPECT_NEAR(out[1], 1 - w0, 1e-6f);
}

TEST(ReferenceOpsTest, AttentionMasksInvisibleKeys) {
  const float q[] = {3, 1};
  const float k[] = {0, 0, 100, 100};  // the masked key would win by far
  const float v[] = {1, 2, 5, 6};
  float out[2];
  ref::Attention(q, 1, k, v, 2, 1, 1, 2, {true, false}, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 2.0f);
}

// ---- The engine on small random checkpoints.

// A full forward pass written independently of the engine's layout, with
// upstream's schedule: every decoder position recomputed at every step, no
// cache, causality by restricting each query to the keys at or before it. It
// uses the reference ops, so it checks the engine's wiring and its caches.
class RecomputeModel {
 public:
  RecomputeModel(const ModelConfig& config, const std::vector<test::TestTensor>& tensors) : c_(config) {
    for (const test::TestTensor& tensor : tensors) tensors_[tensor.name] = tensor.values;
  }

  // Encoder output after final_norm, (tokens x d_model).
  std::vector<float> Encode(const std::vector<int32_t>& tokens) const {
    const int t = static_cast<int>(tokens.size());
    std::vector<bool> visible(t);
    for (int i = 0; i < t; ++i) visible[i] = tokens[i] != kPadId;
    std::vector<float> x = Embed(tokens), h(x.size()), out(x.size());
    const std::string p = "encoder/layers/EncoderBlock_0";
    for (int l = 0; l < c_.num_encoder_layers; ++l) {
      Norm(x, Layer(p + "/ZCRMSNorm_0/scale", l), h);
      AttentionSublayer(p + "/self_attn", l, h, h, /*rope=*/true, /*causal=*/false, visible, out);
      AddGated(*Layer(p + "/attn_gate", l), out, x);
    }
    Norm(x, Tensor("encoder/final_norm/scale"), h);
    return h;
  }

  // Logits after the last of `decoder_tokens`.
  std::vector<float> Logits(const std::vector<int32_t>& encoder_tokens,
                            const std::vector<int32_t>& decoder_tokens) const {
    const std::vector<float> memory = Encode(encoder_tokens);
    std::vector<bool> memory_visible(encoder_tokens.size());
    for (size_t i = 0; i < encoder_tokens.size(); ++i) memory_visible[i] = encoder_tokens[i] != kPadId;
    const int t = static_cast<int>(decoder_tokens.size()), d = c_.d_model;
    std::vector<float> x = Embed(decoder_tokens), h(x.size()), out(x.size());
    const std::string p = "decoder/layers/DecoderBlock_0";
    for (int l = 0; l < c_.num_decoder_layers; ++l) {
      Norm(x, Layer(p + "/ZCRMSNorm_0/scale", l), h);
      AttentionSublayer(p + "/self_attn", l, h, h, /*rope=*/true, /*causal=*/true, std::vector<bool>(t, true), out);
      AddGated(*Layer(p + "/self_attn_gate", l), out, x);
      Norm(x, Layer(p + "/ZCRMSNorm_1/scale", l), h);
      AttentionSublayer(p + "/cross_attn", l, h, memory, /*rope=*/false, /*causal=*/false, memory_visible, out);
      AddGated(*Layer(p + "/cross_attn_gate", l), out, x);
    }
    Norm(x, Tensor("decoder/ZCRMSNorm_0/scale"), h);
    const float* last = &h[static_cast<size_t>(t - 1) * d];
    const float* embedding = Tensor("embedding/embedding");
    std::vector<float> logits(c_.vocab_size);
    for (int v = 0; v < c_.vocab_size; ++v) {
      logits[v] = std::inner_product(last, last + d, embedding + static_cast<size_t>(v) * d, 0.0f);
    }
    return logits;
  }

 private:
  const float* Tensor(const std::string& name) const { return tensors_.at(name).data(); }

  // Layer `layer` of a stacked tensor.
  const float* Layer(const std::string& name, int layer) const {
    const std::vector<float>& all = tensors_.at(name);
    const int layers = name.rfind("encoder", 0) == 0 ? c_.num_encoder_layers : c_.num_decoder_layers;
    return all.data() + all.size() / layers * layer;
  }

  std::vector<float> Embed(const std::vector<int32_t>& tokens) const {
    const int d = c_.d_model;
    const float* embedding = Tensor("embedding/embedding");
    std::vector<float> x(tokens.size() * d);
    for (size_t t = 0; t < tokens.size(); ++t) {
      for (int i = 0; i < d; ++i) x[t * d + i] = embedding[tokens[t] * d + i] * std::sqrt(static_cast<float>(d));
    }
    return x;
  }

  void Norm(const std::vector<float>& x, const float* scale, std::vector<float>& out) const {
    for (size_t row = 0; row < x.size() / c_.d_model; ++row) {
      ref::ZcRmsNorm(&x[row * c_.d_model], scale, c_.d_model, &out[row * c_.d_model]);
    }
  }

  void AddGated(float gate, const std::vector<float>& update, std::vector<float>& x) const {
    for (size_t i = 0; i < x.size(); ++i) x[i] += ref::Sigmoid(gate) * update[i];
  }

  // out = out_proj(attention(q from `x`, k/v from `source`)).
  void AttentionSublayer(const std::string& p, int l, const std::vector<float>& x, const std::vector<float>& source,
                         bool rope, bool causal, const std::vector<bool>& visible, std::vector<float>& out) const {
    const int d = c_.d_model, kv = c_.kv_dim(), hd = c_.head_dim();
    const int tq = static_cast<int>(x.size()) / d, tk = static_cast<int>(source.size()) / d;
    std::vector<float> q(static_cast<size_t>(tq) * d), k(static_cast<size_t>(tk) * kv), v(k.size()), att(q.size());
    ref::MatMul(x.data(), tq, d, Layer(p + "/q_proj/kernel", l), d, q.data());
    ref::MatMul(source.data(), tk, d, Layer(p + "/k_proj/kernel", l), kv, k.data());
    ref::MatMul(source.data(), tk, d, Layer(p + "/v_proj/kernel", l), kv, v.data());
    auto norm_heads = [&](std::vector<float>& m, int rows, int heads, const float* scale) {
      for (int r = 0; r < rows; ++r) {
        for (int h = 0; h < heads; ++h) {
          float* head = &m[(static_cast<size_t>(r) * heads + h) * hd];
          ref::ZcRmsNorm(head, scale, hd, head);
          if (rope) ref::Rope(head, hd, r, c_.rope_theta);
        }
      }
    };
    norm_heads(q, tq, c_.num_heads, Layer(p + "/q_norm/scale", l));
    norm_heads(k, tk, c_.num_kv_heads, Layer(p + "/k_norm/scale", l));
    if (causal) {
      for (int t = 0; t < tq; ++t) {
        ref::Attention(&q[static_cast<size_t>(t) * d], 1, k.data(), v.data(), t + 1, c_.num_heads, c_.num_kv_heads, hd,
                       std::vector<bool>(t + 1, true), &att[static_cast<size_t>(t) * d]);
      }
    } else {
      ref::Attention(q.data(), tq, k.data(), v.data(), tk, c_.num_heads, c_.num_kv_heads, hd, visible, att.data());
    }
    ref::MatMul(att.data(), tq, d, Layer(p + "/out_proj/kernel", l), d, out.data());
  }

  ModelConfig c_;
  std::map<std::string, std::vector<float>> tensors_;
};

class ReferenceEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tensors_ = new std::vector<test::TestTensor>(test::RandomTensors(test::SmallConfig(), 42, DType::kF32));
    absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
        test::LoadWeights(test::SerializeTensors(*tensors_, test::NeedleMetadata(test::SmallConfig())));
    ASSERT_TRUE(weights.ok()) << weights.status();
    absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine("reference", *weights);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = engine->release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete tensors_;
  }

  static std::vector<int32_t> Tokens(int count, int seed) {
    std::vector<int32_t> tokens(count);
    for (int i = 0; i < count; ++i) tokens[i] = 6 + (seed * 37 + i * 11) % (test::SmallConfig().vocab_size - 6);
    return tokens;
  }

  // Logits after each of `decoder_tokens`, in a fresh session.
  static std::vector<std::vector<float>> Run(const std::vector<int32_t>& encoder_tokens,
                                             const std::vector<int32_t>& decoder_tokens) {
    std::unique_ptr<Session> session = engine_->NewSession();
    EXPECT_TRUE(session->Prefill(encoder_tokens).ok());
    std::vector<std::vector<float>> all;
    for (int32_t token : decoder_tokens) {
      absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
      EXPECT_TRUE(logits.ok()) << logits.status();
      if (!logits.ok()) break;
      all.emplace_back(logits->begin(), logits->end());
    }
    return all;
  }

  // Greedy decoding from EOS for `steps` tokens; returns every step's logits.
  static std::vector<std::vector<float>> Greedy(Session& session, const std::vector<int32_t>& encoder_tokens,
                                                int steps) {
    std::vector<std::vector<float>> all;
    if (!session.Prefill(encoder_tokens).ok()) return all;
    int32_t token = kEosId;
    for (int step = 0; step < steps; ++step) {
      absl::StatusOr<absl::Span<const float>> logits = session.Decode(token);
      if (!logits.ok()) break;
      all.emplace_back(logits->begin(), logits->end());
      token = static_cast<int32_t>(std::max_element(logits->begin(), logits->end()) - logits->begin());
    }
    return all;
  }

  static const Engine& engine() { return *engine_; }
  static const std::vector<test::TestTensor>& tensors() { return *tensors_; }

 private:
  static inline Engine* engine_ = nullptr;
  static inline std::vector<test::TestTensor>* tensors_ = nullptr;
};

TEST_F(ReferenceEngineTest, Identity) {
  EXPECT_EQ(engine().name(), "reference");
  EXPECT_EQ(engine().config().ToJson(), test::SmallConfig().ToJson());
  EXPECT_THAT(EngineNames(), ::testing::Contains("reference"));
}

TEST_F(ReferenceEngineTest, CreateEngineErrors) {
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
      test::LoadWeights(test::RandomCheckpoint(test::SmallConfig(), 1));
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<std::unique_ptr<Engine>> unknown = CreateEngine("turbo", *weights);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("turbo"));
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("reference"));
  EXPECT_FALSE(CreateEngine("reference", nullptr).ok());
}

TEST_F(ReferenceEngineTest, DecodeBeforePrefillIsAnError) {
  std::unique_ptr<Session> session = engine().NewSession();
  absl::StatusOr<absl::Span<const float>> logits = session->Decode(kEosId);
  ASSERT_FALSE(logits.ok());
  EXPECT_EQ(logits.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(logits.status().message()), HasSubstr("Prefill"));
}

TEST_F(ReferenceEngineTest, BadEncoderInputIsAnError) {
  std::unique_ptr<Session> session = engine().NewSession();
  const int vocab = engine().config().vocab_size;
  EXPECT_THAT(std::string(session->Prefill({}).message()), HasSubstr("no tokens"));
  EXPECT_THAT(std::string(session->Prefill(Tokens(1025, 1)).message()), HasSubstr("1025 tokens"));
  EXPECT_THAT(std::string(session->Prefill({7, vocab, 9}).message()), HasSubstr("token 1 has id 300"));
  EXPECT_THAT(std::string(session->Prefill({-1}).message()), HasSubstr("id -1"));
  // A failed Prefill leaves nothing to decode from.
  EXPECT_FALSE(session->Decode(kEosId).ok());
}

TEST_F(ReferenceEngineTest, LongestEncoderInputIsAccepted) {
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(Tokens(kMaxEncoderTokens, 2)).ok());
  EXPECT_EQ(session->num_encoder_tokens(), kMaxEncoderTokens);
  EXPECT_TRUE(session->Decode(kEosId).ok());
}

TEST_F(ReferenceEngineTest, BadDecoderTokenIsAnError) {
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(Tokens(5, 1)).ok());
  EXPECT_FALSE(session->Decode(engine().config().vocab_size).ok());
  EXPECT_FALSE(session->Decode(-3).ok());
  EXPECT_EQ(session->num_decoded_tokens(), 0) << "a rejected token must not advance the position";
  EXPECT_TRUE(session->Decode(kEosId).ok());
  EXPECT_EQ(session->num_decoded_tokens(), 1);
}

TEST_F(ReferenceEngineTest, DecoderLengthIsLimited) {
  // The seed token plus 511 generated ones; one more is out of range, not a crash.
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(Tokens(3, 1)).ok());
  for (int i = 0; i < kMaxGeneratedTokens + 1; ++i) ASSERT_TRUE(session->Decode(6 + i % 50).ok()) << i;
  absl::StatusOr<absl::Span<const float>> logits = session->Decode(kEosId);
  ASSERT_FALSE(logits.ok());
  EXPECT_EQ(logits.status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(ReferenceEngineTest, LogitsAreFiniteWithOneEntryPerToken) {
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(Tokens(12, 3)).ok());
  EXPECT_EQ(session->num_encoder_tokens(), 12);
  EXPECT_EQ(session->encoder_output().size(), 12u * engine().config().d_model);
  for (int32_t token : {kEosId, kToolCallId, 17, 250}) {
    absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_EQ(logits->size(), static_cast<size_t>(engine().config().vocab_size));
    for (float value : *logits) ASSERT_TRUE(std::isfinite(value));
    // Random weights still give distinct scores: a flat row would hide a broken head.
    EXPECT_GT(*std::max_element(logits->begin(), logits->end()) - *std::min_element(logits->begin(), logits->end()),
              0.1f);
  }
  EXPECT_EQ(session->num_decoded_tokens(), 4);
}

TEST_F(ReferenceEngineTest, MatchesFullRecomputationWithoutCache) {
  const RecomputeModel model(engine().config(), tensors());
  const std::vector<int32_t> encoder_tokens = Tokens(9, 4);
  const std::vector<int32_t> decoder_tokens = {kEosId, kToolCallId, 40, 41, 299, 6};
  const std::vector<std::vector<float>> cached = Run(encoder_tokens, decoder_tokens);
  ASSERT_EQ(cached.size(), decoder_tokens.size());

  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(encoder_tokens).ok());
  const std::vector<float> memory = model.Encode(encoder_tokens);
  ASSERT_EQ(session->encoder_output().size(), memory.size());
  for (size_t i = 0; i < memory.size(); ++i) ASSERT_NEAR(session->encoder_output()[i], memory[i], 1e-5f) << i;

  for (size_t step = 0; step < decoder_tokens.size(); ++step) {
    const std::vector<int32_t> prefix(decoder_tokens.begin(), decoder_tokens.begin() + step + 1);
    const std::vector<float> expected = model.Logits(encoder_tokens, prefix);
    for (size_t v = 0; v < expected.size(); ++v) {
      ASSERT_NEAR(cached[step][v], expected[v], 1e-4f) << "step " << step << " token " << v;
    }
  }
}

// The small model with every gate at -100 (sigmoid ~ 4e-44), so that no
// sublayer contributes.
std::vector<test::TestTensor> ClosedGateTensors(DType dtype) {
  std::vector<test::TestTensor> tensors = test::RandomTensors(test::SmallConfig(), 5, dtype);
  for (test::TestTensor& tensor : tensors) {
    if (tensor.name.size() > 5 && tensor.name.compare(tensor.name.size() - 5, 5, "_gate") == 0) {
      std::fill(tensor.values.begin(), tensor.values.end(), -100.0f);
    }
  }
  return tensors;
}

const std::vector<float>& TensorValues(const std::vector<test::TestTensor>& tensors, const std::string& name) {
  auto found = std::find_if(tensors.begin(), tensors.end(), [&](const test::TestTensor& t) { return t.name == name; });
  static const std::vector<float> kMissing;
  EXPECT_NE(found, tensors.end()) << name;
  return found == tensors.end() ? kMissing : found->values;
}

TEST_F(ReferenceEngineTest, ClosedGatesLeaveTheTiedEmbeddingHead) {
  // With every gate at -100 (sigmoid ~ 4e-44) no sublayer contributes, so the
  // logits are the final norm of sqrt(d) * embedding[token] dotted with each
  // embedding row: a hand-checkable path through input scaling, the decoder's
  // final norm and the tied output head.
  const std::vector<test::TestTensor> tensors = ClosedGateTensors(DType::kF32);
  const std::vector<float>* embedding = &TensorValues(tensors, "embedding/embedding");
  const std::vector<float>* final_scale = &TensorValues(tensors, "decoder/ZCRMSNorm_0/scale");
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
      test::LoadWeights(test::SerializeTensors(tensors, test::NeedleMetadata(test::SmallConfig())));
  ASSERT_TRUE(weights.ok()) << weights.status();
  absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine("reference", *weights);
  ASSERT_TRUE(engine.ok());
  std::unique_ptr<Session> session = (*engine)->NewSession();
  ASSERT_TRUE(session->Prefill(Tokens(4, 1)).ok());

  const int d = test::SmallConfig().d_model;
  const int32_t token = 123;
  absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
  ASSERT_TRUE(logits.ok());
  const float* e = &(*embedding)[token * d];
  double sum_squares = 0;
  for (int i = 0; i < d; ++i) sum_squares += double{e[i]} * e[i] * d;  // (sqrt(d) e)^2
  const double inv_rms = 1 / std::sqrt(sum_squares / d + 1e-6);
  for (int v = 0; v < test::SmallConfig().vocab_size; ++v) {
    double expected = 0;
    for (int i = 0; i < d; ++i) {
      expected +=
          (1 + (*final_scale)[i]) * std::sqrt(static_cast<double>(d)) * e[i] * inv_rms * (*embedding)[v * d + i];
    }
    ASSERT_NEAR((*logits)[v], expected, 1e-4) << v;
  }
}

// ---- Upstream numerics: the expected values apply upstream's bf16 cast
// points (docs/engine.md) by hand, with the tests' own bf16 rounding.

TEST(UpstreamNumericsTest, RoundToBf16IsNearestEven) {
  EXPECT_EQ(needle::RoundToBf16(1.0f + 0x1p-8f), 1.0f);                // halfway: down to the even 1.0
  EXPECT_EQ(needle::RoundToBf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);  // halfway: up to the even neighbour
  EXPECT_EQ(needle::RoundToBf16(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f);
  EXPECT_TRUE(std::isnan(needle::RoundToBf16(std::nanf(""))));
  EXPECT_EQ(needle::RoundToBf16(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  for (float value : {0.1f, -3.14159f, 1e-30f, 6.5e37f, 22.627417f}) {
    EXPECT_EQ(needle::RoundToBf16(value), test::RoundToBf16(value)) << value;
  }
  std::vector<float> values = {0.1f, 0.2f};
  ref::RoundTo(Numerics::kExact, absl::MakeSpan(values));
  EXPECT_EQ(values, (std::vector<float>{0.1f, 0.2f}));
  ref::RoundTo(Numerics::kUpstream, absl::MakeSpan(values));
  EXPECT_EQ(values, (std::vector<float>{test::RoundToBf16(0.1f), test::RoundToBf16(0.2f)}));
}

TEST(UpstreamNumericsTest, ZcRmsNormRoundsTheNormalisedValueAndOnePlusScale) {
  // Upstream: y = bf16(bf16(x / rms) * bf16(1 + scale)). 1 + 2^-9 is 1 in bf16,
  // so the first output is the rounded normalised value alone.
  const float x[] = {3, 4};
  const float scale[] = {0x1p-9f, 0.3f};
  float y[2];
  ref::ZcRmsNorm(x, scale, 2, y, Numerics::kUpstream);
  const double inv_rms = 1 / std::sqrt(12.5 + 1e-6);
  EXPECT_EQ(y[0], test::RoundToBf16(static_cast<float>(3 * inv_rms)));
  EXPECT_EQ(y[1], test::RoundToBf16(test::RoundToBf16(static_cast<float>(4 * inv_rms)) * test::RoundToBf16(1.3f)));
  float exact[2];
  ref::ZcRmsNorm(x, scale, 2, exact);
  EXPECT_NE(exact[0], y[0]) << "the exact norm keeps fp32";
}

TEST(UpstreamNumericsTest, AttentionRoundsScoresProbabilitiesAndOutput) {
  // One head of 4 dims, two keys: q.k0 = a, q.k1 = 0; values pick out the
  // probabilities, so out = (bf16(p0), bf16(p1), 0, 0).
  const float a = 1.3862944f;
  const float q[] = {a, 0, 0, 0};
  const float k[] = {1, 0, 0, 0, 0, 0, 0, 0};
  const float v[] = {1, 0, 0, 0, 0, 1, 0, 0};
  float out[4];
  ref::Attention(q, 1, k, v, 2, 1, 1, 4, {true, true}, out, Numerics::kUpstream);
  const float score = test::RoundToBf16(test::RoundToBf16(a) * 0.5f);  // / sqrt(4)
  const double sum = std::exp(double{score}) + 1;
  const float p0 = test::RoundToBf16(static_cast<float>(std::exp(double{score}) / sum));
  const float p1 = test::RoundToBf16(static_cast<float>(1 / sum));
  EXPECT_NEAR(out[0], p0, 1e-7f);
  EXPECT_NEAR(out[1], p1, 1e-7f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(test::RoundToBf16(out[0]), out[0]);
}

TEST(UpstreamNumericsTest, ParseAndEngineSupport) {
  EXPECT_EQ(ParseNumerics("exact").value(), Numerics::kExact);
  EXPECT_EQ(ParseNumerics("upstream").value(), Numerics::kUpstream);
  EXPECT_EQ(NumericsName(Numerics::kUpstream), "upstream");
  EXPECT_THAT(std::string(ParseNumerics("bf16").status().message()), HasSubstr("unknown numerics \"bf16\""));
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
      test::LoadWeights(test::RandomCheckpoint(test::SmallConfig(), 1));
  ASSERT_TRUE(weights.ok()) << weights.status();
  EngineOptions upstream;
  upstream.numerics = Numerics::kUpstream;
  EXPECT_TRUE(CreateEngine("reference", *weights, upstream).ok());
  absl::StatusOr<std::unique_ptr<Engine>> optimized = CreateEngine("optimized", *weights, upstream);
  ASSERT_FALSE(optimized.ok());
  EXPECT_THAT(std::string(optimized.status().message()), HasSubstr("no upstream numerics"));
}

// The small model under upstream numerics.
std::unique_ptr<Engine> UpstreamEngine(const std::vector<test::TestTensor>& tensors) {
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
      test::LoadWeights(test::SerializeTensors(tensors, test::NeedleMetadata(test::SmallConfig())));
  EXPECT_TRUE(weights.ok()) << weights.status();
  EngineOptions options;
  options.numerics = Numerics::kUpstream;
  absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine("reference", *weights, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

TEST_F(ReferenceEngineTest, UpstreamNumericsWithClosedGatesFollowTheCastPoints) {
  // As ClosedGatesLeaveTheTiedEmbeddingHead, by upstream's cast points: the
  // input x = bf16(e * bf16(sqrt(d))), the final norm in bf16, the logits an
  // fp32 product of bf16 values. sigmoid(-100) is below bf16's smallest
  // value, so the closed gates add exactly nothing.
  const std::vector<test::TestTensor> tensors = ClosedGateTensors(DType::kBF16);
  const std::vector<float>* embedding = &TensorValues(tensors, "embedding/embedding");
  const std::vector<float>* final_scale = &TensorValues(tensors, "decoder/ZCRMSNorm_0/scale");
  std::unique_ptr<Engine> engine = UpstreamEngine(tensors);
  ASSERT_NE(engine, nullptr);
  std::unique_ptr<Session> session = engine->NewSession();
  ASSERT_TRUE(session->Prefill(Tokens(4, 1)).ok());
  const int32_t token = 123;
  absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
  ASSERT_TRUE(logits.ok());

  const int d = test::SmallConfig().d_model;
  const float sqrt_d = test::RoundToBf16(std::sqrt(static_cast<float>(d)));
  std::vector<float> x(d), h(d);
  double sum_squares = 0;
  for (int i = 0; i < d; ++i) {
    x[i] = test::RoundToBf16((*embedding)[token * d + i] * sqrt_d);
    sum_squares += double{x[i]} * x[i];
  }
  const double inv_rms = 1 / std::sqrt(sum_squares / d + 1e-6);
  for (int i = 0; i < d; ++i) {
    h[i] = test::RoundToBf16(test::RoundToBf16(static_cast<float>(x[i] * inv_rms)) *
                             test::RoundToBf16(1.0f + (*final_scale)[i]));
  }
  for (int v = 0; v < test::SmallConfig().vocab_size; ++v) {
    double expected = 0;
    for (int i = 0; i < d; ++i) expected += double{h[i]} * (*embedding)[v * d + i];
    ASSERT_NEAR((*logits)[v], expected, 1e-5) << v;
  }
}

TEST_F(ReferenceEngineTest, UpstreamNumericsKeepActivationsInBf16) {
  std::unique_ptr<Engine> upstream = UpstreamEngine(tensors());
  ASSERT_NE(upstream, nullptr);
  std::unique_ptr<Session> session = upstream->NewSession();
  const std::vector<std::vector<float>> logits = Greedy(*session, Tokens(9, 3), 4);
  ASSERT_EQ(logits.size(), 4u);
  for (float value : session->encoder_output()) ASSERT_EQ(test::RoundToBf16(value), value);

  // The exact engine's values are not bf16, and its logits differ, by about
  // what bf16's 8 significant bits allow.
  std::unique_ptr<Session> exact = engine().NewSession();
  const std::vector<std::vector<float>> exact_logits = Greedy(*exact, Tokens(9, 3), 4);
  ASSERT_EQ(exact_logits.size(), 4u);
  EXPECT_FALSE(std::all_of(exact->encoder_output().begin(), exact->encoder_output().end(),
                           [](float value) { return test::RoundToBf16(value) == value; }));
  float largest_difference = 0;
  for (size_t i = 0; i < logits[0].size(); ++i) {
    largest_difference = std::max(largest_difference, std::abs(logits[0][i] - exact_logits[0][i]));
  }
  EXPECT_GT(largest_difference, 0.0f);
  EXPECT_LT(largest_difference, 0.2f);

  std::unique_ptr<Session> again = upstream->NewSession();
  EXPECT_EQ(Greedy(*again, Tokens(9, 3), 4), logits) << "upstream numerics are deterministic too";
  const std::vector<float> embedding = upstream->RetrievalEmbedding(Tokens(5, 1)).value();
  double norm = 0;
  for (float value : embedding) norm += double{value} * value;
  EXPECT_NEAR(norm, 1.0, 1e-5);
}

TEST_F(ReferenceEngineTest, TwoSessionsGiveBitIdenticalLogits) {
  const std::vector<int32_t> encoder_tokens = Tokens(20, 5);
  std::unique_ptr<Session> a = engine().NewSession();
  std::unique_ptr<Session> b = engine().NewSession();
  // Interleave the two so that any state shared through the engine would show.
  ASSERT_TRUE(a->Prefill(encoder_tokens).ok());
  ASSERT_TRUE(b->Prefill(encoder_tokens).ok());
  for (int32_t token : {kEosId, kToolCallId, 77, 78}) {
    absl::StatusOr<absl::Span<const float>> la = a->Decode(token);
    ASSERT_TRUE(la.ok());
    const std::vector<float> first(la->begin(), la->end());
    absl::StatusOr<absl::Span<const float>> lb = b->Decode(token);
    ASSERT_TRUE(lb.ok());
    EXPECT_EQ(first, std::vector<float>(lb->begin(), lb->end()));
  }
}

TEST_F(ReferenceEngineTest, PrefillResetsTheSession) {
  // One session reused for a second request must behave like a fresh one:
  // nothing of the first request's decoder state may leak into the second.
  const std::vector<int32_t> first = Tokens(15, 6), second = Tokens(8, 7);
  const std::vector<int32_t> decoder_tokens = {kEosId, kToolCallId, 90};
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(first).ok());
  for (int32_t token : {kEosId, 10, 11, 12, 13}) ASSERT_TRUE(session->Decode(token).ok());
  ASSERT_TRUE(session->Prefill(second).ok());
  EXPECT_EQ(session->num_decoded_tokens(), 0);
  EXPECT_EQ(session->num_encoder_tokens(), 8);
  const std::vector<std::vector<float>> fresh = Run(second, decoder_tokens);
  for (size_t step = 0; step < decoder_tokens.size(); ++step) {
    absl::StatusOr<absl::Span<const float>> logits = session->Decode(decoder_tokens[step]);
    ASSERT_TRUE(logits.ok());
    EXPECT_EQ(std::vector<float>(logits->begin(), logits->end()), fresh[step]) << step;
  }
}

TEST_F(ReferenceEngineTest, EncoderIsBidirectional) {
  std::vector<int32_t> tokens = Tokens(10, 8);
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(tokens).ok());
  const int d = engine().config().d_model;
  const std::vector<float> before(session->encoder_output().begin(), session->encoder_output().begin() + d);
  tokens.back() = tokens.back() == 100 ? 101 : 100;
  ASSERT_TRUE(session->Prefill(tokens).ok());
  const std::vector<float> after(session->encoder_output().begin(), session->encoder_output().begin() + d);
  float largest_change = 0;
  for (int i = 0; i < d; ++i) largest_change = std::max(largest_change, std::fabs(after[i] - before[i]));
  EXPECT_GT(largest_change, 1e-4f) << "position 0 must see the last token";
}

TEST_F(ReferenceEngineTest, DecoderIsCausal) {
  const std::vector<int32_t> encoder_tokens = Tokens(6, 9);
  const std::vector<std::vector<float>> a = Run(encoder_tokens, {kEosId, kToolCallId, 50, 60, 70});
  const std::vector<std::vector<float>> b = Run(encoder_tokens, {kEosId, kToolCallId, 51, 200});
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_NE(a[2], b[2]) << "different inputs at step 2 should change its logits";
}

TEST_F(ReferenceEngineTest, DecoderDependsOnTheEncoder) {
  const std::vector<std::vector<float>> a = Run(Tokens(6, 10), {kEosId});
  const std::vector<std::vector<float>> b = Run(Tokens(6, 11), {kEosId});
  EXPECT_NE(a[0], b[0]) << "cross-attention must carry the encoder input";
}

TEST_F(ReferenceEngineTest, TrailingPaddingChangesNothing) {
  // PAD positions are masked as keys in the encoder and in cross-attention.
  std::vector<int32_t> tokens = Tokens(7, 12);
  std::vector<int32_t> padded = tokens;
  padded.insert(padded.end(), 5, kPadId);
  const std::vector<int32_t> decoder_tokens = {kEosId, kToolCallId, 33};
  const std::vector<std::vector<float>> plain = Run(tokens, decoder_tokens);
  const std::vector<std::vector<float>> with_padding = Run(padded, decoder_tokens);
  for (size_t step = 0; step < decoder_tokens.size(); ++step) {
    for (size_t v = 0; v < plain[step].size(); ++v) ASSERT_NEAR(plain[step][v], with_padding[step][v], 1e-5f);
  }
}

TEST_F(ReferenceEngineTest, Bf16AndF32CheckpointsWithTheSameValuesAgree) {
  // RandomTensors rounds its values to bf16, so writing them as F32 gives a
  // file with identical numbers in a different encoding.
  const ModelConfig config = test::SmallConfig();
  std::vector<test::TestTensor> tensors = test::RandomTensors(config, 77, DType::kBF16);
  absl::StatusOr<std::shared_ptr<const ModelWeights>> bf16 =
      test::LoadWeights(test::SerializeTensors(tensors, test::NeedleMetadata(config)));
  for (test::TestTensor& tensor : tensors) tensor.dtype = DType::kF32;
  absl::StatusOr<std::shared_ptr<const ModelWeights>> f32 =
      test::LoadWeights(test::SerializeTensors(tensors, test::NeedleMetadata(config)));
  ASSERT_TRUE(bf16.ok() && f32.ok());
  EXPECT_EQ((*bf16)->Get("embedding/embedding").dtype, DType::kBF16);
  EXPECT_EQ((*f32)->Get("embedding/embedding").dtype, DType::kF32);

  absl::StatusOr<std::unique_ptr<Engine>> bf16_engine = CreateEngine("reference", *bf16);
  absl::StatusOr<std::unique_ptr<Engine>> f32_engine = CreateEngine("reference", *f32);
  ASSERT_TRUE(bf16_engine.ok() && f32_engine.ok());
  std::unique_ptr<Session> a = (*bf16_engine)->NewSession();
  std::unique_ptr<Session> b = (*f32_engine)->NewSession();
  EXPECT_EQ(Greedy(*a, Tokens(11, 13), 6), Greedy(*b, Tokens(11, 13), 6));
  EXPECT_EQ((*bf16_engine)->RetrievalEmbedding(Tokens(5, 1)).value(),
            (*f32_engine)->RetrievalEmbedding(Tokens(5, 1)).value());
}

TEST_F(ReferenceEngineTest, ConcurrentSessionsMatchSequentialRuns) {
  constexpr int kThreads = 8, kSteps = 12;
  std::vector<std::vector<int32_t>> inputs;
  for (int i = 0; i < kThreads; ++i) inputs.push_back(Tokens(5 + 3 * i, 20 + i));

  std::vector<std::vector<std::vector<float>>> sequential(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    std::unique_ptr<Session> session = engine().NewSession();
    sequential[i] = Greedy(*session, inputs[i], kSteps);
    ASSERT_EQ(sequential[i].size(), static_cast<size_t>(kSteps));
  }

  std::vector<std::vector<std::vector<float>>> concurrent(kThreads);
  std::vector<std::vector<float>> retrieval(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<Session> session = engine().NewSession();
      concurrent[i] = Greedy(*session, inputs[i], kSteps);
      retrieval[i] = engine().RetrievalEmbedding(inputs[i]).value_or(std::vector<float>{});
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(concurrent[i], sequential[i]) << "thread " << i;
    EXPECT_EQ(retrieval[i], engine().RetrievalEmbedding(inputs[i]).value()) << "thread " << i;
  }
}

TEST_F(ReferenceEngineTest, RetrievalEmbeddingIsUnitLength) {
  for (int seed = 0; seed < 4; ++seed) {
    absl::StatusOr<std::vector<float>> embedding = engine().RetrievalEmbedding(Tokens(3 + seed * 5, seed));
    ASSERT_TRUE(embedding.ok()) << embedding.status();
    ASSERT_EQ(embedding->size(), static_cast<size_t>(engine().config().retrieval_dim()));
    float sum_squares = 0;
    for (float x : *embedding) sum_squares += x * x;
    EXPECT_NEAR(sum_squares, 1.0f, 1e-5f);
  }
  EXPECT_NE(engine().RetrievalEmbedding(Tokens(6, 1)).value(), engine().RetrievalEmbedding(Tokens(6, 2)).value());
}

TEST_F(ReferenceEngineTest, RetrievalEmbeddingMatchesTheHead) {
  // mean-pool -> Dense(r, bias) -> ReLU -> Dense(r) -> L2 normalise, by hand.
  const std::vector<int32_t> tokens = Tokens(9, 14);
  std::unique_ptr<Session> session = engine().NewSession();
  ASSERT_TRUE(session->Prefill(tokens).ok());
  const int d = engine().config().d_model, r = engine().config().retrieval_dim();
  std::map<std::string, const std::vector<float>*> by_name;
  for (const test::TestTensor& tensor : tensors()) by_name[tensor.name] = &tensor.values;
  std::vector<double> pooled(d, 0.0);
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int i = 0; i < d; ++i) pooled[i] += session->encoder_output()[t * d + i] / tokens.size();
  }
  std::vector<double> hidden(r), out(r);
  for (int o = 0; o < r; ++o) {
    hidden[o] = (*by_name["contrastive_hidden/bias"])[o];
    for (int i = 0; i < d; ++i) hidden[o] += pooled[i] * (*by_name["contrastive_hidden/kernel"])[i * r + o];
    hidden[o] = std::max(0.0, hidden[o]);
  }
  double norm = 0;
  for (int o = 0; o < r; ++o) {
    for (int i = 0; i < r; ++i) out[o] += hidden[i] * (*by_name["contrastive_proj/kernel"])[i * r + o];
    norm += out[o] * out[o];
  }
  const std::vector<float> embedding = engine().RetrievalEmbedding(tokens).value();
  for (int o = 0; o < r; ++o) EXPECT_NEAR(embedding[o], out[o] / std::sqrt(norm), 1e-5) << o;
}

TEST_F(ReferenceEngineTest, RetrievalEmbeddingIgnoresPadding) {
  std::vector<int32_t> tokens = Tokens(6, 15);
  std::vector<int32_t> padded = tokens;
  padded.insert(padded.end(), 10, kPadId);
  const std::vector<float> plain = engine().RetrievalEmbedding(tokens).value();
  const std::vector<float> with_padding = engine().RetrievalEmbedding(padded).value();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(plain[i], with_padding[i], 1e-6f) << i;
}

TEST_F(ReferenceEngineTest, RetrievalEmbeddingRejectsBadInput) {
  EXPECT_FALSE(engine().RetrievalEmbedding({}).ok());
  EXPECT_FALSE(engine().RetrievalEmbedding(Tokens(kMaxEncoderTokens + 1, 1)).ok());
  EXPECT_FALSE(engine().RetrievalEmbedding({5, 300}).ok());
}

TEST(ValidateTokensTest, RangeAndLength) {
  EXPECT_TRUE(ValidateTokens({0, 1, 9}, 10, 3, "x").ok());
  EXPECT_THAT(std::string(ValidateTokens({0, 10}, 10, 3, "input").message()),
              HasSubstr("input: token 1 has id 10, outside the vocabulary [0, 10)"));
  EXPECT_THAT(std::string(ValidateTokens({1, 2, 3, 4}, 10, 3, "input").message()), HasSubstr("4 tokens, at most 3"));
  EXPECT_THAT(std::string(ValidateTokens({}, 10, 3, "input").message()), HasSubstr("no tokens"));
}

}  // namespace
}  // namespace needle
