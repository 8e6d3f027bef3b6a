#include "needle/config.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "test_checkpoint.h"

namespace needle {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

std::string ErrorOf(std::string_view json) {
  absl::StatusOr<ModelConfig> config = ModelConfig::FromJson(json);
  EXPECT_FALSE(config.ok()) << "accepted " << json;
  return config.ok() ? "" : std::string(config.status().message());
}

// The release config as JSON with one key replaced (or removed when `value` is null).
std::string ReleaseJsonWith(const std::string& key, const Json& value) {
  Json json = Json::parse(ModelConfig::Release26M().ToJson());
  if (value.is_null()) {
    json.erase(key);
  } else {
    json[key] = value;
  }
  return json.dump();
}

TEST(ConfigTest, ReleaseParameterCountsMatchUpstream) {
  const ParameterCounts counts = CountParameters(ModelConfig::Release26M());
  EXPECT_EQ(counts.embedding, 4'194'304);
  EXPECT_EQ(counts.encoder, 9'445'388);
  EXPECT_EQ(counts.decoder, 12'593'680);
  EXPECT_EQ(counts.retrieval, 82'049);
  EXPECT_EQ(counts.total(), 26'315'421);
}

TEST(ConfigTest, ReleaseDerivedSizes) {
  const ModelConfig config = ModelConfig::Release26M();
  EXPECT_EQ(config.head_dim(), 64);
  EXPECT_EQ(config.kv_dim(), 256);
  EXPECT_EQ(config.retrieval_dim(), 128);
  EXPECT_TRUE(config.Validate().ok());
}

TEST(ConfigTest, ExpectedTensorsAreUniqueAndShapedFromTheConfig) {
  const ModelConfig config = ModelConfig::Release26M();
  const std::vector<TensorSpec> specs = ExpectedTensors(config);
  std::set<std::string> names;
  for (const TensorSpec& spec : specs) EXPECT_TRUE(names.insert(spec.name).second) << spec.name;
  // embedding; encoder layer stack, final norm; decoder layer stack, final norm; retrieval head
  EXPECT_EQ(specs.size(), 1u + 8 + 1 + 16 + 1 + 4);

  auto shape_of = [&](const std::string& name) {
    for (const TensorSpec& spec : specs) {
      if (spec.name == name) return spec.shape;
    }
    ADD_FAILURE() << "no tensor " << name;
    return std::vector<int64_t>{};
  };
  EXPECT_EQ(shape_of("embedding/embedding"), (std::vector<int64_t>{8192, 512}));
  EXPECT_EQ(shape_of("encoder/layers/EncoderBlock_0/self_attn/k_proj/kernel"), (std::vector<int64_t>{12, 512, 256}));
  EXPECT_EQ(shape_of("decoder/layers/DecoderBlock_0/cross_attn/q_norm/scale"), (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(shape_of("decoder/layers/DecoderBlock_0/self_attn_gate"), (std::vector<int64_t>{8}));
  EXPECT_EQ(shape_of("contrastive_hidden/kernel"), (std::vector<int64_t>{512, 128}));
  EXPECT_EQ(shape_of("log_temp"), (std::vector<int64_t>{}));
}

TEST(ConfigTest, ShapeString) {
  EXPECT_EQ(ShapeString({12, 512, 256}), "(12, 512, 256)");
  EXPECT_EQ(ShapeString({}), "()");
}

TEST(ConfigTest, ToJsonRoundTrips) {
  for (const ModelConfig& config : {ModelConfig::Release26M(), test::SmallConfig()}) {
    absl::StatusOr<ModelConfig> parsed = ModelConfig::FromJson(config.ToJson());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->vocab_size, config.vocab_size);
    EXPECT_EQ(parsed->d_model, config.d_model);
    EXPECT_EQ(parsed->num_heads, config.num_heads);
    EXPECT_EQ(parsed->num_kv_heads, config.num_kv_heads);
    EXPECT_EQ(parsed->num_encoder_layers, config.num_encoder_layers);
    EXPECT_EQ(parsed->num_decoder_layers, config.num_decoder_layers);
    EXPECT_EQ(parsed->rope_theta, config.rope_theta);
    EXPECT_EQ(parsed->ToJson(), config.ToJson());
  }
}

TEST(ConfigTest, ToJsonIsCompactWithEveryKey) {
  const std::string json = ModelConfig::Release26M().ToJson();
  EXPECT_EQ(json.find(' '), std::string::npos) << json;
  const Json parsed = Json::parse(json);
  for (const char* key : {"vocab_size", "d_model", "num_heads", "num_kv_heads", "num_encoder_layers",
                          "num_decoder_layers", "rope_theta"}) {
    EXPECT_TRUE(parsed.contains(key)) << key;
  }
}

TEST(ConfigTest, NonIntegralRopeThetaSurvivesRoundTrip) {
  ModelConfig config = test::SmallConfig();
  config.rope_theta = 500000.5;
  absl::StatusOr<ModelConfig> parsed = ModelConfig::FromJson(config.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->rope_theta, 500000.5);
}

TEST(ConfigTest, MissingKeyIsNamed) {
  for (const char* key : {"vocab_size", "d_model", "num_heads", "num_kv_heads", "num_encoder_layers",
                          "num_decoder_layers", "rope_theta"}) {
    EXPECT_THAT(ErrorOf(ReleaseJsonWith(key, nullptr)), HasSubstr(key));
  }
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("d_model", nullptr)), HasSubstr("missing"));
}

TEST(ConfigTest, WrongTypesAreRejectedWithTheKey) {
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("d_model", "512")), HasSubstr("d_model"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("d_model", 512.5)), HasSubstr("d_model"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("num_heads", true)), HasSubstr("num_heads"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("vocab_size", Json::array({8192}))), HasSubstr("vocab_size"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("rope_theta", "10000")), HasSubstr("rope_theta"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("d_model", "512")), HasSubstr("integer"));
}

TEST(ConfigTest, OutOfRangeValuesAreRejected) {
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("num_heads", 0)), HasSubstr("num_heads"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("num_encoder_layers", -1)), HasSubstr("num_encoder_layers"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("vocab_size", int64_t{1} << 40)), HasSubstr("vocab_size"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("vocab_size", 5)), HasSubstr("vocab_size"));
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("rope_theta", 0.5)), HasSubstr("rope_theta"));
}

TEST(ConfigTest, NotAnObject) {
  EXPECT_THAT(ErrorOf("not json"), HasSubstr("needle_config: not valid JSON: parse error at line 1, column 2"));
  EXPECT_THAT(ErrorOf("[1, 2]"), HasSubstr("needle_config: not a JSON object"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("needle_config: not valid JSON"));
  EXPECT_THAT(ErrorOf(std::string(200000, '[') + std::string(200000, ']')),
              HasSubstr("needle_config: not valid JSON: nested deeper than 128 levels"));
}

TEST(ConfigTest, HeadsMustDivideDModel) {
  const std::string error = ErrorOf(ReleaseJsonWith("num_heads", 7));
  EXPECT_THAT(error, HasSubstr("d_model 512"));
  EXPECT_THAT(error, HasSubstr("num_heads 7"));
}

TEST(ConfigTest, KvHeadsMustDivideHeads) {
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("num_kv_heads", 3)), HasSubstr("num_kv_heads 3"));
  // More KV heads than query heads cannot be shared out either.
  EXPECT_THAT(ErrorOf(ReleaseJsonWith("num_kv_heads", 16)), HasSubstr("num_kv_heads 16"));
}

TEST(ConfigTest, OddHeadDimIsRejectedForRope) {
  // d_model 36 / 4 heads = head_dim 9: RoPE rotates halves, so it needs an even size.
  Json json = Json::parse(test::SmallConfig().ToJson());
  json["d_model"] = 36;
  json["num_heads"] = 4;
  json["num_kv_heads"] = 2;
  const std::string error = ErrorOf(json.dump());
  EXPECT_THAT(error, HasSubstr("head_dim 9"));
  EXPECT_THAT(error, HasSubstr("even"));
}

TEST(ConfigTest, DModelMustSplitIntoTheRetrievalWidth) {
  // head_dim 2 is even, but d_model 6 has no integral d_model / 4.
  Json json = Json::parse(test::SmallConfig().ToJson());
  json["d_model"] = 6;
  json["num_heads"] = 3;
  json["num_kv_heads"] = 1;
  EXPECT_THAT(ErrorOf(json.dump()), HasSubstr("divisible by 4"));
}

TEST(ConfigTest, SmallTestConfigIsValid) {
  EXPECT_TRUE(test::SmallConfig().Validate().ok());
  EXPECT_EQ(test::SmallConfig().num_heads / test::SmallConfig().num_kv_heads, 2);
}

}  // namespace
}  // namespace needle
