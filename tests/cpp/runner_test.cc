#include "needle/evals/runner.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/evals/needle_system.h"
#include "needle/evals/system_spec.h"
#include "needle/generate.h"

namespace needle::evals {

using toolcalls::ToolSchema;

namespace {

// Answers "[]" for queries containing "none", fails requests containing
// "fail", and otherwise calls the first tool with no arguments; sleeps a
// little so that parallel requests overlap.
class ScriptedSystem : public System {
 public:
  const std::string& name() const override { return name_; }
  absl::StatusOr<Prediction> Predict(const EvalItem& item) const override {
    const int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --in_flight_;
    if (item.query.find("fail") != std::string::npos) return absl::UnavailableError("connection refused");
    Prediction prediction;
    prediction.latency_ms = 2;
    if (item.query.find("none") != std::string::npos) {
      prediction.text = "[]";
    } else if (item.query.find("garbage") != std::string::npos) {
      prediction.text = "[{\"name\": ";
    } else {
      prediction.text = "[{\"name\":\"" + item.tools.front().name + "\",\"arguments\":{}}]";
    }
    return prediction;
  }
  int max_in_flight() const { return max_in_flight_; }

 private:
  std::string name_ = "scripted";
  mutable std::atomic<int> in_flight_{0};
  mutable std::atomic<int> max_in_flight_{0};
};

EvalItem Item(const std::string& id, const std::string& query, bool expects_call) {
  EvalItem item;
  item.id = id;
  item.category = "test";
  item.call_type = expects_call ? "single" : "none";
  item.query = query;
  item.tools_json = R"([{"name":"ping","description":"Ping a host","parameters":{}}])";
  item.tools = {ToolSchema{"ping", "Ping a host", {}}};
  if (expects_call) item.answers = {ExpectedCall{"ping", {}}};
  return item;
}

Dataset MakeDataset() {
  Dataset dataset;
  dataset.name = "scripted";
  for (int i = 0; i < 20; ++i) dataset.items.push_back(Item("call_" + std::to_string(i), "ping it", true));
  dataset.items.push_back(Item("none", "none fits", false));
  dataset.items.push_back(Item("failed", "fail please", true));
  dataset.items.push_back(Item("garbage", "garbage out", true));
  return dataset;
}

TEST(RunnerTest, ScoresEveryItemInOrderWithRequestsInParallel) {
  const ScriptedSystem system;
  const std::vector<Dataset> datasets = {MakeDataset()};
  int calls = 0, last_done = 0;
  RunOptions options;
  options.parallel = 4;
  options.on_result = [&](int done, int total, const ItemResult&) {
    ++calls;
    EXPECT_EQ(done, last_done + 1);
    last_done = done;
    EXPECT_EQ(total, 23);
  };
  const std::vector<ItemResult> results = RunEval({&system}, datasets, options);
  ASSERT_EQ(results.size(), 23u);
  EXPECT_EQ(calls, 23);
  EXPECT_GT(system.max_in_flight(), 1);
  for (int i = 0; i < 23; ++i) EXPECT_EQ(results[i].item, i);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(results[i].score.bfcl.valid) << i;
  EXPECT_TRUE(results[20].score.bfcl.valid);  // [] where no call is expected

  // A failed request is kept apart from the output and scored as unreadable.
  const ItemResult& failed = results[21];
  EXPECT_EQ(failed.request_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(failed.output.parsed);
  EXPECT_THAT(failed.output.error, testing::HasSubstr("connection refused"));
  EXPECT_FALSE(failed.score.bfcl.valid);

  const ItemResult& garbage = results[22];
  EXPECT_TRUE(garbage.request_status.ok());
  EXPECT_FALSE(garbage.output.parsed);
  EXPECT_EQ(garbage.score.counts.parsed, 0);
  EXPECT_FALSE(garbage.score.bfcl.valid);
}

TEST(RunnerTest, SeveralSystemsAndDatasetsComeBackSystemMajor) {
  const ScriptedSystem a, b;
  Dataset small;
  small.name = "small";
  small.items = {Item("x", "ping", true)};
  const std::vector<ItemResult> results = RunEval({&a, &b}, {MakeDataset(), small}, {});
  ASSERT_EQ(results.size(), 48u);
  EXPECT_EQ(results[23].system, 0);
  EXPECT_EQ(results[23].dataset, 1);
  EXPECT_EQ(results[24].system, 1);
  EXPECT_EQ(results[24].dataset, 0);
}

// One loaded model answering many requests at once must give each request
// the answer it gets alone: no state may leak between sessions.
TEST(RunnerTest, NeedleAnswersInParallelEqualSequentialAnswers) {
  SystemDefaults defaults;
  defaults.model_path = NEEDLE_SOURCE_DIR "/models/default/needle.safetensors";
  defaults.tokenizer_path = NEEDLE_SOURCE_DIR "/models/default/tokenizer.model";
  defaults.max_new_tokens = 40;  // the untrained default model rarely stops by itself
  absl::StatusOr<std::unique_ptr<System>> system = MakeSystem("needle:reference", defaults);
  ASSERT_TRUE(system.ok()) << system.status();
  EXPECT_EQ((*system)->name(), "needle-reference");
  Dataset dataset;
  dataset.name = "queries";
  const char* queries[] = {
      "ping the router", "what's the weather in Paris", "set a timer for 5 minutes", "send Bob a message",
      "none of these",   "ping 10.0.0.1 twice"};
  for (int repeat = 0; repeat < 2; ++repeat) {
    for (const char* query : queries) dataset.items.push_back(Item(query, query, true));
  }
  RunOptions sequential, parallel;
  parallel.parallel = 4;
  const std::vector<ItemResult> one = RunEval({system->get()}, {dataset}, sequential);
  const std::vector<ItemResult> many = RunEval({system->get()}, {dataset}, parallel);
  ASSERT_EQ(one.size(), many.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_TRUE(one[i].request_status.ok()) << one[i].request_status;
    EXPECT_EQ(one[i].prediction.text, many[i].prediction.text) << dataset.items[i].query;
    EXPECT_GE(one[i].prediction.ttft_ms, 0);
    EXPECT_LE(one[i].prediction.ttft_ms, one[i].prediction.latency_ms);
    EXPECT_GE(one[i].prediction.output_tokens, 0);
  }
}

// The optimized engine at fp32 must reach the reference's greedy tokens, so
// through the whole pipeline it gives the same text.
TEST(RunnerTest, OptimizedEngineAnswersLikeTheReference) {
  SystemDefaults defaults;
  defaults.model_path = NEEDLE_SOURCE_DIR "/models/default/needle.safetensors";
  defaults.tokenizer_path = NEEDLE_SOURCE_DIR "/models/default/tokenizer.model";
  defaults.max_new_tokens = 40;
  absl::StatusOr<std::unique_ptr<System>> reference = MakeSystem("needle:reference", defaults);
  absl::StatusOr<std::unique_ptr<System>> optimized = MakeSystem("needle:optimized:fp32", defaults);
  ASSERT_TRUE(reference.ok()) << reference.status();
  ASSERT_TRUE(optimized.ok()) << optimized.status();
  EXPECT_EQ((*optimized)->name(), "needle-optimized-fp32");
  Dataset dataset;
  dataset.name = "queries";
  for (const char* query : {"ping the router", "what's the weather in Paris", "set a timer for 5 minutes"}) {
    dataset.items.push_back(Item(query, query, true));
  }
  RunOptions options;
  options.parallel = 2;
  const std::vector<ItemResult> results = RunEval({reference->get(), optimized->get()}, {dataset}, options);
  ASSERT_EQ(results.size(), 6u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i + 3].request_status.ok()) << results[i + 3].request_status;
    EXPECT_EQ(results[i].prediction.text, results[i + 3].prediction.text) << dataset.items[i].query;
  }
  EXPECT_FALSE(MakeSystem("needle:optimized:int3", defaults).ok());
}

TEST(SystemSpecTest, RejectsMalformedSpecs) {
  const SystemDefaults defaults;
  for (const char* spec : {"", "frobnicate", "keyword:extra", "openai:", "command:", "=keyword", "needle:"}) {
    absl::StatusOr<std::unique_ptr<System>> system = MakeSystem(spec, defaults);
    EXPECT_FALSE(system.ok()) << spec;
  }
  absl::StatusOr<std::unique_ptr<System>> missing = MakeSystem("needle", defaults);
  EXPECT_FALSE(missing.ok());  // no model path given
}

TEST(SystemSpecTest, NamesSystems) {
  const SystemDefaults defaults;
  absl::StatusOr<std::unique_ptr<System>> named = MakeSystem("floor=keyword", defaults);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ((*named)->name(), "floor");
  absl::StatusOr<std::unique_ptr<System>> plain = MakeSystem("keyword", defaults);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->name(), "keyword");
}

}  // namespace
}  // namespace needle::evals
