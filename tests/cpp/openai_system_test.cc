// MakeOpenAiSystem end to end against the real needle-serve program, and
// against a scripted in-process server for what the untrained default model
// never produces (tool_calls, streamed in fragments).
#include "needle/evals/openai_system.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "needle/evals/dataset.h"
#include "needle/generate.h"
#include "needle/toolcalls/call.h"
#include "nlohmann/json.hpp"

namespace needle::evals {

using toolcalls::CallsToJson;
using toolcalls::ConvertedTools;
using toolcalls::ConvertTools;
using toolcalls::ParsedOutput;
using toolcalls::ParseOutput;
using toolcalls::ToolSchema;

namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

// Generation is capped so that the untrained model, which never stops on its
// own, answers quickly; the in-process reference uses the same cap.
constexpr int kMaxNewTokens = 40;

// needle-serve started once for the whole suite.
class ServeProcess {
 public:
  ~ServeProcess() { Stop(); }

  // Starts it and waits for "listening on http://HOST:PORT" on its stderr.
  void Start() {
    int err[2];
    ASSERT_EQ(pipe(err), 0);
    const std::string binary = std::string(NEEDLE_BINARY_DIR) + "/needle-serve";
    const std::string max_new_tokens = std::to_string(kMaxNewTokens);
    std::vector<const char*> argv = {binary.c_str(),         "--port", "0", "--parallel", "4", "--max_new_tokens",
                                     max_new_tokens.c_str(), nullptr};
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      dup2(err[1], STDERR_FILENO);
      close(err[0]);
      close(err[1]);
      execv(argv[0], const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    close(err[1]);
    stderr_fd_ = err[0];
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (base_url_.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd fd = {stderr_fd_, POLLIN, 0};
      ASSERT_GT(poll(&fd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))), 0)
          << "needle-serve did not say it was listening; stderr so far:\n"
          << seen;
      char buffer[4096];
      const ssize_t n = read(stderr_fd_, buffer, sizeof(buffer));
      ASSERT_GT(n, 0) << "needle-serve exited; stderr:\n" << seen;
      seen.append(buffer, static_cast<size_t>(n));
      const size_t at = seen.find("listening on ");
      const size_t end = at == std::string::npos ? at : seen.find('\n', at);
      if (end != std::string::npos) base_url_ = seen.substr(at + 13, end - at - 13);
    }
    // Keeps reading, so that the server never blocks on a full stderr pipe.
    drain_ = std::thread([this] {
      char buffer[4096];
      ssize_t n;
      while ((n = read(stderr_fd_, buffer, sizeof(buffer))) > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        log_.append(buffer, static_cast<size_t>(n));
      }
    });
  }

  // SIGTERM, then the exit status (-1 if it was not running).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (drain_.joinable()) drain_.join();
    close(stderr_fd_);
    return status;
  }

  const std::string& base_url() const { return base_url_; }
  std::string log() {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string base_url_;
  std::thread drain_;
  std::mutex mutex_;
  std::string log_;
};

EvalItem MakeItem(const std::string& id, const std::string& query, const std::string& openai_tools) {
  // Items carry tools as LoadDataset gives them: converted to upstream format.
  absl::StatusOr<ConvertedTools> tools = ConvertTools(Json::parse(openai_tools), "tools");
  EXPECT_TRUE(tools.ok()) << tools.status();
  EvalItem item;
  item.id = id;
  item.query = query;
  item.tools_json = tools.ok() ? tools->needle_json : "[]";
  item.tools = tools.ok() ? tools->schemas : std::vector<ToolSchema>{};
  return item;
}

std::vector<EvalItem> Items() {
  return {
      MakeItem("weather", "What's the weather like in San Francisco, in celsius?",
               R"([{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
                   "parameters":{"type":"object","properties":{
                     "location":{"type":"string","description":"City name"},
                     "unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}])"),
      MakeItem("timer", "set a timer for 10 minutes",
               R"([{"type":"function","function":{"name":"set_timer","description":"Start a countdown",
                   "parameters":{"type":"object","properties":{"minutes":{"type":"integer"}},"required":["minutes"]}}},
                   {"type":"function","function":{"name":"send_message","description":"Text someone",
                   "parameters":{"type":"object","properties":{"body":{"type":"string"},"to":{"type":"string"}},
                   "required":["body","to"]}}}])"),
  };
}

std::unique_ptr<System> MakeSystem(const std::string& base_url, bool stream) {
  OpenAiOptions options;
  options.name = stream ? "serve-stream" : "serve";
  options.base_url = base_url;
  options.stream = stream;
  options.timeout_seconds = 60;
  absl::StatusOr<std::unique_ptr<System>> system = MakeOpenAiSystem(options);
  EXPECT_TRUE(system.ok()) << system.status();
  return system.ok() ? *std::move(system) : nullptr;
}

class NeedleServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServeProcess;
    server_->Start();
    auto caller = ToolCaller::Load(std::string(NEEDLE_SOURCE_DIR) + "/models/default/needle.safetensors",
                                   std::string(NEEDLE_SOURCE_DIR) + "/models/default/tokenizer.model", "reference");
    ASSERT_TRUE(caller.ok()) << caller.status();
    caller_ = std::move(*caller);
  }

  static void TearDownTestSuite() {
    const int status = server_->Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "needle-serve did not stop cleanly on SIGTERM (status " << status << "); stderr:\n"
        << server_->log();
    delete server_;
    caller_.reset();
  }

  void SetUp() override {
    if (server_->base_url().empty()) GTEST_SKIP() << "needle-serve did not start";
  }

  // What the model gives in process for the item.
  static GenerateResult Expected(const EvalItem& item) {
    GenerateOptions options;
    options.max_new_tokens = kMaxNewTokens;
    absl::StatusOr<GenerateResult> result = caller_->Generate(item.query, item.tools_json, options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : GenerateResult{};
  }

  // What the OpenAI client reads back for the model's text: text without calls comes back
  // unchanged; calls travel as tool_calls, which the client writes back as Needle JSON. A key
  // the model repeats inside one call's arguments keeps its last value there, as in every
  // JSON reader here, so the served text is the parsed calls, not the raw text.
  static std::string ServedText(const std::string& model_text) {
    const ParsedOutput parsed = ParseOutput(model_text);
    return parsed.parsed ? CallsToJson(parsed.calls) : model_text;
  }

  static void ExpectSameOutput(const Prediction& prediction, const GenerateResult& expected) {
    EXPECT_EQ(prediction.text, ServedText(expected.text));
    const ParsedOutput got = ParseOutput(prediction.text), want = ParseOutput(expected.text);
    EXPECT_EQ(got.parsed, want.parsed);
    EXPECT_EQ(CallsToJson(got.calls), CallsToJson(want.calls));
    EXPECT_EQ(prediction.output_tokens, static_cast<int>(expected.tokens.size()));
  }

  static inline ServeProcess* server_ = nullptr;
  static inline std::unique_ptr<ToolCaller> caller_;
};

TEST_F(NeedleServeTest, NonStreamingMatchesInProcessGenerate) {
  std::unique_ptr<System> system = MakeSystem(server_->base_url(), /*stream=*/false);
  ASSERT_NE(system, nullptr);
  for (const EvalItem& item : Items()) {
    SCOPED_TRACE(item.id);
    absl::StatusOr<Prediction> prediction = system->Predict(item);
    ASSERT_TRUE(prediction.ok()) << prediction.status();
    ExpectSameOutput(*prediction, Expected(item));
    EXPECT_GT(prediction->latency_ms, 0);
    EXPECT_EQ(prediction->ttft_ms, -1);
  }
}

TEST_F(NeedleServeTest, StreamingMatchesInProcessGenerate) {
  std::unique_ptr<System> system = MakeSystem(server_->base_url(), /*stream=*/true);
  ASSERT_NE(system, nullptr);
  for (const EvalItem& item : Items()) {
    SCOPED_TRACE(item.id);
    absl::StatusOr<Prediction> prediction = system->Predict(item);
    ASSERT_TRUE(prediction.ok()) << prediction.status();
    ExpectSameOutput(*prediction, Expected(item));
    EXPECT_GE(prediction->ttft_ms, 0);
    EXPECT_LE(prediction->ttft_ms, prediction->latency_ms);
  }
}

TEST_F(NeedleServeTest, ConcurrentRequestsGiveTheSequentialAnswers) {
  const std::vector<EvalItem> items = Items();
  std::vector<std::string> sequential;
  for (const EvalItem& item : items) sequential.push_back(ServedText(Expected(item).text));
  std::unique_ptr<System> streaming = MakeSystem(server_->base_url(), true);
  std::unique_ptr<System> whole = MakeSystem(server_->base_url(), false);
  ASSERT_NE(streaming, nullptr);
  ASSERT_NE(whole, nullptr);
  constexpr int kThreads = 4;
  std::vector<std::vector<absl::StatusOr<Prediction>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const System& system = t % 2 == 0 ? *streaming : *whole;
      for (size_t i = 0; i < items.size(); ++i) results[t].push_back(system.Predict(items[(i + t) % items.size()]));
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < items.size(); ++i) {
      const absl::StatusOr<Prediction>& prediction = results[t][i];
      ASSERT_TRUE(prediction.ok()) << prediction.status();
      EXPECT_EQ(prediction->text, sequential[(i + t) % items.size()]) << "thread " << t << ", request " << i;
    }
  }
}

TEST_F(NeedleServeTest, HealthAndModels) {
  httplib::Client client(server_->base_url());
  httplib::Result health = client.Get("/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body), Json::parse(R"({"status":"ok"})"));
  httplib::Result models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const Json list = Json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], "needle");
  EXPECT_EQ(list["data"][0]["object"], "model");
}

TEST_F(NeedleServeTest, MalformedBodyGets400) {
  httplib::Client client(server_->base_url());
  httplib::Result result = client.Post("/v1/chat/completions", R"({"messages":[{"role":"user"}]})", "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  const Json error = Json::parse(result->body)["error"];
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["param"], "messages[0].content");
  result = client.Post("/v1/chat/completions", "{\"messages\": [", "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  EXPECT_THAT(Json::parse(result->body)["error"]["message"].get<std::string>(), HasSubstr("not valid JSON"));
}

// 200,000 levels of nesting in a field the server does not read killed it with SIGSEGV.
TEST_F(NeedleServeTest, DeeplyNestedBodyGets400AndTheServerLives) {
  httplib::Client client(server_->base_url());
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  httplib::Result result =
      client.Post("/v1/chat/completions", R"({"x":)" + deep + R"(,"messages":[{"role":"user","content":"q"}]})",
                  "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  EXPECT_THAT(Json::parse(result->body)["error"]["message"].get<std::string>(), HasSubstr("nested deeper than 128"));
  httplib::Result health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(NeedleServeTest, ServerErrorsBecomeErrorStatuses) {
  // The adapter sends the dataset's JSON Schema as it is; the server's conversion refuses the type.
  EvalItem item;
  item.id = "odd";
  item.query = "rotate it";
  item.openai_tools_json = R"([{"type":"function","function":{"name":"rotate","parameters":{"type":"object",)"
                           R"("properties":{"q":{"type":"quaternion"}},"required":["q"]}}}])";
  std::unique_ptr<System> system = MakeSystem(server_->base_url(), true);
  ASSERT_NE(system, nullptr);
  absl::StatusOr<Prediction> prediction = system->Predict(item);
  ASSERT_FALSE(prediction.ok());
  EXPECT_THAT(prediction.status().message(), HasSubstr("serve-stream: POST " + server_->base_url()));
  EXPECT_THAT(prediction.status().message(), HasSubstr("returned HTTP 400"));
  EXPECT_THAT(prediction.status().message(), HasSubstr("quaternion"));
}

TEST(OpenAiSystemTest, TransportErrorsAndBadUrls) {
  OpenAiOptions options;
  options.base_url = "http://127.0.0.1:1";  // nothing listens on a privileged port here
  options.timeout_seconds = 5;
  absl::StatusOr<std::unique_ptr<System>> system = MakeOpenAiSystem(options);
  ASSERT_TRUE(system.ok()) << system.status();
  absl::StatusOr<Prediction> prediction = (*system)->Predict(Items()[0]);
  ASSERT_FALSE(prediction.ok());
  EXPECT_THAT(prediction.status().message(), HasSubstr("POST http://127.0.0.1:1/v1/chat/completions failed"));

  for (const char* url : {"127.0.0.1:8080", "ftp://host", "http://"}) {
    options.base_url = url;
    EXPECT_FALSE(MakeOpenAiSystem(options).ok()) << url;
  }
}

// --timeout bounds the whole request: a server that streams events without
// end used to keep the run waiting, since each read was on time.
TEST(OpenAiSystemTest, EndlessStreamIsCutAtTheTimeout) {
  httplib::Server server;
  std::atomic<bool> stopping{false};
  server.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [&](size_t, httplib::DataSink& sink) {
      const std::string event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n";
      while (!stopping && sink.write(event.data(), event.size())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return false;
    });
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  OpenAiOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  options.timeout_seconds = 1;
  absl::StatusOr<std::unique_ptr<System>> system = MakeOpenAiSystem(options);
  ASSERT_TRUE(system.ok()) << system.status();
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Prediction> prediction = (*system)->Predict(Items()[0]);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(prediction.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(prediction.status().message(), HasSubstr("did not end within the timeout of 1 s"));
  EXPECT_LT(seconds, 5);
  stopping = true;
  server.stop();
  thread.join();
}

// A scripted OpenAI server: answers by query, and records what it was sent.
class FakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/prefix/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      const Json body = Json::parse(req.body);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(body);
        authorization_ = req.get_header_value("Authorization");
      }
      const std::string query = body["messages"][0]["content"];
      auto reply = replies_.find(query);
      if (reply == replies_.end()) {
        res.status = 500;
        res.set_content("no reply scripted for " + query, "text/plain");
      } else if (body.value("stream", false)) {
        res.set_content(reply->second.stream, "text/event-stream");
      } else {
        res.set_content(reply->second.whole, "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  struct Reply {
    std::string whole;   // a chat.completion
    std::string stream;  // SSE
  };

  absl::StatusOr<Prediction> Predict(const std::string& query, bool stream, const std::string& tools_json = "[]",
                                     int max_tokens = 0) {
    OpenAiOptions options;
    options.max_tokens = max_tokens;
    options.name = "fake";
    options.base_url = "http://127.0.0.1:" + std::to_string(port_) + "/prefix/";
    options.model = "qwen";
    options.api_key = "sk-test";
    options.stream = stream;
    absl::StatusOr<std::unique_ptr<System>> system = MakeOpenAiSystem(options);
    if (!system.ok()) return system.status();
    EvalItem item;
    item.id = "q";
    item.query = query;
    item.tools_json = tools_json;
    return (*system)->Predict(item);
  }

  static std::string Whole(const std::string& message, const std::string& usage = "") {
    return R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":)" + message +
           R"(,"finish_reason":"stop"}])" + (usage.empty() ? "" : R"(,"usage":)" + usage) + "}";
  }
  static std::string Event(const std::string& delta, const std::string& finish = "null") {
    return R"(data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":)" + delta +
           R"(,"finish_reason":)" + finish + "}]}\n\n";
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::map<std::string, Reply> replies_;
  std::mutex mutex_;
  std::vector<Json> requests_;
  std::string authorization_;
};

TEST_F(FakeServerTest, SendsOpenAiRequest) {
  replies_["q"] = {Whole(R"({"role":"assistant","content":"[]"})"), Event("{}", "\"stop\"") + "data: [DONE]\n\n"};
  const std::string tools = R"([{"name":"convert","description":"Convert money","parameters":{)"
                            R"("amount":{"type":"float","description":"how much","required":true},)"
                            R"("to":{"type":"string","enum":["EUR","USD"],"required":false},)"
                            R"("rates":{"type":"dict","description":"overrides"},)"
                            R"("pair":{"type":"tuple","items":{"type":"float"}},)"
                            R"("extra":{"type":"any"}}}, {"name":"noop"}])";
  absl::StatusOr<Prediction> prediction = Predict("q", false, tools);
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(authorization_, "Bearer sk-test");
  EXPECT_EQ(requests_[0], Json::parse(R"({"model":"qwen","messages":[{"role":"user","content":"q"}],
      "tools":[{"type":"function","function":{"name":"convert","description":"Convert money","parameters":{
          "type":"object","properties":{
            "amount":{"type":"number","description":"how much"},
            "to":{"type":"string","enum":["EUR","USD"]},
            "rates":{"type":"object","description":"overrides"},
            "pair":{"type":"array","items":{"type":"number"}},
            "extra":{}},
          "required":["amount"]}}},
        {"type":"function","function":{"name":"noop","parameters":{"type":"object","properties":{},"required":[]}}}],
      "tool_choice":"auto","temperature":0,"stream":false})"));

  prediction = Predict("q", true);
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  EXPECT_EQ(prediction->text, "[]") << "a stream with neither calls nor text holds no call";
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[1]["stream_options"], Json::parse(R"({"include_usage":true})"));
  EXPECT_FALSE(requests_[1].contains("tools"));  // no tools, no tool_choice either
  EXPECT_FALSE(requests_[1].contains("tool_choice"));
}

TEST_F(FakeServerTest, MaxTokensSentWhenSet) {
  replies_["q"] = {Whole(R"({"role":"assistant","content":"[]"})"), ""};
  ASSERT_TRUE(Predict("q", false, "[]", 511).ok());
  ASSERT_TRUE(Predict("q", false).ok());
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[0]["max_tokens"], 511);
  EXPECT_FALSE(requests_[1].contains("max_tokens"));
}

TEST_F(FakeServerTest, IntegersPast64BitsKeepTheirDigits) {
  replies_["big"] = {Whole(R"({"role":"assistant","tool_calls":[{"function":{"name":"f",)"
                           R"("arguments":"{\"n\": 123456789012345678901234567890}"}}]})"),
                     ""};
  absl::StatusOr<Prediction> big = Predict("big", false);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->text, R"([{"name":"f","arguments":{"n":123456789012345678901234567890}}])");

  // Servers that send the arguments as an object, whole or streamed: the same
  // digits, and the members in the order the server wrote them.
  const std::string object_call =
      R"({"function":{"name":"f","arguments":{"z":-98765432109876543210987654321,"a":[18446744073709551616]}}})";
  replies_["big object"] = {
      Whole(R"({"role":"assistant","tool_calls":[)" + object_call + "]}"),
      Event(R"({"tool_calls":[)" + object_call.substr(0, object_call.size() - 1) + R"(,"index":0}]})") +
          Event("{}", "\"tool_calls\"") + "data: [DONE]\n\n"};
  for (bool stream : {false, true}) {
    absl::StatusOr<Prediction> big_object = Predict("big object", stream);
    ASSERT_TRUE(big_object.ok()) << big_object.status();
    EXPECT_EQ(big_object->text,
              R"([{"name":"f","arguments":{"z":-98765432109876543210987654321,"a":[18446744073709551616]}}])")
        << (stream ? "streamed" : "whole");
  }
}

TEST_F(FakeServerTest, WholeResponses) {
  replies_["calls"] = {Whole(R"({"role":"assistant","content":null,"tool_calls":[
      {"id":"1","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"Paris\"}"}},
      {"id":"2","type":"function","function":{"name":"now","arguments":""}}]})",
                             R"({"prompt_tokens":10,"completion_tokens":7,"total_tokens":17})"),
                       ""};
  replies_["object args"] = {
      Whole(R"({"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{"x":1}}}]})"), ""};
  replies_["null"] = {Whole(R"({"role":"assistant","content":null})"), ""};
  replies_["hermes"] = {
      Whole(R"({"role":"assistant","content":"<tool_call>{\"name\":\"f\",\"arguments\":{}}</tool_call>"})"), ""};
  replies_["bad args"] = {
      Whole(R"({"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{\"x\":"}}]})"), ""};

  absl::StatusOr<Prediction> calls = Predict("calls", false);
  ASSERT_TRUE(calls.ok()) << calls.status();
  EXPECT_EQ(calls->text, CallsToJson({{"get_weather", {{"location", "Paris"}}}, {"now", Json::object()}}));
  EXPECT_EQ(calls->output_tokens, 7);
  EXPECT_EQ(calls->ttft_ms, -1);

  absl::StatusOr<Prediction> object_args = Predict("object args", false);
  ASSERT_TRUE(object_args.ok()) << object_args.status();
  EXPECT_EQ(object_args->text, CallsToJson({{"f", {{"x", 1}}}}));
  EXPECT_EQ(object_args->output_tokens, -1);

  absl::StatusOr<Prediction> null_content = Predict("null", false);
  ASSERT_TRUE(null_content.ok()) << null_content.status();
  EXPECT_EQ(null_content->text, "[]");

  absl::StatusOr<Prediction> hermes = Predict("hermes", false);
  ASSERT_TRUE(hermes.ok()) << hermes.status();
  EXPECT_EQ(hermes->text, R"(<tool_call>{"name":"f","arguments":{}}</tool_call>)");

  // Unreadable arguments stay unreadable: the output is scored as unparsable.
  absl::StatusOr<Prediction> bad_args = Predict("bad args", false);
  ASSERT_TRUE(bad_args.ok()) << bad_args.status();
  EXPECT_FALSE(ParseOutput(bad_args->text).parsed) << bad_args->text;

  absl::StatusOr<Prediction> unscripted = Predict("nothing", false);
  ASSERT_FALSE(unscripted.ok());
  EXPECT_THAT(unscripted.status().message(), HasSubstr("returned HTTP 500: no reply scripted for nothing"));
}

// A server answering with deeply nested JSON is a failed request, not a crashed run.
TEST_F(FakeServerTest, DeeplyNestedResponsesAreErrors) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  replies_["deep body"] = {Whole(R"({"role":"assistant","content":null,"x":)" + deep + "}"), "data: " + deep + "\n\n"};
  replies_["deep args"] = {
      Whole(R"({"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{"x":)" + deep + "}}}]}"), ""};
  replies_["deep content"] = {
      Whole(R"({"role":"assistant","content":"[{\"name\":\"f\",\"arguments\":)" + deep + R"(}]"})"), ""};

  absl::StatusOr<Prediction> whole = Predict("deep body", false);
  ASSERT_FALSE(whole.ok());
  EXPECT_THAT(whole.status().message(), HasSubstr("response is not valid JSON (nested deeper than 128 levels"));
  absl::StatusOr<Prediction> streamed = Predict("deep body", true);
  ASSERT_FALSE(streamed.ok());
  EXPECT_THAT(streamed.status().message(), HasSubstr("stream event is not JSON (nested deeper than 128 levels"));
  absl::StatusOr<Prediction> args = Predict("deep args", false);
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(), HasSubstr("nested deeper than 128 levels"));
  // Content is the model's text: it is kept and scored as unparsable.
  absl::StatusOr<Prediction> content = Predict("deep content", false);
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_FALSE(ParseOutput(content->text).parsed);
}

TEST_F(FakeServerTest, StreamedToolCallFragmentsAreJoined) {
  // As OpenAI streams two parallel calls: name first, arguments in pieces,
  // each fragment keyed by index; then a usage chunk.
  const std::string first_call =
      R"({"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"get_weather","arguments":""}}]})";
  const std::string second_call =
      R"({"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"now","arguments":"{}"}}]})";
  replies_["parallel"] = {
      "", Event(R"({"role":"assistant","content":null})") + Event(first_call) +
              Event(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]})") + Event(second_call) +
              Event(R"({"tool_calls":[{"index":0,"function":{"arguments":"ation\": \"Oslo\"}"}}]})") +
              Event("{}", "\"tool_calls\"") +
              R"(data: {"object":"chat.completion.chunk","choices":[],"usage":{"completion_tokens":12}})"
              "\n\ndata: [DONE]\n\n"};
  replies_["text"] = {"", ": keep-alive comment\r\n\r\n" + Event(R"({"role":"assistant","content":""})") +
                              Event(R"({"content":"<tool_call>{\"name\":"})") +
                              Event(R"({"content":"\"f\",\"arguments\":{}}</tool_call>"})") + Event("{}", "\"stop\"") +
                              "data: [DONE]\n\n"};
  replies_["no call"] = {
      "", Event(R"({"role":"assistant","content":null})") + Event("{}", "\"stop\"") + "data: [DONE]\n\n"};
  replies_["cut"] = {"", Event(R"({"content":"[{\"na"})")};
  replies_["error"] = {"", R"(data: {"error":{"message":"model overloaded"}})"
                           "\n\n"};

  absl::StatusOr<Prediction> parallel = Predict("parallel", true);
  ASSERT_TRUE(parallel.ok()) << parallel.status();
  EXPECT_EQ(parallel->text, CallsToJson({{"get_weather", {{"location", "Oslo"}}}, {"now", Json::object()}}));
  EXPECT_EQ(parallel->output_tokens, 12);
  EXPECT_GE(parallel->ttft_ms, 0);
  EXPECT_LE(parallel->ttft_ms, parallel->latency_ms);

  absl::StatusOr<Prediction> text = Predict("text", true);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->text, R"(<tool_call>{"name":"f","arguments":{}}</tool_call>)");
  EXPECT_EQ(text->output_tokens, -1);

  absl::StatusOr<Prediction> no_call = Predict("no call", true);
  ASSERT_TRUE(no_call.ok()) << no_call.status();
  EXPECT_EQ(no_call->text, "[]");

  absl::StatusOr<Prediction> cut = Predict("cut", true);
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(cut.status().message(), HasSubstr("the stream ended without a finish_reason"));

  absl::StatusOr<Prediction> error = Predict("error", true);
  ASSERT_FALSE(error.ok());
  EXPECT_THAT(error.status().message(), HasSubstr("model overloaded"));
}

}  // namespace
}  // namespace needle::evals
