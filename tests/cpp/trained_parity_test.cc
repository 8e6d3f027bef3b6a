// The shipped model, as the PyTorch trainer computes it, against the C++
// reference engine.
//
// tests/data/parity/default_model.json holds, for a few dataset records, what
// python/needle_torch.py (fp32) computed with models/default: the encoder ids
// of the prompt, the greedy unconstrained ids, and per decode step the top-8
// (id, logit) pairs and the logsumexp of all logits. If the trainer and the
// engines ever disagree on the prompt layout, the tokenizer or the network,
// the model we train is not the model we run; this test says so.
//
// Tolerance: |logit_cpp - logit_torch| <= 1e-4 * max(1, largest |logit| of
// that step), likewise for the logsumexp; ids must match exactly (the fixture
// leaves out records whose greedy choice is a near tie).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "needle/engine.h"
#include "needle/generate.h"
#include "needle/tokenizer.h"
#include "nlohmann/json.hpp"

namespace needle {
namespace {

const std::string kModelPath = NEEDLE_SOURCE_DIR "/models/default/needle.safetensors";
const std::string kTokenizerPath = NEEDLE_SOURCE_DIR "/models/default/tokenizer.model";
const std::string kFixturePath = NEEDLE_SOURCE_DIR "/tests/data/parity/default_model.json";
constexpr double kRelTol = 1e-4;

std::string Regenerate(const nlohmann::json& fixture) {
  return "The fixture must be regenerated whenever models/default changes; from the repository root run\n"
         "  /usr/bin/python3 python/make_parity_fixture.py models/default/needle.safetensors "
         "models/default/tokenizer.model datasets/needle15/dev.jsonl tests/data/parity/default_model.json\n"
         "(needs PyTorch and SentencePiece for Python). This fixture was made with: " +
         fixture.value("regenerate", std::string("?"));
}

class TrainedParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(kFixturePath);
    ASSERT_TRUE(in) << "missing " << kFixturePath << "; create it with python/make_parity_fixture.py";
    fixture_ = nlohmann::json::parse(in);
    const auto model_bytes = std::filesystem::file_size(kModelPath);
    ASSERT_EQ(model_bytes, fixture_["checkpoint_bytes"].get<uintmax_t>())
        << "models/default/needle.safetensors is not the checkpoint the fixture was made from. "
        << Regenerate(fixture_);
    auto caller = ToolCaller::Load(kModelPath, kTokenizerPath, "reference");
    ASSERT_TRUE(caller.ok()) << caller.status();
    caller_ = *std::move(caller);
    ASSERT_FALSE(fixture_["records"].empty());
  }

  nlohmann::json fixture_;
  std::unique_ptr<ToolCaller> caller_;
};

TEST_F(TrainedParityTest, SameEncoderIdsAndGreedyIds) {
  GenerateOptions options;
  options.constrained = false;  // the fixture's greedy decoding is unconstrained
  options.max_new_tokens = fixture_["max_new_tokens"].get<int>();
  for (const auto& record : fixture_["records"]) {
    SCOPED_TRACE(record["query"].get<std::string>());
    auto result = caller_->Generate(record["query"].get<std::string>(), record["tools_json"].get<std::string>(),
                                    options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->encoder_tokens, record["encoder_ids"].get<std::vector<int32_t>>())
        << "the trainer builds a different encoder prompt than the engine. " << Regenerate(fixture_);
    EXPECT_EQ(result->tokens, record["generated_ids"].get<std::vector<int32_t>>())
        << "greedy ids differ. " << Regenerate(fixture_);
  }
}

TEST_F(TrainedParityTest, SameLogitsAlongTheGreedyPath) {
  double worst_abs = 0, worst_rel = 0;
  int steps_checked = 0;
  for (const auto& record : fixture_["records"]) {
    SCOPED_TRACE(record["query"].get<std::string>());
    const auto encoder_ids = record["encoder_ids"].get<std::vector<int32_t>>();
    const auto generated = record["generated_ids"].get<std::vector<int32_t>>();
    const auto& steps = record["steps"];
    std::unique_ptr<Session> session = caller_->engine().NewSession();
    ASSERT_TRUE(session->Prefill(encoder_ids).ok());
    // Teacher forcing along the fixture's own greedy path, so one differing
    // choice does not hide the logits of every later step.
    int32_t token = kEosId;
    for (size_t i = 0; i < steps.size(); ++i) {
      auto logits = session->Decode(token);
      ASSERT_TRUE(logits.ok()) << logits.status();
      const auto& step = steps[i];
      double scale = 1;
      for (const auto& pair : step["top"]) scale = std::max(scale, std::abs(pair[1].get<double>()));
      const double tol = kRelTol * scale;
      for (const auto& pair : step["top"]) {
        const int32_t id = pair[0].get<int32_t>();
        const double want = pair[1].get<double>();
        const double got = (*logits)[id];
        EXPECT_NEAR(got, want, tol) << "step " << i << " token " << id;
        worst_abs = std::max(worst_abs, std::abs(got - want));
        worst_rel = std::max(worst_rel, std::abs(got - want) / scale);
      }
      const float max_logit = *std::max_element(logits->begin(), logits->end());
      double sum = 0;
      for (float v : *logits) sum += std::exp(static_cast<double>(v) - max_logit);
      const double logsumexp = max_logit + std::log(sum);
      EXPECT_NEAR(logsumexp, step["logsumexp"].get<double>(), tol) << "step " << i;
      const int32_t argmax =
          static_cast<int32_t>(std::max_element(logits->begin(), logits->end()) - logits->begin());
      const int32_t want_next = i < generated.size() ? generated[i] : kEosId;
      EXPECT_EQ(argmax, want_next) << "step " << i;
      token = want_next;
      ++steps_checked;
    }
  }
  std::printf("[ parity ] %d decode steps, max |logit diff| %.3g, max relative %.3g (tolerance %.0e)\n",
              steps_checked, worst_abs, worst_rel, kRelTol);
}

}  // namespace
}  // namespace needle
