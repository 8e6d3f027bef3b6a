// needle-serve's OpenAI wire format (request parsing, responses, stream
// chunks), and the HTTP server in process on the default model.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "needle/generate.h"
#include "needle/serve/openai_api.h"
#include "needle/serve/server.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/convert_tools.h"
#include "serve/src/connection.h"

namespace needle::serve {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kWeatherTool[] =
    R"({"type":"function","function":{"name":"get_weather","description":"Current weather",)"
    R"("parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}})";

ChatRequest ParseOk(const std::string& body) {
  std::variant<ChatRequest, ApiError> parsed = ParseChatRequest(body);
  if (const ApiError* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << "refused: " << error->message << "\nbody: " << body;
    return {};
  }
  return std::get<ChatRequest>(parsed);
}

ApiError ParseError(const std::string& body) {
  std::variant<ChatRequest, ApiError> parsed = ParseChatRequest(body);
  if (!std::holds_alternative<ApiError>(parsed)) {
    ADD_FAILURE() << "accepted: " << body;
    return {};
  }
  return std::get<ApiError>(parsed);
}

TEST(ParseChatRequestTest, ReadsAFullRequest) {
  const ChatRequest request = ParseOk(std::string(R"({"model":"needle","stream":true,"max_tokens":64,)") +
                                      R"("stream_options":{"include_usage":true},"tool_choice":"auto","n":1,)" +
                                      R"("temperature":0,"messages":[{"role":"user","content":"Weather in Paris?"}],)" +
                                      R"("tools":[)" + kWeatherTool + "]}");
  EXPECT_EQ(request.model, "needle");
  EXPECT_EQ(request.query, "Weather in Paris?");
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.include_usage);
  EXPECT_EQ(request.max_tokens, 64);
  EXPECT_EQ(request.tool_choice, ToolChoice::kAuto);
  ASSERT_EQ(request.tools.size(), 1u);
  EXPECT_EQ(request.tools[0], nlohmann::ordered_json::parse(kWeatherTool));
}

TEST(ParseChatRequestTest, DefaultsWhenOptionalFieldsAreMissingOrNull) {
  const ChatRequest request =
      ParseOk(R"({"messages":[{"role":"user","content":"hi"}],"model":null,"tools":null,"max_tokens":null})");
  EXPECT_EQ(request.model, "");
  EXPECT_FALSE(request.stream);
  EXPECT_FALSE(request.include_usage);
  EXPECT_EQ(request.max_tokens, -1);
  EXPECT_TRUE(request.tools.empty());
  EXPECT_EQ(request.tool_choice, ToolChoice::kAuto);
}

TEST(ParseChatRequestTest, QueryIsTheLastUserMessage) {
  const ChatRequest request = ParseOk(R"({"messages":[
      {"role":"system","content":"You call tools."},
      {"role":"user","content":"first question"},
      {"role":"assistant","content":null,
       "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"42"},
      {"role":"user","content":[{"type":"text","text":"second"},{"type":"text","text":"question"}]},
      {"role":"assistant"}]})");
  EXPECT_EQ(request.query, "second\nquestion");
}

TEST(ParseChatRequestTest, MaxCompletionTokensWinsOverMaxTokens) {
  EXPECT_EQ(
      ParseOk(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":100,"max_completion_tokens":7})").max_tokens,
      7);
  EXPECT_EQ(ParseOk(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":9})").max_tokens, 9);
  // Past int64 (read as unsigned): capped, not reported as -1.
  EXPECT_EQ(ParseOk(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":18446744073709551615})").max_tokens,
            INT32_MAX);
}

TEST(ParseChatRequestTest, ToolChoiceModes) {
  const std::string head =
      std::string(R"({"messages":[{"role":"user","content":"x"}],"tools":[)") + kWeatherTool + "],";
  EXPECT_EQ(ParseOk(head + R"("tool_choice":"none"})").tool_choice, ToolChoice::kNone);
  EXPECT_EQ(ParseOk(head + R"("tool_choice":"required"})").tool_choice, ToolChoice::kRequired);
  const ChatRequest named = ParseOk(head + R"("tool_choice":{"type":"function","function":{"name":"get_weather"}}})");
  EXPECT_EQ(named.tool_choice, ToolChoice::kFunction);
  EXPECT_EQ(named.tool_choice_name, "get_weather");
}

struct BadRequest {
  std::string body;
  std::string param;  // "" when the error concerns the whole body
  std::string message;
};

class BadRequestTest : public ::testing::TestWithParam<BadRequest> {};

TEST_P(BadRequestTest, IsRefusedNamingTheField) {
  SCOPED_TRACE(GetParam().body);
  const ApiError error = ParseError(GetParam().body);
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(error.type, "invalid_request_error");
  EXPECT_EQ(error.param, GetParam().param);
  EXPECT_THAT(error.message, HasSubstr(GetParam().message));
  if (!GetParam().param.empty()) {
    EXPECT_THAT(error.message, StartsWith(GetParam().param + ": "));
  }
}

// Wraps `fields` with a valid user message, so that each case breaks one thing.
std::string WithMessage(const std::string& fields) {
  return R"({"messages":[{"role":"user","content":"x"}],)" + fields + "}";
}
std::string WithTool(const std::string& tool) { return WithMessage(R"("tools":[)" + tool + "]"); }

INSTANTIATE_TEST_SUITE_P(
    AllFields, BadRequestTest,
    ::testing::Values(
        BadRequest{"{\"messages\": [", "", "request body is not valid JSON: parse error at line 1, column 15"},
        BadRequest{R"({"messages":[],"max_tokens":1e999})", "", "request body is not valid JSON: number overflow"},
        // An unknown field before "messages" and a tool's enum, each 200,000 levels deep, crashed the server.
        BadRequest{R"({"x":)" + std::string(200000, '[') + std::string(200000, ']') + R"(,"messages":[]})", "",
                   "request body is not valid JSON: nested deeper than 128 levels at byte offset 132"},
        BadRequest{WithTool(R"({"type":"function","function":{"name":"f","parameters":{"type":"object",)"
                            R"("properties":{"a":{"type":"string","enum":)" +
                            std::string(200000, '[') + std::string(200000, ']') + "}}}}}"),
                   "", "request body is not valid JSON: nested deeper than 128 levels"},
        BadRequest{"[1,2]", "", "request body must be a JSON object, got array"},
        BadRequest{"{}", "messages", "messages: required"},
        BadRequest{R"({"messages":"hi"})", "messages", "expected an array, got string"},
        BadRequest{R"({"messages":[]})", "messages", "at least one message"},
        BadRequest{R"({"messages":[7]})", "messages[0]", "expected an object, got integer"},
        BadRequest{R"({"messages":[{"content":"x"}]})", "messages[0].role", "expected a string"},
        BadRequest{R"({"messages":[{"role":"robot","content":"x"}]})", "messages[0].role", "unknown role \"robot\""},
        BadRequest{R"({"messages":[{"role":"user"}]})", "messages[0].content", "required"},
        BadRequest{R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":5}]})",
                   "messages[1].content", "expected a string or an array of text parts, got integer"},
        BadRequest{R"({"messages":[{"role":"user","content":["x"]}]})", "messages[0].content[0]",
                   "expected an object, got string"},
        BadRequest{R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})", "messages[0].content[0].type",
                   "expected a string"},
        BadRequest{R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
                   "messages[0].content[0].type", "only \"text\" parts are supported, got \"image_url\""},
        BadRequest{R"({"messages":[{"role":"user","content":[{"type":"text","text":3}]}]})",
                   "messages[0].content[0].text", "expected a string"},
        BadRequest{R"({"messages":[{"role":"system","content":"s"}]})", "messages", "no message has role \"user\""},
        BadRequest{WithMessage(R"("model":5)"), "model", "expected a string, got integer"},
        BadRequest{WithMessage(R"("stream":"yes")"), "stream", "expected a boolean, got string"},
        BadRequest{WithMessage(R"("stream_options":1)"), "stream_options", "expected an object"},
        BadRequest{WithMessage(R"("stream_options":{"include_usage":"y"})"), "stream_options.include_usage",
                   "expected a boolean"},
        BadRequest{WithMessage(R"("max_tokens":0)"), "max_tokens", "must be at least 1, got 0"},
        BadRequest{WithMessage(R"("max_tokens":-9223372036854775808)"), "max_tokens",
                   "must be at least 1, got -9223372036854775808"},
        BadRequest{WithMessage(R"("max_tokens":1.5)"), "max_tokens", "expected an integer, got number"},
        BadRequest{WithMessage(R"("max_completion_tokens":-3)"), "max_completion_tokens", "must be at least 1, got -3"},
        BadRequest{WithMessage(R"("n":2)"), "n", "decodes greedily and cannot honour 2; leave it out or send 1"},
        BadRequest{WithMessage(R"("temperature":0.7)"), "temperature", "cannot honour 0.7; leave it out or send 0"},
        BadRequest{WithMessage(R"("top_p":0.9)"), "top_p", "cannot honour 0.9"},
        BadRequest{WithMessage(R"("stop":["END"])"), "stop", "cannot honour"},
        BadRequest{WithMessage(R"("response_format":{"type":"json_object"})"), "response_format", "cannot honour"},
        BadRequest{WithMessage(R"("parallel_tool_calls":false)"), "parallel_tool_calls", "cannot honour false"},
        BadRequest{WithMessage(R"("logprobs":true)"), "logprobs", "cannot honour true"},
        BadRequest{WithMessage(R"("functions":[{"name":"f"}])"), "functions", "send \"tools\""},
        BadRequest{WithMessage(R"("function_call":"auto")"), "function_call", "legacy functions API"},
        BadRequest{WithMessage(R"("tool_choice":"required")"), "tool_choice", "needs at least one tool"},
        BadRequest{WithMessage(R"("tools":{})"), "tools", "expected an array, got object"},
        BadRequest{WithTool("1"), "tools[0]", "expected an object, got integer"},
        BadRequest{WithTool(R"({"type":"retrieval"})"), "tools[0].type", "expected \"function\""},
        BadRequest{WithTool(R"({"type":"function"})"), "tools[0].function", "expected an object"},
        BadRequest{WithTool(R"({"type":"function","function":{"name":""}})"), "tools[0].function.name",
                   "expected a non-empty string"},
        BadRequest{WithTool(R"({"type":"function","function":{"name":"f","description":3}})"),
                   "tools[0].function.description", "expected a string, got integer"},
        BadRequest{WithTool(R"({"type":"function","function":{"name":"f","parameters":"none"}})"),
                   "tools[0].function.parameters", "expected a JSON Schema object, got string"},
        BadRequest{WithMessage(R"("tool_choice":"always")"), "tool_choice", "got \"always\""},
        BadRequest{WithMessage(R"("tool_choice":3)"), "tool_choice", "expected a string or an object"},
        BadRequest{WithMessage(R"("tool_choice":{"type":"tool"})"), "tool_choice.type", "expected \"function\""},
        BadRequest{WithMessage(R"("tool_choice":{"type":"function"})"), "tool_choice.function", "expected an object"},
        BadRequest{WithMessage(R"("tool_choice":{"type":"function","function":{}})"), "tool_choice.function.name",
                   "expected a string"},
        BadRequest{WithMessage(R"("tools":[)" + std::string(kWeatherTool) +
                               R"(],"tool_choice":{"type":"function","function":{"name":"get_time"}})"),
                   "tool_choice.function.name", "no tool named \"get_time\" in tools"}));

TEST(InterpretOutputTest, CallsBecomeToolCalls) {
  const CompletionOutput output =
      InterpretOutput(R"([{"name":"get_weather","arguments":{"location":"Paris"}}])", false);
  EXPECT_FALSE(output.content.has_value());
  ASSERT_EQ(output.calls.size(), 1u);
  EXPECT_EQ(output.calls[0].name, "get_weather");
  EXPECT_EQ(output.calls[0].arguments, R"({"location":"Paris"})");
  EXPECT_EQ(output.finish_reason, "tool_calls");
}

TEST(InterpretOutputTest, NoCallIsNullContent) {
  const CompletionOutput output = InterpretOutput("[]", false);
  EXPECT_FALSE(output.content.has_value());
  EXPECT_TRUE(output.calls.empty());
  EXPECT_EQ(output.finish_reason, "stop");
  const CompletionOutput none = NoCallOutput();
  EXPECT_FALSE(none.content.has_value());
  EXPECT_TRUE(none.calls.empty());
  EXPECT_EQ(none.finish_reason, "stop");
}

TEST(InterpretOutputTest, UnparsableTextIsContentAndACutCallIsACall) {
  CompletionOutput output = InterpretOutput("not a call", false);
  EXPECT_EQ(output.content, "not a call");
  EXPECT_TRUE(output.calls.empty());
  EXPECT_EQ(output.finish_reason, "stop");

  // Cut by the token limit: the call as a stream would have sent it.
  output = InterpretOutput(R"([{"name":"get_weather","arguments":{"location":"Par)", true);
  EXPECT_FALSE(output.content.has_value());
  ASSERT_EQ(output.calls.size(), 1u);
  EXPECT_EQ(output.calls[0].name, "get_weather");
  EXPECT_EQ(output.calls[0].arguments, R"({"location":"Par)");
  EXPECT_EQ(output.finish_reason, "length");

  // A name not complete yet is no call.
  output = InterpretOutput(R"([{"name":"get_wea)", true);
  EXPECT_EQ(output.content, R"([{"name":"get_wea)");
  EXPECT_EQ(output.finish_reason, "length");
}

TEST(NeedsModelTest, NoToolsToolChoiceNoneAndToolResultsAreAnsweredWithoutIt) {
  const std::string tools = std::string(R"(,"tools":[)") + kWeatherTool + "]";
  const std::string user = R"({"messages":[{"role":"user","content":"hi"}])";
  EXPECT_TRUE(NeedsModel(ParseOk(user + tools + "}")));
  EXPECT_FALSE(NeedsModel(ParseOk(user + "}")));
  EXPECT_FALSE(NeedsModel(ParseOk(user + tools + R"(,"tool_choice":"none"})")));
  const ChatRequest after_result =
      ParseOk(R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[]},)"
              R"({"role":"tool","tool_call_id":"c","content":"17 C"}])" +
              tools + "}");
  EXPECT_TRUE(after_result.ends_with_tool_result);
  EXPECT_FALSE(NeedsModel(after_result));
  // Values that ask for greedy decoding are accepted.
  EXPECT_TRUE(NeedsModel(ParseOk(user + tools +
                                 R"(,"temperature":0,"top_p":1,"seed":4,"n":1,"parallel_tool_calls":true,)"
                                 R"("stop":null,"response_format":{"type":"text"}})")));
}

const CompletionMeta kMeta{"chatcmpl-1", 1700000000, "needle"};

TEST(CompletionJsonTest, ToolCallsResponse) {
  const CompletionOutput output = InterpretOutput(
      R"([{"name":"get_weather","arguments":{"location":"Paris"}},{"name":"now","arguments":{}}])", false);
  EXPECT_EQ(CompletionJson(kMeta, output, Usage{20, 12}), Json::parse(R"({
      "id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"needle",
      "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
          {"id":"call_chatcmpl-1_0","type":"function",
           "function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},
          {"id":"call_chatcmpl-1_1","type":"function","function":{"name":"now","arguments":"{}"}}]},
        "finish_reason":"tool_calls"}],
      "usage":{"prompt_tokens":20,"completion_tokens":12,"total_tokens":32}})"));
}

TEST(CompletionJsonTest, ContentResponse) {
  const Json response = CompletionJson(kMeta, InterpretOutput("not a call", false), Usage{5, 3});
  const Json& message = response["choices"][0]["message"];
  EXPECT_EQ(message, Json::parse(R"({"role":"assistant","content":"not a call"})"));
  EXPECT_EQ(response["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(response["usage"]["total_tokens"], 8);
}

TEST(StreamChunksTest, ChunkShapes) {
  EXPECT_EQ(RoleChunk(kMeta), Json::parse(R"({"id":"chatcmpl-1","object":"chat.completion.chunk",
      "created":1700000000,"model":"needle",
      "choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]})"));
  EXPECT_EQ(ContentChunk(kMeta, "not a call")["choices"][0],
            Json::parse(R"({"index":0,"delta":{"content":"not a call"},"finish_reason":null})"));
  const CompletionOutput calls = InterpretOutput(R"([{"name":"f","arguments":{"x":1}}])", false);
  EXPECT_EQ(ToolCallsChunk(kMeta, WholeToolCalls(kMeta, calls.calls))["choices"][0],
            Json::parse(R"({"index":0,"delta":{"tool_calls":[
      {"index":0,"id":"call_chatcmpl-1_0","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
      "finish_reason":null})"));
  EXPECT_EQ(FinalChunk(kMeta, calls)["choices"][0],
            Json::parse(R"({"index":0,"delta":{},"finish_reason":"tool_calls"})"));
  EXPECT_EQ(FinalChunk(kMeta, InterpretOutput("oops", false))["choices"][0],
            Json::parse(R"({"index":0,"delta":{},"finish_reason":"stop"})"));
  const Json usage = UsageChunk(kMeta, Usage{4, 6});
  EXPECT_EQ(usage["object"], "chat.completion.chunk");
  EXPECT_EQ(usage["choices"], Json::array());
  EXPECT_EQ(usage["usage"], Json::parse(R"({"prompt_tokens":4,"completion_tokens":6,"total_tokens":10})"));
}

// Feeds `text` a byte at a time, as a model might write it, and returns every delta sent.
std::vector<Json> StreamByteByByte(std::string_view text) {
  ToolCallStreamer streamer(kMeta);
  std::vector<Json> deltas;
  for (size_t n = 1; n <= text.size(); ++n) {
    for (Json& delta : streamer.Update(text.substr(0, n))) deltas.push_back(std::move(delta));
  }
  return deltas;
}

TEST(ToolCallStreamerTest, NameOnceThenArgumentFragmentsPerCall) {
  const std::string text =
      R"([{"name":"getWeather","arguments":{"location":"Paris, \"FR\" {x}","name":"y"}}, {"name":"now","arguments":{}}])";
  const std::vector<Json> deltas = StreamByteByByte(text);
  std::vector<std::string> names, arguments(2);
  for (const Json& delta : deltas) {
    const size_t index = delta["index"].get<size_t>();
    ASSERT_LT(index, 2u);
    if (delta["function"].contains("name")) {
      EXPECT_EQ(index, names.size()) << "calls start in order";
      EXPECT_EQ(delta["id"], StrCat("call_chatcmpl-1_", index));
      EXPECT_EQ(delta["type"], "function");
      EXPECT_EQ(delta["function"]["arguments"], "");
      names.push_back(delta["function"]["name"]);
    } else {
      EXPECT_FALSE(delta.contains("id"));
      EXPECT_LT(index, names.size()) << "arguments come after their call's name";
      arguments[index] += delta["function"]["arguments"].get<std::string>();
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"getWeather", "now"}));
  // A "name" inside the arguments is data, and the text joins to exactly the arguments written.
  EXPECT_EQ(arguments[0], R"({"location":"Paris, \"FR\" {x}","name":"y"})");
  EXPECT_EQ(arguments[1], "{}");
  EXPECT_GT(deltas.size(), 10u) << "arguments are streamed in pieces";
}

TEST(ToolCallStreamerTest, NothingForTextThatIsNoCall) {
  EXPECT_TRUE(StreamByteByByte("[]").empty());
  EXPECT_TRUE(StreamByteByByte("sorry, no tool fits").empty());
  EXPECT_TRUE(StreamByteByByte(R"([{"arguments":{"a":1})").empty()) << "no name, no call";
}

TEST(StreamChunksTest, ServerSentEventFraming) {
  EXPECT_EQ(SseEvent(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  // Broken UTF-8 from a model must not throw or break the JSON.
  const std::string event = SseEvent(ContentChunk(kMeta, "bad \xff byte"));
  EXPECT_THAT(event, StartsWith("data: {"));
  EXPECT_THAT(event, HasSubstr("bad \xEF\xBF\xBD byte"));
}

TEST(ErrorJsonTest, OpenAiShape) {
  ApiError error;
  error.message = "messages: required";
  error.param = "messages";
  EXPECT_EQ(ErrorJson(error), Json::parse(R"({"error":{"message":"messages: required",
      "type":"invalid_request_error","param":"messages","code":null}})"));
  error.param = "";
  error.code = "not_found";
  EXPECT_EQ(ErrorJson(error)["error"]["param"], nullptr);
  EXPECT_EQ(ErrorJson(error)["error"]["code"], "not_found");
}

TEST(ModelsJsonTest, ListsTheModel) {
  EXPECT_EQ(ModelsJson("needle", 5), Json::parse(R"({"object":"list","data":[
      {"id":"needle","object":"model","created":5,"owned_by":"needle"}]})"));
}

// The server in process, on the default model: the wiring around
// Generate, not the quality of its calls.
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto caller = ToolCaller::Load(std::string(NEEDLE_SOURCE_DIR) + "/models/default/needle.safetensors",
                                   std::string(NEEDLE_SOURCE_DIR) + "/models/default/tokenizer.model", "reference");
    ASSERT_TRUE(caller.ok()) << caller.status();
    caller_ = std::shared_ptr<const ToolCaller>(*std::move(caller));
  }
  static void TearDownTestSuite() { caller_.reset(); }

  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.parallel = 2;
    options.max_body_bytes = 4096;
    options.model_id = "test-model";
    options.max_new_tokens = kMaxNewTokens;  // keeps each request short
    server_ = std::make_unique<Server>(caller_, options);
    absl::StatusOr<int> port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    ASSERT_GT(*port, 0);
    port_ = *port;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
    // httplib's 5 s default is too short for the reference engine under TSan
    // with other tests sharing the two cores.
    client_->set_read_timeout(std::chrono::seconds(60));
  }

  httplib::Result Post(const std::string& body) {
    return client_->Post("/v1/chat/completions", body, "application/json");
  }

  static std::string Body(const std::string& query, const std::string& extra = "") {
    return std::string(R"({"messages":[{"role":"user","content":")") + query + R"("}],"tools":[)" + kWeatherTool + "]" +
           extra + "}";
  }

  static constexpr int kMaxNewTokens = 24;
  static inline std::shared_ptr<const ToolCaller> caller_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

// A client on a bare socket, to hang up at moments httplib's client never would.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  // Closes with a reset (linger 0), so the server's next write to this connection fails at once.
  ~RawClient() {
    linger reset{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd_);
  }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Reads until `marker` has arrived (true) or the connection ends or times out (false).
  bool ReadUntil(const std::string& marker) {
    std::string seen;
    char buffer[4096];
    while (seen.find(marker) == std::string::npos) {
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      seen.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

 private:
  const int fd_;
  bool connected_ = false;
};

std::string PostRequest(const std::string& body, size_t content_length) {
  return StrCat("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
                "Content-Length: ", content_length, "\r\n\r\n", body);
}

TEST_F(ServerTest, CompletionMatchesGenerate) {
  httplib::Result result = Post(Body("What is the weather in Paris?"));
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  const Json response = Json::parse(result->body);
  EXPECT_EQ(response["object"], "chat.completion");
  EXPECT_EQ(response["model"], "test-model");

  absl::StatusOr<toolcalls::ConvertedTools> tools =
      toolcalls::ConvertTools(nlohmann::json::array({nlohmann::json::parse(kWeatherTool)}), "tools");
  ASSERT_TRUE(tools.ok()) << tools.status();
  GenerateOptions options;
  options.max_new_tokens = kMaxNewTokens;
  absl::StatusOr<GenerateResult> expected =
      caller_->Generate("What is the weather in Paris?", tools->needle_json, options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  const CompletionOutput output = InterpretOutput(expected->text, expected->stop == StopReason::kMaxTokens);
  Json expected_message = CompletionJson(CompletionMeta{}, output, Usage{})["choices"][0]["message"];
  Json message = response["choices"][0]["message"];
  // Call ids derive from the completion id, which is random per server.
  for (Json* m : {&message, &expected_message}) {
    if (m->contains("tool_calls")) {
      for (Json& call : (*m)["tool_calls"]) call.erase("id");
    }
  }
  EXPECT_EQ(message, expected_message);
  EXPECT_EQ(response["choices"][0]["finish_reason"], output.finish_reason);
  EXPECT_EQ(response["usage"]["prompt_tokens"], expected->encoder_tokens.size());
  EXPECT_EQ(response["usage"]["completion_tokens"], expected->tokens.size());
}

std::vector<Json> SseChunks(std::string body) {
  std::vector<Json> chunks;
  EXPECT_THAT(body, ::testing::EndsWith(std::string(kSseDone)));
  if (body.size() < kSseDone.size()) return chunks;
  body.erase(body.size() - kSseDone.size());
  size_t start = 0;
  while (start < body.size()) {
    const size_t end = body.find("\n\n", start);
    EXPECT_NE(end, std::string::npos);
    EXPECT_EQ(body.compare(start, 6, "data: "), 0);
    if (end == std::string::npos) break;
    chunks.push_back(Json::parse(body.substr(start + 6, end - start - 6)));
    start = end + 2;
  }
  return chunks;
}

TEST_F(ServerTest, StreamSendsRoleToolCallsFinalUsageDone) {
  const std::string extra = R"(,"tool_choice":"required")";
  httplib::Result result =
      Post(Body("Weather in Oslo", extra + R"(,"stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/event-stream");
  const std::vector<Json> chunks = SseChunks(result->body);
  ASSERT_GE(chunks.size(), 4u);
  EXPECT_EQ(chunks.front()["choices"][0]["delta"], Json::parse(R"({"role":"assistant","content":null})"));
  Json calls = Json::array();
  for (size_t i = 1; i + 2 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i]["id"], chunks[0]["id"]);
    const Json& choice = chunks[i]["choices"][0];
    EXPECT_TRUE(choice["finish_reason"].is_null());
    ASSERT_TRUE(choice["delta"].contains("tool_calls")) << chunks[i];
    EXPECT_FALSE(choice["delta"].contains("content")) << chunks[i];
    for (const Json& delta : choice["delta"]["tool_calls"]) {
      const size_t index = delta["index"];
      if (index == calls.size())
        calls.push_back({{"id", delta["id"]}, {"name", delta["function"]["name"]}, {"arguments", ""}});
      calls[index]["arguments"] =
          calls[index]["arguments"].get<std::string>() + delta["function"]["arguments"].get<std::string>();
    }
  }
  const Json& final_choice = chunks[chunks.size() - 2]["choices"][0];
  EXPECT_EQ(final_choice["delta"], Json::object());
  const Json& usage = chunks.back()["usage"];
  EXPECT_EQ(usage["total_tokens"], usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());

  // The calls streamed are the calls of the same request unstreamed.
  httplib::Result whole = Post(Body("Weather in Oslo", extra));
  ASSERT_TRUE(whole);
  const Json response = Json::parse(whole->body);
  const Json& message = response["choices"][0]["message"];
  ASSERT_TRUE(message.contains("tool_calls")) << message;
  ASSERT_EQ(calls.size(), message["tool_calls"].size());
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i]["name"], message["tool_calls"][i]["function"]["name"]);
    if (final_choice["finish_reason"] == "tool_calls") {
      EXPECT_EQ(Json::parse(calls[i]["arguments"].get<std::string>()),
                Json::parse(message["tool_calls"][i]["function"]["arguments"].get<std::string>()));
    }
  }
  EXPECT_EQ(final_choice["finish_reason"], response["choices"][0]["finish_reason"]);
  EXPECT_EQ(usage, response["usage"]);
}

TEST_F(ServerTest, NoCallAnswersDoNotRunTheModel) {
  for (const std::string& body : {std::string(R"({"messages":[{"role":"user","content":"Weather in Oslo"}]})"),
                                  Body("Weather in Oslo", R"(,"tool_choice":"none")")}) {
    for (const bool stream : {false, true}) {
      std::string request = body;
      if (stream) request.insert(request.size() - 1, R"(,"stream":true)");
      httplib::Result result = Post(request);
      ASSERT_TRUE(result);
      ASSERT_EQ(result->status, 200) << result->body;
      if (!stream) {
        const Json response = Json::parse(result->body);
        EXPECT_EQ(response["choices"][0]["message"], Json::parse(R"({"role":"assistant","content":null})"));
        EXPECT_EQ(response["choices"][0]["finish_reason"], "stop");
        EXPECT_EQ(response["usage"]["completion_tokens"], 0);
      } else {
        const std::vector<Json> chunks = SseChunks(result->body);
        ASSERT_EQ(chunks.size(), 2u) << result->body;
        EXPECT_EQ(chunks[1]["choices"][0]["delta"], Json::object());
        EXPECT_EQ(chunks[1]["choices"][0]["finish_reason"], "stop");
      }
    }
  }
}

TEST_F(ServerTest, NamedToolChoiceCallsThatTool) {
  const std::string tools = std::string(R"({"messages":[{"role":"user","content":"Weather in Oslo"}],"tools":[)") +
                            kWeatherTool +
                            R"(,{"type":"function","function":{"name":"setTimer","parameters":{"type":"object",)"
                            R"("properties":{"minutes":{"type":"integer"}}}}}],)";
  httplib::Result result =
      Post(tools + R"("max_tokens":12,"tool_choice":{"type":"function","function":{"name":"setTimer"}}})");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const Json message = Json::parse(result->body)["choices"][0]["message"];
  ASSERT_TRUE(message.contains("tool_calls")) << message;
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "setTimer");
}

TEST_F(ServerTest, MaxTokensStopsWithLength) {
  httplib::Result result = Post(Body("Weather in Rome", R"(,"max_tokens":1)"));
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const Json response = Json::parse(result->body);
  EXPECT_EQ(response["usage"]["completion_tokens"], 1);
  EXPECT_EQ(response["choices"][0]["finish_reason"], "length");
}

TEST_F(ServerTest, BadRequestsGetOpenAiErrors) {
  httplib::Result result = Post(R"({"messages":[]})");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  EXPECT_EQ(Json::parse(result->body)["error"]["param"], "messages");

  // Passes the wire checks but not the tool conversion.
  result = Post(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f",)"
                R"("parameters":{"type":"object","properties":{"a":{"type":"quaternion"}}}}}]})");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 400);
  const Json error = Json::parse(result->body)["error"];
  EXPECT_EQ(error["param"], "tools");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("tools[0].function.parameters.properties.a.type"));
}

TEST_F(ServerTest, OversizedBodyGets413) {
  httplib::Result result = Post(Body(std::string(5000, 'x')));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 413);
  const Json error = Json::parse(result->body)["error"];
  EXPECT_EQ(error["code"], "request_too_large");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("limit of 4096 bytes"));
}

TEST_F(ServerTest, ClientsThatHangUpMidRequestFreeTheirWorkers) {
  // Twice as many hang-ups as the server has workers: had one of them kept its
  // worker, the request after them would find no worker free.
  const std::string streamed = Body("What is the weather in Paris?", R"(,"stream":true)");
  for (int i = 0; i < 4; ++i) {
    RawClient client(port_);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(PostRequest(streamed, streamed.size())));
    EXPECT_TRUE(client.ReadUntil("data: ")) << "no first event before the hang-up";
  }
  const std::string plain = Body("What is the weather in Oslo?");
  for (int i = 0; i < 4; ++i) {
    RawClient client(port_);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(PostRequest(plain.substr(0, plain.size() / 2), plain.size())));  // half the body
  }
  httplib::Result result = Post(Body("What is the weather in Paris?"));
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200) << result->body;
}

TEST_F(ServerTest, UsageSaysWhenThePromptWasCut) {
  httplib::Result result = Post(Body("What is the weather in Paris?"));
  ASSERT_TRUE(result);
  EXPECT_FALSE(Json::parse(result->body)["usage"].contains("truncated"));

  // Over 1200 tokens of query, more than the fixture's 4096-byte body limit lets through.
  std::string long_query;
  for (int i = 0; i < 1200; ++i) long_query += "rain ";
  server_->Stop();
  ServerOptions options;
  options.port = 0;
  options.max_new_tokens = kMaxNewTokens;
  Server roomy(caller_, options);
  absl::StatusOr<int> port = roomy.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  client.set_read_timeout(std::chrono::seconds(120));  // a full 1024-token prompt on the reference engine
  result = client.Post("/v1/chat/completions", Body(long_query), "application/json");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const Json usage = Json::parse(result->body)["usage"];
  EXPECT_EQ(usage["prompt_tokens"], 1024);
  EXPECT_EQ(usage["truncated"], Json::parse(R"({"query":true,"tools":true})"));
}

TEST_F(ServerTest, UnknownRouteGets404Json) {
  httplib::Result result = client_->Get("/v1/nothing");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);
  EXPECT_EQ(Json::parse(result->body)["error"]["message"], "no route for GET /v1/nothing");
}

TEST_F(ServerTest, ModelsAndHealth) {
  httplib::Result models = client_->Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  EXPECT_EQ(Json::parse(models->body)["data"][0]["id"], "test-model");
  httplib::Result health = client_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body), Json::parse(R"({"status":"ok"})"));
}

TEST_F(ServerTest, StopIsIdempotentAndRefusesNewConnections) {
  server_->Stop();
  server_->Stop();
  client_->set_connection_timeout(std::chrono::seconds(2));
  httplib::Result result = client_->Get("/health");
  EXPECT_FALSE(result);
}

// The intake's framing: where a request ends, and the limits it checks before a body is read.
TEST(FrameRequestTest, FindsTheEndOfEachRequest) {
  const std::string post = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 4\r\n\r\nbody";
  Framing framing = FrameRequest(post, 100);
  EXPECT_EQ(framing.state, Framing::State::kComplete);
  EXPECT_EQ(framing.total_bytes, post.size());
  EXPECT_FALSE(framing.bodyless_method);
  EXPECT_EQ(FrameRequest(post.substr(0, post.size() - 1), 100).state, Framing::State::kNeedMore);
  EXPECT_EQ(FrameRequest(post.substr(0, 20), 100).state, Framing::State::kNeedMore);
  // Pipelined: the first request ends where its body does.
  EXPECT_EQ(FrameRequest(post + post, 100).total_bytes, post.size());
  const Framing get = FrameRequest("GET /health HTTP/1.1\r\n\r\n", 100);
  EXPECT_EQ(get.state, Framing::State::kComplete);
  EXPECT_TRUE(get.bodyless_method);
}

TEST(FrameRequestTest, ExpectContinueIsFoundToBeAnsweredOnce) {
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  const Framing framing = FrameRequest(head, 100);
  EXPECT_EQ(framing.state, Framing::State::kNeedMore);
  EXPECT_TRUE(framing.expects_continue);
  EXPECT_EQ(head.substr(framing.expect_begin, framing.expect_end - framing.expect_begin), "Expect: 100-continue\r\n");
}

TEST(FrameRequestTest, LimitsAreErrorsBeforeTheBody) {
  const auto error = [](const std::string& bytes) {
    const Framing framing = FrameRequest(bytes, 100);
    EXPECT_EQ(framing.state, Framing::State::kError) << bytes;
    return std::pair{framing.error_status, framing.error_message};
  };
  EXPECT_EQ(error("POST / HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n"),
            std::pair(413, std::string("request body of 5000000 bytes is larger than the server's limit of 100 bytes "
                                       "(needle-serve --max_body_bytes)")));
  EXPECT_EQ(error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").first, 411);
  EXPECT_EQ(error("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").first, 400);
  EXPECT_EQ(error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n").first, 400);
  EXPECT_EQ(error("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").first, 400);
  EXPECT_EQ(error("GET / HTTP/1.1\r\nX: " + std::string(kMaxHeaderBytes, 'a')).first, 431);
}

TEST(ServerStartTest, RefusesBadOptions) {
  ServerOptions options;
  options.port = 0;
  options.parallel = 0;
  Server server(nullptr, options);
  absl::StatusOr<int> port = server.Start();
  ASSERT_FALSE(port.ok());
  EXPECT_THAT(std::string(port.status().message()), HasSubstr("parallel must be >= 1"));

  options.parallel = 1;
  options.max_new_tokens = 600;
  Server too_long(nullptr, options);
  port = too_long.Start();
  ASSERT_FALSE(port.ok());
  EXPECT_THAT(std::string(port.status().message()), HasSubstr("max_new_tokens must be in [1, 511], got 600"));
}

TEST(ServerStartTest, ReportsAPortInUse) {
  ServerOptions options;
  options.port = 0;
  Server first(nullptr, options);
  absl::StatusOr<int> port = first.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  options.port = *port;
  Server second(nullptr, options);
  absl::StatusOr<int> again = second.Start();
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr(StrCat("cannot listen on 127.0.0.1:", *port)));
}

}  // namespace
}  // namespace needle::serve
