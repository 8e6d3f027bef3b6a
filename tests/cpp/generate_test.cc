#include "needle/generate.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/python_json.h"
#include "test_checkpoint.h"

namespace needle {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kModelPath = NEEDLE_SOURCE_DIR "/models/default/needle.safetensors";
const std::string kTokenizerPath = NEEDLE_SOURCE_DIR "/models/default/tokenizer.model";

// Names already in snake_case, so RestoreNames changes nothing.
constexpr char kSnakeTools[] = R"([
  {"name":"get_weather","description":"Current weather for a city",
   "parameters":{"location":{"type":"string","description":"City name","required":true}}},
  {"name":"set_timer","description":"Start a countdown",
   "parameters":{"minutes":{"type":"number","description":"Length","required":true}}}
])";

constexpr char kCamelTools[] = R"([
  {"name":"getWeather","description":"Current weather for a city",
   "parameters":{"location":{"type":"string","description":"City name","required":true}}},
  {"name":"setTimer","description":"Start a countdown",
   "parameters":{"minutes":{"type":"number","description":"Length","required":true}}}
])";

const std::vector<std::string> kQueries = {
    "What is the weather in Paris?", "Set a timer for ten minutes", "Is it raining in Berlin right now?",
    "Wake me up in 25 minutes",      "How warm is it in Tokyo",     "start a 3 minute egg timer",
};

// Few enough tokens to keep the suite fast under sanitizers, enough to
// exercise streaming, constraints and the cache over several steps.
constexpr int kTokens = 24;

// ---- An engine that plays back a script, to test Generate exactly.

// Step i of a script: the logit of each listed token (all others get 0).
using Step = std::vector<std::pair<int32_t, float>>;

class ScriptedEngine : public Engine {
 public:
  explicit ScriptedEngine(std::vector<Step> script) : script_(std::move(script)) { config_.vocab_size = 8192; }

  std::string_view name() const override { return "scripted"; }
  const ModelConfig& config() const override { return config_; }
  EngineInfo info() const override { return {}; }
  std::unique_ptr<Session> NewSession() const override { return std::make_unique<ScriptedSession>(*this); }
  absl::StatusOr<std::vector<float>> RetrievalEmbedding(absl::Span<const int32_t>) const override {
    return absl::UnimplementedError("not scripted");
  }

  // What the sessions were fed, for checking the decoding loop.
  std::vector<int32_t> prefilled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return prefilled_;
  }
  std::vector<int32_t> decoded() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return decoded_;
  }

 private:
  class ScriptedSession : public Session {
   public:
    explicit ScriptedSession(const ScriptedEngine& engine) : engine_(engine) {}
    absl::Status Prefill(absl::Span<const int32_t> tokens) override {
      std::lock_guard<std::mutex> lock(engine_.mutex_);
      engine_.prefilled_.assign(tokens.begin(), tokens.end());
      engine_.decoded_.clear();
      step_ = 0;
      return absl::OkStatus();
    }
    absl::StatusOr<absl::Span<const float>> Decode(int32_t token) override {
      {
        std::lock_guard<std::mutex> lock(engine_.mutex_);
        engine_.decoded_.push_back(token);
      }
      if (step_ >= engine_.script_.size()) return absl::OutOfRangeError("script exhausted");
      logits_.assign(engine_.config_.vocab_size, 0.0f);
      for (const auto& [id, logit] : engine_.script_[step_]) logits_[id] = logit;
      ++step_;
      return absl::Span<const float>(logits_);
    }
    absl::Span<const float> encoder_output() const override { return {}; }
    int num_encoder_tokens() const override { return 0; }
    int num_decoded_tokens() const override { return static_cast<int>(step_); }

   private:
    const ScriptedEngine& engine_;
    size_t step_ = 0;
    std::vector<float> logits_;
  };

  ModelConfig config_;
  std::vector<Step> script_;
  mutable std::mutex mutex_;
  mutable std::vector<int32_t> prefilled_, decoded_;
};

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<ToolCaller>> caller = ToolCaller::Load(kModelPath, kTokenizerPath, "reference");
    ASSERT_TRUE(caller.ok()) << caller.status();
    caller_ = caller->release();
    tokenizer_ = std::shared_ptr<const Tokenizer>(std::shared_ptr<const Tokenizer>(), &caller_->tokenizer());
  }
  static void TearDownTestSuite() { delete caller_; }

  static const ToolCaller& caller() { return *caller_; }

  // A ToolCaller over a scripted engine, sharing the real tokenizer.
  static ToolCaller Scripted(std::shared_ptr<const ScriptedEngine> engine) { return ToolCaller(engine, tokenizer_); }

  // A script that writes `text` greedily (one step per token of its
  // encoding, after a leading <tool_call>) and then EOS.
  static std::vector<Step> Writing(const std::string& text) {
    std::vector<Step> script = {{{kToolCallId, 10.0f}}};
    for (int32_t id : caller().tokenizer().Encode(text)) script.push_back({{id, 10.0f}});
    script.push_back({{kEosId, 10.0f}});
    return script;
  }

  static GenerateOptions Tokens(int n) {
    GenerateOptions options;
    options.max_new_tokens = n;
    return options;
  }

 private:
  static inline ToolCaller* caller_ = nullptr;
  static inline std::shared_ptr<const Tokenizer> tokenizer_;  // non-owning view of caller_'s
};

// ---- Generate's loop, on scripted engines.

TEST_F(GenerateTest, ScriptedCallStopsAtEosAndRestoresNames) {
  const std::string call = R"([{"name":"get_weather","arguments":{"location":"Paris"}}])";
  auto engine = std::make_shared<const ScriptedEngine>(Writing(call));
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("weather in Paris?", kCamelTools);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop, StopReason::kEos);
  EXPECT_EQ(result->text, R"([{"name":"getWeather","arguments":{"location":"Paris"}}])");
  EXPECT_THAT(result->raw_text, HasSubstr(R"("name":"get_weather")"));
  ASSERT_FALSE(result->tokens.empty());
  EXPECT_EQ(result->tokens.front(), kToolCallId);
  EXPECT_NE(result->tokens.back(), kEosId) << "EOS is not part of the output";
  EXPECT_EQ(result->tokens.size(), Writing(call).size() - 1);

  // The encoder saw the prompt; the decoder started from EOS and was fed each chosen token.
  const ToolSet tools = ToolSet::Parse(kCamelTools).value();
  EXPECT_THAT(engine->prefilled(),
              ElementsAreArray(caller().tokenizer().EncodePrompt("weather in Paris?", tools.prompt_json()).tokens));
  EXPECT_EQ(result->encoder_tokens, engine->prefilled());
  std::vector<int32_t> fed = {kEosId};
  fed.insert(fed.end(), result->tokens.begin(), result->tokens.end());
  EXPECT_EQ(engine->decoded(), fed);
}

TEST_F(GenerateTest, ParsedToolsGenerateWhatTheirTextDoes) {
  const std::string call = R"([{"name":"get_weather","arguments":{"location":"Paris"}}])";
  absl::StatusOr<GenerateResult> from_text =
      Scripted(std::make_shared<const ScriptedEngine>(Writing(call))).Generate("weather in Paris?", kCamelTools);
  const ToolSet tools = ToolSet::Parse(kCamelTools).value();
  absl::StatusOr<GenerateResult> from_tools =
      Scripted(std::make_shared<const ScriptedEngine>(Writing(call))).Generate("weather in Paris?", tools);
  ASSERT_TRUE(from_text.ok()) << from_text.status();
  ASSERT_TRUE(from_tools.ok()) << from_tools.status();
  EXPECT_EQ(from_tools->text, from_text->text);
  EXPECT_EQ(from_tools->encoder_tokens, from_text->encoder_tokens);
  EXPECT_EQ(from_tools->tokens, from_text->tokens);
  // The request is checked before the tools are used, whichever form they come in.
  EXPECT_THAT(std::string(caller().Generate("h\xC3\x28i", tools).status().message()),
              HasSubstr("query: invalid UTF-8 at byte 1"));
  EXPECT_THAT(std::string(caller().Generate("hi", tools, Tokens(0)).status().message()), HasSubstr("max_new_tokens"));
}

TEST_F(GenerateTest, ScriptedMaxTokens) {
  auto engine = std::make_shared<const ScriptedEngine>(Writing("[]"));
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("hi", "[]", Tokens(2));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop, StopReason::kMaxTokens);
  EXPECT_EQ(result->tokens.size(), 2u);
  EXPECT_EQ(engine->decoded().size(), 2u);
}

TEST_F(GenerateTest, ScriptedEmptyAnswer) {
  // EOS straight away: no tokens, empty text, a clean stop.
  auto engine = std::make_shared<const ScriptedEngine>(std::vector<Step>{{{kEosId, 1.0f}}});
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("hi", "[]");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop, StopReason::kEos);
  EXPECT_TRUE(result->tokens.empty());
  EXPECT_EQ(result->text, "");
}

TEST_F(GenerateTest, ScriptedEngineErrorsPropagate) {
  // A script shorter than the answer: the engine's error comes back as is.
  std::vector<Step> script = Writing("[]");
  script.pop_back();
  auto engine = std::make_shared<const ScriptedEngine>(script);
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("hi", "[]");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("script exhausted"));
}

TEST_F(GenerateTest, ScriptedStreamingConcatenatesToTheText) {
  // Multi-byte characters arrive as byte-fallback tokens, one byte at a time.
  const std::string call = R"([{"name":"get_weather","arguments":{"location":"Caf)"
                           "\xC3\xA9 \xF0\x9F\x98\x80"
                           R"("}}])";
  auto engine = std::make_shared<const ScriptedEngine>(Writing(call));
  std::string streamed;
  std::vector<int32_t> streamed_tokens;
  GenerateOptions options;
  options.on_token = [&](int32_t token, std::string_view text) {
    streamed_tokens.push_back(token);
    streamed += text;
    return true;
  };
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("weather", kSnakeTools, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(streamed_tokens, result->tokens);
  EXPECT_EQ(streamed, call) << "the stream is the call as generated";
  EXPECT_EQ(result->text, R"([{"name":"get_weather","arguments":{"location":"Caf\u00e9 \ud83d\ude00"}}])")
      << "the final text is the valid call as upstream prints it";
}

TEST_F(GenerateTest, ScriptedStreamingGivesTheCallersNamesOnceComplete) {
  const std::string call = R"([{"name":"get_weather","arguments":{"location":"Paris"}}])";
  auto engine = std::make_shared<const ScriptedEngine>(Writing(call));
  std::string streamed;
  std::vector<std::string> seen;  // the stream after each token
  GenerateOptions options;
  options.on_token = [&](int32_t, std::string_view text) {
    streamed += text;
    seen.push_back(streamed);
    return true;
  };
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("weather", kCamelTools, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(streamed, R"([{"name":"getWeather","arguments":{"location":"Paris"}}])");
  for (const std::string& prefix : seen) {
    EXPECT_THAT(prefix, Not(HasSubstr("get_"))) << "the model's snake_case name never reaches the stream";
  }
}

TEST_F(GenerateTest, ScriptedRequireCallStartsACall) {
  // A model that would stop at once: EOS is its first choice at every step.
  std::vector<Step> script = Writing(R"([{"name":"get_weather","arguments":{}}])");
  for (Step& step : script) step.push_back({kEosId, 20.0f});
  auto engine = std::make_shared<const ScriptedEngine>(script);
  absl::StatusOr<GenerateResult> free = Scripted(engine).Generate("weather", kSnakeTools);
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_EQ(free->text, "");

  GenerateOptions required;
  required.require_call = true;
  absl::StatusOr<GenerateResult> called = Scripted(engine).Generate("weather", kSnakeTools, required);
  ASSERT_TRUE(called.ok()) << called.status();
  ASSERT_FALSE(called->tokens.empty());
  EXPECT_EQ(called->tokens.front(), kToolCallId);
  EXPECT_THAT(called->text, StartsWith(R"([{"name":")"));

  absl::StatusOr<GenerateResult> no_tools = Scripted(engine).Generate("weather", "[]", required);
  ASSERT_FALSE(no_tools.ok());
  EXPECT_THAT(std::string(no_tools.status().message()), HasSubstr("a call is required but no tool is given"));
}

TEST_F(GenerateTest, ValidCallTextIsWhatUpstreamPrints) {
  // Upstream: json.dumps(json.loads(call), separators=(",", ":")), then the
  // caller's names.
  const std::string call =
      "[{\"name\": \"get_weather\", \"arguments\": {\"days\": 1e15, \"n\": -0, "
      "\"note\": \"caf\xC3\xA9\"}}]";
  GenerateOptions free;  // argument keys the tool does not declare
  free.constrained = false;
  auto engine = std::make_shared<const ScriptedEngine>(Writing(call));
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("weather", kCamelTools, free);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text,
            R"([{"name":"getWeather","arguments":{"days":1000000000000000.0,"n":0,"note":"caf\u00e9"}}])");
  EXPECT_THAT(result->raw_text, HasSubstr(call)) << "raw_text keeps the output as generated";

  // Text that is not JSON (here cut short) is returned as generated.
  const std::string partial = R"([{"name": "get_weather", "arguments": {"days": 1e15)";
  auto cut = std::make_shared<const ScriptedEngine>(Writing(partial));
  absl::StatusOr<GenerateResult> cut_result = Scripted(cut).Generate("weather", kCamelTools, free);
  ASSERT_TRUE(cut_result.ok()) << cut_result.status();
  EXPECT_EQ(cut_result->text, partial);
}

// One request with streaming on; returns {concatenated stream, final text}.
std::pair<std::string, std::string> StreamScript(const ToolCaller& caller, GenerateOptions options) {
  std::string streamed;
  options.on_token = [&](int32_t, std::string_view text) {
    streamed += text;
    return true;
  };
  absl::StatusOr<GenerateResult> result = caller.Generate("q", kSnakeTools, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return {streamed, result.ok() ? result->text : ""};
}

TEST_F(GenerateTest, ScriptedStreamingOfInvalidAndUnfinishedBytes) {
  const Tokenizer& tok = caller().tokenizer();
  auto byte_token = [&](int byte) {
    const std::string piece = fmt::format("<0x{:02X}>", byte);
    for (int32_t id = 0; id < tok.vocab_size(); ++id) {
      if (tok.IdToPiece(id) == piece) return id;
    }
    ADD_FAILURE() << "no piece " << piece;
    return kUnkId;
  };
  const int32_t quote = tok.Encode("\"").back();
  // A lead byte followed by ASCII, and a stray continuation byte: both decode
  // to U+FFFD, and streaming must show the same.
  std::vector<Step> script = {
      {{kToolCallId, 1.0f}},      {{byte_token(0xC3), 1.0f}}, {{quote, 1.0f}}, {{byte_token(0x80), 1.0f}},
      {{byte_token(0xE2), 1.0f}}, {{byte_token(0x82), 1.0f}}, {{kEosId, 1.0f}}};
  const ToolCaller scripted = Scripted(std::make_shared<const ScriptedEngine>(script));
  auto [streamed, text] = StreamScript(scripted, Tokens(kMaxGeneratedTokens));
  EXPECT_THAT(text, HasSubstr("\xEF\xBF\xBD"));
  EXPECT_EQ(streamed + "\xEF\xBF\xBD\xEF\xBF\xBD", text)
      << "only the character left unfinished at EOS (two bytes of a three-byte one) is not streamed";

  // Cut off by max_new_tokens in the middle of "€" (E2 82 AC): the last token flushes.
  auto [cut_streamed, cut_text] = StreamScript(scripted, Tokens(6));
  EXPECT_EQ(cut_streamed, cut_text);
}

TEST_F(GenerateTest, ScriptedCallbackStops) {
  auto engine = std::make_shared<const ScriptedEngine>(Writing(R"([{"name":"set_timer","arguments":{}}])"));
  int calls = 0;
  GenerateOptions options;
  options.on_token = [&](int32_t, std::string_view) { return ++calls < 3; };
  absl::StatusOr<GenerateResult> result = Scripted(engine).Generate("timer", kSnakeTools, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop, StopReason::kCallback);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(result->tokens.size(), 3u) << "the token the callback saw last is kept";
}

TEST_F(GenerateTest, ScriptedConstraintsPickAToolName) {
  // At the name position the script prefers a letter no tool name starts
  // with; its second choice starts "set_timer".
  const Tokenizer& tok = caller().tokenizer();
  auto id_of = [&](const std::string& text) {
    for (int32_t id = 0; id < tok.token_texts().size(); ++id) {
      if (tok.token_texts().text(id) == text) return id;
    }
    ADD_FAILURE() << "no token \"" << text << "\"";
    return kUnkId;
  };
  std::vector<Step> script = {{{kToolCallId, 10.0f}}};
  for (int32_t id : tok.Encode(R"([{"name":")")) script.push_back({{id, 10.0f}});
  const int32_t wrong_first = id_of("z"), right_first = id_of("s");
  script.push_back({{wrong_first, 10.0f}, {right_first, 5.0f}});
  auto engine = std::make_shared<const ScriptedEngine>(script);
  const ToolCaller scripted = Scripted(engine);
  const int steps = static_cast<int>(script.size());

  GenerateOptions options = Tokens(steps);
  options.constrained = false;
  absl::StatusOr<GenerateResult> free = scripted.Generate("timer", kSnakeTools, options);
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_EQ(free->tokens.back(), wrong_first);

  options.constrained = true;
  absl::StatusOr<GenerateResult> constrained = scripted.Generate("timer", kSnakeTools, options);
  ASSERT_TRUE(constrained.ok()) << constrained.status();
  EXPECT_EQ(constrained->tokens.back(), right_first);
}

// ---- The default (random-weight) model end to end.

TEST_F(GenerateTest, RequestValidation) {
  EXPECT_THAT(std::string(caller().Generate("hi", "not json").status().message()), HasSubstr("tools"));
  EXPECT_THAT(std::string(caller().Generate("hi", R"([{"description":"x"}])").status().message()),
              HasSubstr("tools[0].name"));
  EXPECT_THAT(std::string(caller().Generate("h\xC3\x28i", kSnakeTools).status().message()),
              HasSubstr("query: invalid UTF-8 at byte 1"));
  for (int bad : {0, -1, kMaxGeneratedTokens + 1}) {
    absl::StatusOr<GenerateResult> result = caller().Generate("hi", kSnakeTools, Tokens(bad));
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("max_new_tokens")) << bad;
  }
}

TEST_F(GenerateTest, LoadErrors) {
  EXPECT_THAT(std::string(ToolCaller::Load(kModelPath, kTokenizerPath, "warp").status().message()), HasSubstr("warp"));
  EXPECT_FALSE(ToolCaller::Load(kModelPath + ".missing", kTokenizerPath, "reference").ok());
  EXPECT_FALSE(ToolCaller::Load(kModelPath, NEEDLE_SOURCE_DIR "/tests/data/wrong_ids.model", "reference").ok());
  // A checkpoint whose vocabulary does not match the tokenizer's.
  const test::TempFile small = test::WriteTempFile(test::RandomCheckpoint(test::SmallConfig(), 1));
  const std::string message(ToolCaller::Load(small.path(), kTokenizerPath, "reference").status().message());
  EXPECT_THAT(message, HasSubstr("8192"));
  EXPECT_THAT(message, HasSubstr("300"));
}

TEST_F(GenerateTest, MaxTokensStop) {
  for (const std::string& query : kQueries) {
    absl::StatusOr<GenerateResult> result = caller().Generate(query, kSnakeTools, Tokens(3));
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->stop == StopReason::kEos) {
      EXPECT_LT(result->tokens.size(), 3u) << query;
    } else {
      EXPECT_EQ(result->stop, StopReason::kMaxTokens) << query;
      EXPECT_EQ(result->tokens.size(), 3u) << query;
    }
    for (int32_t id : result->tokens) EXPECT_NE(id, kEosId);
    EXPECT_GE(result->prefill_seconds, 0.0);
    EXPECT_GE(result->decode_seconds, 0.0);
  }
}

TEST_F(GenerateTest, CallbackStops) {
  int calls = 0;
  GenerateOptions options = Tokens(kTokens);
  options.on_token = [&](int32_t, std::string_view) { return ++calls < 2; };
  absl::StatusOr<GenerateResult> result = caller().Generate(kQueries[0], kSnakeTools, options);
  ASSERT_TRUE(result.ok()) << result.status();
  if (result->stop != StopReason::kEos) {
    EXPECT_EQ(result->stop, StopReason::kCallback);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(result->tokens.size(), 2u);
  }
}

TEST_F(GenerateTest, StreamedTextEqualsFinalText) {
  for (const std::string& query : kQueries) {
    std::string streamed;
    std::vector<int32_t> tokens;
    GenerateOptions options = Tokens(kTokens);
    options.on_token = [&](int32_t token, std::string_view text) {
      tokens.push_back(token);
      streamed += text;
      return true;
    };
    absl::StatusOr<GenerateResult> result = caller().Generate(query, kSnakeTools, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(tokens, result->tokens) << query;
    std::vector<int32_t> call = result->tokens;
    if (!call.empty() && call.front() == kToolCallId) call.erase(call.begin());
    EXPECT_EQ(streamed, caller().tokenizer().Decode(call)) << query;
  }
}

TEST_F(GenerateTest, LongQuerySetsTruncationFlags) {
  std::string query;
  for (int i = 0; i < 600; ++i) query += "please set timer number " + std::to_string(i) + " now; ";
  absl::StatusOr<GenerateResult> result = caller().Generate(query, kSnakeTools, Tokens(2));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->query_truncated);
  EXPECT_TRUE(result->tools_truncated);
  EXPECT_EQ(result->encoder_tokens.size(), static_cast<size_t>(kMaxEncoderTokens));
  EXPECT_EQ(result->encoder_tokens[kMaxQueryTokens], kToolsId);

  absl::StatusOr<GenerateResult> short_query = caller().Generate(kQueries[0], kSnakeTools, Tokens(1));
  ASSERT_TRUE(short_query.ok());
  EXPECT_FALSE(short_query->query_truncated);
  EXPECT_FALSE(short_query->tools_truncated);
}

TEST_F(GenerateTest, PromptUsesSnakeCaseToolJson) {
  absl::StatusOr<GenerateResult> camel = caller().Generate(kQueries[1], kCamelTools, Tokens(1));
  absl::StatusOr<GenerateResult> snake = caller().Generate(kQueries[1], kSnakeTools, Tokens(1));
  ASSERT_TRUE(camel.ok() && snake.ok());
  EXPECT_EQ(camel->encoder_tokens, snake->encoder_tokens) << "the model only ever sees snake_case names";
}

void ExpectSameResult(const GenerateResult& a, const GenerateResult& b, const std::string& what) {
  EXPECT_EQ(a.tokens, b.tokens) << what;
  EXPECT_EQ(a.text, b.text) << what;
  EXPECT_EQ(a.raw_text, b.raw_text) << what;
  EXPECT_EQ(a.stop, b.stop) << what;
  EXPECT_EQ(a.encoder_tokens, b.encoder_tokens) << what;
}

TEST_F(GenerateTest, SameRequestTwiceGivesTheSameResult) {
  // Upstream's shared instance returned empty calls on repeated requests; here
  // every request runs in a fresh session.
  for (bool constrained : {true, false}) {
    GenerateOptions options = Tokens(kTokens);
    options.constrained = constrained;
    absl::StatusOr<GenerateResult> first = caller().Generate(kQueries[2], kCamelTools, options);
    absl::StatusOr<GenerateResult> second = caller().Generate(kQueries[2], kCamelTools, options);
    ASSERT_TRUE(first.ok() && second.ok());
    ExpectSameResult(*first, *second, constrained ? "constrained" : "free");
  }
}

TEST_F(GenerateTest, ConcurrentRequestsMatchSequentialOnes) {
  constexpr int kThreads = 4;
  const int per_thread = static_cast<int>(kQueries.size());
  auto options_for = [](int request) {
    GenerateOptions options = Tokens(kTokens / 2);
    options.constrained = request % 2 == 0;
    return options;
  };
  auto tools_for = [](int request) { return request % 3 == 0 ? kCamelTools : kSnakeTools; };

  std::vector<GenerateResult> sequential;
  for (int r = 0; r < per_thread; ++r) {
    absl::StatusOr<GenerateResult> result = caller().Generate(kQueries[r], tools_for(r), options_for(r));
    ASSERT_TRUE(result.ok()) << result.status();
    sequential.push_back(*std::move(result));
  }

  // Each thread runs every request, starting at a different one, so that
  // different requests overlap in time.
  std::vector<std::vector<absl::StatusOr<GenerateResult>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int r = (t + i) % per_thread;
        results[t].push_back(caller().Generate(kQueries[r], tools_for(r), options_for(r)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < per_thread; ++i) {
      const int r = (t + i) % per_thread;
      ASSERT_TRUE(results[t][i].ok()) << results[t][i].status();
      ExpectSameResult(*results[t][i], sequential[r], "thread " + std::to_string(t) + " request " + std::to_string(r));
    }
  }
}

TEST_F(GenerateTest, ConstrainedAndUnconstrainedBothRun) {
  GenerateOptions options = Tokens(kTokens);
  for (bool constrained : {true, false}) {
    options.constrained = constrained;
    absl::StatusOr<GenerateResult> result = caller().Generate(kQueries[0], kSnakeTools, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->tokens.empty() && result->stop != StopReason::kEos);
    // The text is the decoded output minus the leading <tool_call>, re-dumped
    // as upstream does when it is valid JSON.
    std::vector<int32_t> call = result->tokens;
    if (!call.empty() && call.front() == kToolCallId) call.erase(call.begin());
    const std::string decoded = caller().tokenizer().Decode(call);
    EXPECT_EQ(result->text, RedumpLikePython(decoded).value_or(decoded));
  }
}

}  // namespace
}  // namespace needle
