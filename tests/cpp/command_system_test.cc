// MakeCommandSystem against the small Python systems in tests/data/evals/command/.
#include "needle/evals/command_system.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/toolcalls/call.h"
#include "nlohmann/json.hpp"

namespace needle::evals {

using toolcalls::CallsToJson;
using toolcalls::ParsedOutput;
using toolcalls::ParseOutput;
using toolcalls::ToolCall;

namespace {

using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kTools[] = R"([{"name":"search","description":"Search","parameters":{"q":{"type":"string"}}}])";

std::string Script(const std::string& name) {
  return std::string(NEEDLE_SOURCE_DIR) + "/tests/data/evals/command/" + name;
}

std::unique_ptr<System> MakeSystem(const std::string& script, int processes = 1, double timeout_seconds = 30) {
  CommandOptions options;
  options.name = script;
  options.argv = {kPython, Script(script)};
  options.processes = processes;
  options.timeout_seconds = timeout_seconds;
  absl::StatusOr<std::unique_ptr<System>> system = MakeCommandSystem(options);
  EXPECT_TRUE(system.ok()) << system.status();
  return system.ok() ? *std::move(system) : nullptr;
}

EvalItem Item(const std::string& id, const std::string& query) {
  EvalItem item;
  item.id = id;
  item.query = query;
  item.tools_json = kTools;
  return item;
}

// The echo system's single call, as parsed from a prediction.
ToolCall OnlyCall(const Prediction& prediction) {
  ParsedOutput parsed = ParseOutput(prediction.text);
  EXPECT_TRUE(parsed.parsed) << parsed.error << " in " << prediction.text;
  EXPECT_EQ(parsed.calls.size(), 1u) << prediction.text;
  return parsed.calls.empty() ? ToolCall{} : parsed.calls[0];
}

int PidOf(const Prediction& prediction) {
  nlohmann::json output = nlohmann::json::parse(prediction.text, nullptr, false);
  if (output.is_array() && !output.empty()) return output[0]["arguments"].value("pid", 0);
  return output.is_object() ? output.value("pid", 0) : 0;
}

bool Alive(int pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

// Alive and not a zombie waiting for a parent (an orphan's is whoever adopts it) to reap it.
bool Running(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, name, state;
  if (!(stat >> pid_field >> name >> state)) return false;
  return state != "Z" && state != "X";
}

// Systems that read JSON Schema get the tools as OpenAI function tools, and the conversation whole.
TEST(CommandSystemTest, SendsTheConversationAndTheJsonSchema) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py");
  ASSERT_NE(system, nullptr);
  EvalItem item = Item("c1", "echo the conversation and the schema");
  item.messages_json = R"([{"role":"system","content":"Be terse."},{"role":"user","content":"hi"}])";
  absl::StatusOr<Prediction> prediction = system->Predict(item);
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  const ToolCall call = OnlyCall(*prediction);
  EXPECT_EQ(call.arguments["messages"][0]["role"], "system");
  EXPECT_EQ(call.arguments["messages"][1]["content"], "hi");
  const nlohmann::ordered_json& tool = call.arguments["openai_tools"][0];
  EXPECT_EQ(tool["type"], "function");
  EXPECT_EQ(tool["function"]["name"], "search");
  EXPECT_EQ(tool["function"]["parameters"]["properties"]["q"]["type"], "string");

  // Without messages, the query is the one user message.
  prediction = system->Predict(Item("c2", "echo the conversation and the schema"));
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  EXPECT_EQ(OnlyCall(*prediction).arguments["messages"],
            nlohmann::ordered_json::parse(R"([{"role":"user","content":"echo the conversation and the schema"}])"));
}

TEST(CommandSystemTest, EchoesOutputAndTimings) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py");
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(system->name(), "echo_system.py");
  absl::StatusOr<Prediction> prediction = system->Predict(Item("a1", "find three cats"));
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  const ToolCall call = OnlyCall(*prediction);
  EXPECT_EQ(call.name, "search");
  EXPECT_EQ(call.arguments["query"], "find three cats");
  EXPECT_EQ(prediction->ttft_ms, 1.5);
  EXPECT_EQ(prediction->output_tokens, 3);
  EXPECT_GE(prediction->latency_ms, 0);
}

TEST(CommandSystemTest, SerialisesStructuredCalls) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py");
  ASSERT_NE(system, nullptr);
  absl::StatusOr<Prediction> prediction = system->Predict(Item("a1", "reply with calls"));
  ASSERT_TRUE(prediction.ok()) << prediction.status();
  const int pid = PidOf(*prediction);
  EXPECT_EQ(prediction->text, CallsToJson({ToolCall{"search", {{"query", "reply with calls"}, {"pid", pid}}}}));
  EXPECT_EQ(prediction->ttft_ms, -1);
  EXPECT_EQ(prediction->output_tokens, -1);
}

TEST(CommandSystemTest, ErrorReplyFailsTheRequestButKeepsTheProcess) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py");
  ASSERT_NE(system, nullptr);
  absl::StatusOr<Prediction> before = system->Predict(Item("a1", "hello"));
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<Prediction> failed = system->Predict(Item("a2", "reply with an error"));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("echo_system.py"));
  EXPECT_THAT(failed.status().message(), HasSubstr("asked to fail"));
  EXPECT_THAT(failed.status().message(), HasSubstr("\"a2\""));
  absl::StatusOr<Prediction> after = system->Predict(Item("a3", "hello"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(PidOf(*after), PidOf(*before));
}

TEST(CommandSystemTest, WrongReplyIdRestartsTheProcess) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py");
  ASSERT_NE(system, nullptr);
  absl::StatusOr<Prediction> before = system->Predict(Item("a1", "hello"));
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<Prediction> failed = system->Predict(Item("a2", "reply with a wrong id"));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("replied with id \"not a2\" to request \"a2\""));
  absl::StatusOr<Prediction> after = system->Predict(Item("a3", "hello"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(PidOf(*after), PidOf(*before));
  EXPECT_FALSE(Alive(PidOf(*before)));
}

TEST(CommandSystemTest, GarbageReplyIsAnErrorNamingTheCommand) {
  std::unique_ptr<System> system = MakeSystem("garbage_system.py");
  ASSERT_NE(system, nullptr);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Prediction> prediction = system->Predict(Item("g1", "hello"));
    ASSERT_FALSE(prediction.ok());
    EXPECT_THAT(prediction.status().message(), HasSubstr("command \"garbage_system.py\""));
    EXPECT_THAT(prediction.status().message(), HasSubstr("not a JSON object: I am not speaking JSON today"));
  }
}

TEST(CommandSystemTest, TimeoutKillsAndTheNextRequestRestarts) {
  std::unique_ptr<System> system = MakeSystem("hanging_system.py", 1, /*timeout_seconds=*/0.5);
  ASSERT_NE(system, nullptr);
  absl::StatusOr<Prediction> before = system->Predict(Item("h1", "hello"));
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<Prediction> hung = system->Predict(Item("h2", "hang"));
  ASSERT_FALSE(hung.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(hung.status())) << hung.status();
  EXPECT_THAT(hung.status().message(), HasSubstr("hanging_system.py"));
  EXPECT_THAT(hung.status().message(), HasSubstr("timeout 0.5 s"));
  EXPECT_FALSE(Alive(PidOf(*before)));
  absl::StatusOr<Prediction> after = system->Predict(Item("h3", "hello"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(PidOf(*after), PidOf(*before));
}

// A copy is killed with its process group: a wrapper script's own children go too.
TEST(CommandSystemTest, TimeoutKillsTheChildrenOfAWrapperScript) {
  CommandOptions options;
  options.name = "wrapped";
  // "; exit" keeps sh from exec-ing python: python is sh's child.
  options.argv = {"/bin/sh", "-c", std::string(kPython) + " " + Script("hanging_system.py") + "; exit"};
  options.timeout_seconds = 0.5;
  absl::StatusOr<std::unique_ptr<System>> system = MakeCommandSystem(options);
  ASSERT_TRUE(system.ok()) << system.status();
  absl::StatusOr<Prediction> before = (*system)->Predict(Item("w1", "hello"));
  ASSERT_TRUE(before.ok()) << before.status();
  const int python = PidOf(*before);
  ASSERT_GT(python, 0);
  EXPECT_TRUE(absl::IsDeadlineExceeded((*system)->Predict(Item("w2", "hang")).status()));
  // SIGKILL is delivered at once; only the orphan's reaping may take a moment.
  for (int i = 0; i < 100 && Running(python); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Running(python));
}

TEST(CommandSystemTest, CrashMidReplyIsReportedAndTheNextRequestRestarts) {
  std::unique_ptr<System> system = MakeSystem("crashing_system.py");
  ASSERT_NE(system, nullptr);
  absl::StatusOr<Prediction> before = system->Predict(Item("c1", "hello"));
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<Prediction> crashed = system->Predict(Item("c2", "crash"));
  ASSERT_FALSE(crashed.ok());
  EXPECT_THAT(crashed.status().message(), HasSubstr("crashing_system.py"));
  EXPECT_THAT(crashed.status().message(), HasSubstr("closed its stdout in the middle of a line"));
  EXPECT_THAT(crashed.status().message(), HasSubstr("exited with status 3"));
  absl::StatusOr<Prediction> after = system->Predict(Item("c3", "hello"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(PidOf(*after), PidOf(*before));
}

TEST(CommandSystemTest, ProcessThatStopsReadingDoesNotKillTheHost) {
  // A request far larger than a pipe's buffer is still being written when
  // the process exits, so the write meets a closed pipe (SIGPIPE, EPIPE).
  CommandOptions options;
  options.name = "quitter";
  options.argv = {kPython, "-c", "pass"};
  absl::StatusOr<std::unique_ptr<System>> system = MakeCommandSystem(options);
  ASSERT_TRUE(system.ok()) << system.status();
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Prediction> prediction = (*system)->Predict(Item("q", std::string(1 << 20, 'x')));
    ASSERT_FALSE(prediction.ok());
    EXPECT_THAT(prediction.status().message(), HasSubstr("command \"quitter\""));
    EXPECT_THAT(prediction.status().message(), HasSubstr("exited with status 0"));
    EXPECT_THAT(prediction.status().message(), HasSubstr("closed its stdin"));
  }
}

TEST(CommandSystemTest, ConcurrentCallersShareTheProcesses) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py", /*processes=*/2);
  ASSERT_NE(system, nullptr);
  constexpr int kThreads = 6, kPerThread = 8;
  std::vector<std::vector<absl::StatusOr<Prediction>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        results[t].push_back(
            system->Predict(Item(std::to_string(t * 100 + i), "query " + std::to_string(t * 100 + i))));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<int> pids;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const absl::StatusOr<Prediction>& prediction = results[t][i];
      ASSERT_TRUE(prediction.ok()) << prediction.status();
      EXPECT_EQ(OnlyCall(*prediction).arguments["query"], "query " + std::to_string(t * 100 + i));
      pids.insert(PidOf(*prediction));
    }
  }
  EXPECT_GE(pids.size(), 1u);
  EXPECT_LE(pids.size(), 2u);
  system.reset();  // closes the pipes and reaps both copies
  for (int pid : pids) EXPECT_FALSE(Alive(pid)) << pid;
}

TEST(CommandSystemTest, BadOptionsAreRefused) {
  CommandOptions options;
  options.name = "broken";
  absl::StatusOr<std::unique_ptr<System>> system = MakeCommandSystem(options);
  ASSERT_FALSE(system.ok());
  EXPECT_THAT(system.status().message(), HasSubstr("argv is empty"));

  options.argv = {"/no/such/program"};
  system = MakeCommandSystem(options);
  ASSERT_FALSE(system.ok());
  EXPECT_THAT(system.status().message(), HasSubstr("cannot run \"/no/such/program\": No such file or directory"));
  EXPECT_THAT(system.status().message(), HasSubstr("command \"broken\""));

  options.argv = {kPython, Script("echo_system.py")};
  options.processes = 0;
  system = MakeCommandSystem(options);
  ASSERT_FALSE(system.ok());
  EXPECT_THAT(system.status().message(), HasSubstr("processes must be >= 1"));

  options.processes = 1;
  options.timeout_seconds = 0;
  system = MakeCommandSystem(options);
  ASSERT_FALSE(system.ok());
  EXPECT_THAT(system.status().message(), HasSubstr("timeout_seconds must be > 0"));
}

TEST(CommandSystemTest, BadToolsJsonIsAnErrorAndKeepsTheProcess) {
  std::unique_ptr<System> system = MakeSystem("echo_system.py");
  ASSERT_NE(system, nullptr);
  EvalItem item = Item("t1", "hello");
  item.tools_json = "[{";
  absl::StatusOr<Prediction> prediction = system->Predict(item);
  ASSERT_FALSE(prediction.ok());
  EXPECT_THAT(prediction.status().message(), HasSubstr("item \"t1\": tools_json is not valid JSON"));
  EXPECT_TRUE(system->Predict(Item("t2", "hello")).ok());
}

}  // namespace
}  // namespace needle::evals
