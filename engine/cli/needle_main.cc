// needle: run a Needle model from the command line.
//
//   needle run --query "..." --tools '[...]'     query + tools -> tool call
//   needle info --model M.safetensors           config and parameter counts
//   needle tokenize --query "..." --tools '[...]'  encoder prompt ids
//   needle logits --encoder_tokens 5,6 --decoder_tokens 1,4   raw logits (JSON)
//   needle embed --encoder_tokens 5,6                  retrieval-head embedding (JSON)
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/model_flags.h"
#include "needle/config.h"
#include "needle/engine.h"
#include "needle/file.h"
#include "needle/str_cat.h"
#include "needle/weights.h"
#include "nlohmann/json.hpp"
#ifdef NEEDLE_WITH_SENTENCEPIECE
#include "needle/generate.h"
#include "needle/tokenizer.h"
#include "needle/tools.h"
#endif

ABSL_FLAG(std::string, query, "", "the user's request");
ABSL_FLAG(std::string, tools, "", "tool definitions as a JSON string");
ABSL_FLAG(std::string, tools_file, "", "file holding the tool definitions (instead of --tools)");
ABSL_FLAG(bool, constrained, true, "constrain tool names and argument keys to the given tools");
ABSL_FLAG(int, max_new_tokens, needle::kMaxGeneratedTokens, "generation limit");
ABSL_FLAG(bool, stream, false, "print the call as it is generated");
ABSL_FLAG(bool, json, false, "print the whole result (tokens, timings, stop reason) as JSON");
ABSL_FLAG(std::vector<std::string>, encoder_tokens, {}, "comma-separated encoder ids (logits, embed)");
ABSL_FLAG(std::vector<std::string>, decoder_tokens, {}, "comma-separated decoder ids (logits)");

namespace {

using Json = nlohmann::ordered_json;
using needle::StrCat;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "needle: %s\n", std::string(status.message()).c_str());
  return 1;
}

absl::StatusOr<std::vector<int32_t>> ParseIds(const std::vector<std::string>& items, const char* flag) {
  std::vector<int32_t> ids;
  for (const std::string& item : items) {
    int32_t id;
    if (!absl::SimpleAtoi(item, &id)) {
      return absl::InvalidArgumentError(StrCat("--", flag, ": \"", item, "\" is not an integer"));
    }
    ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::shared_ptr<const needle::Engine>> LoadEngine() {
  auto choice = needle::cli::ModelFlags();
  if (!choice.ok()) return choice.status();
  auto weights = needle::ModelWeights::Load(choice->model_path);
  if (!weights.ok()) return weights.status();
  auto engine = needle::CreateEngine(choice->engine, *std::move(weights), choice->options);
  if (!engine.ok()) return engine.status();
  return std::shared_ptr<const needle::Engine>(*std::move(engine));
}

std::string WithThousands(int64_t n) {
  std::string digits = StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

int Info() {
  auto weights = needle::ModelWeights::Load(absl::GetFlag(FLAGS_model));
  if (!weights.ok()) return Fail(weights.status());
  const needle::ModelConfig& c = (*weights)->config();
  const needle::ParameterCounts counts = needle::CountParameters(c);
  std::map<std::string, int64_t> bytes_by_dtype;
  for (const auto& [name, tensor] : (*weights)->file().tensors()) {
    bytes_by_dtype[std::string(needle::DTypeName(tensor.dtype))] += tensor.num_bytes;
  }
  std::printf("model        %s\n", absl::GetFlag(FLAGS_model).c_str());
  std::printf("config       %s\n", c.ToJson().c_str());
  std::printf("head_dim     %d, kv_dim %d, retrieval_dim %d\n", c.head_dim(), c.kv_dim(), c.retrieval_dim());
  for (const auto& [dtype, bytes] : bytes_by_dtype) {
    std::printf("weights      %s: %s bytes\n", dtype.c_str(), WithThousands(bytes).c_str());
  }
  std::printf("parameters   embedding %s\n", WithThousands(counts.embedding).c_str());
  std::printf("             encoder   %s\n", WithThousands(counts.encoder).c_str());
  std::printf("             decoder   %s\n", WithThousands(counts.decoder).c_str());
  std::printf("             retrieval %s\n", WithThousands(counts.retrieval).c_str());
  std::printf("             total     %s\n", WithThousands(counts.total()).c_str());
  return 0;
}

int Logits() {
  auto encoder_tokens = ParseIds(absl::GetFlag(FLAGS_encoder_tokens), "encoder_tokens");
  if (!encoder_tokens.ok()) return Fail(encoder_tokens.status());
  auto decoder_tokens = ParseIds(absl::GetFlag(FLAGS_decoder_tokens), "decoder_tokens");
  if (!decoder_tokens.ok()) return Fail(decoder_tokens.status());
  auto engine = LoadEngine();
  if (!engine.ok()) return Fail(engine.status());
  std::unique_ptr<needle::Session> session = (*engine)->NewSession();
  if (absl::Status status = session->Prefill(*encoder_tokens); !status.ok()) return Fail(status);
  const int d = (*engine)->config().d_model;
  Json encoder_output = Json::array();
  for (int t = 0; t < session->num_encoder_tokens(); ++t) {
    auto row = session->encoder_output().subspan(t * d, d);
    encoder_output.push_back(std::vector<float>(row.begin(), row.end()));
  }
  Json logits = Json::array();
  for (int32_t token : *decoder_tokens) {
    auto step = session->Decode(token);
    if (!step.ok()) return Fail(step.status());
    logits.push_back(std::vector<float>(step->begin(), step->end()));
  }
  std::cout << Json{{"encoder_output", encoder_output}, {"logits", logits}}.dump() << "\n";
  return 0;
}

int Embed() {
  auto encoder_tokens = ParseIds(absl::GetFlag(FLAGS_encoder_tokens), "encoder_tokens");
  if (!encoder_tokens.ok()) return Fail(encoder_tokens.status());
  auto engine = LoadEngine();
  if (!engine.ok()) return Fail(engine.status());
  auto embedding = (*engine)->RetrievalEmbedding(*encoder_tokens);
  if (!embedding.ok()) return Fail(embedding.status());
  std::cout << Json{{"embedding", *embedding}}.dump() << "\n";
  return 0;
}

#ifdef NEEDLE_WITH_SENTENCEPIECE
absl::StatusOr<std::string> ToolsJson() {
  const std::string path = absl::GetFlag(FLAGS_tools_file);
  if (path.empty()) return absl::GetFlag(FLAGS_tools).empty() ? std::string("[]") : absl::GetFlag(FLAGS_tools);
  if (!absl::GetFlag(FLAGS_tools).empty()) return absl::InvalidArgumentError("give --tools or --tools_file, not both");
  constexpr size_t kMaxToolsFileBytes = 64 << 20;
  return needle::ReadRegularFile(path, kMaxToolsFileBytes);
}

int Tokenize() {
  auto tools_json = ToolsJson();
  if (!tools_json.ok()) return Fail(tools_json.status());
  auto tools = needle::ToolSet::Parse(*tools_json);
  if (!tools.ok()) return Fail(tools.status());
  auto tokenizer = needle::Tokenizer::Load(absl::GetFlag(FLAGS_tokenizer));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  needle::EncoderPrompt prompt = (*tokenizer)->EncodePrompt(absl::GetFlag(FLAGS_query), tools->prompt_json());
  std::cout << Json{{"encoder_tokens", prompt.tokens},
                    {"query_tokens", prompt.query_tokens},
                    {"query_truncated", prompt.query_truncated},
                    {"tools_truncated", prompt.tools_truncated},
                    {"tools_prompt_json", tools->prompt_json()}}
                   .dump()
            << "\n";
  return 0;
}

int Run() {
  auto tools_json = ToolsJson();
  if (!tools_json.ok()) return Fail(tools_json.status());
  auto choice = needle::cli::ModelFlags();
  if (!choice.ok()) return Fail(choice.status());
  auto caller = needle::ToolCaller::Load(choice->model_path, choice->tokenizer_path, choice->engine, choice->options);
  if (!caller.ok()) return Fail(caller.status());
  needle::GenerateOptions generate_options;
  generate_options.constrained = absl::GetFlag(FLAGS_constrained);
  generate_options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  const bool stream = absl::GetFlag(FLAGS_stream);
  if (stream) {
    generate_options.on_token = [](int32_t, std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  auto result = (*caller)->Generate(absl::GetFlag(FLAGS_query), *tools_json, generate_options);
  if (!result.ok()) return Fail(result.status());
  if (absl::GetFlag(FLAGS_json)) {
    if (stream) std::printf("\n");
    std::cout << Json{{"call", result->text},
                      {"engine", (*caller)->engine().name()},
                      {"precision", needle::ResolvePrecision(choice->engine, choice->options.precision)},
                      {"numerics", needle::NumericsName(choice->options.numerics)},
                      {"encoder_tokens", result->encoder_tokens.size()},
                      {"tokens", result->tokens},
                      {"stop", needle::StopReasonName(result->stop)},
                      {"query_truncated", result->query_truncated},
                      {"tools_truncated", result->tools_truncated},
                      {"prefill_ms", result->prefill_seconds * 1e3},
                      {"decode_ms", result->decode_seconds * 1e3}}
                     .dump()
              << "\n";
  } else {
    std::printf(stream ? "\n" : "%s\n", result->text.c_str());
  }
  return 0;
}
#endif

// Output that could not be written (a full disk, /dev/full) is a failure,
// not an exit status of 0.
int WithStdoutChecked(int code) {
  std::cout.flush();
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
    std::fprintf(stderr, "needle: cannot write to stdout: %s\n", std::strerror(errno));
    return code == 0 ? 1 : code;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Accept --encoder-tokens as well as absl's --encoder_tokens.
  std::vector<std::string> args(argv, argv + argc);
  for (std::string& arg : args) {
    if (arg.rfind("--", 0) != 0) continue;
    for (size_t i = 2; i < arg.size() && arg[i] != '='; ++i) arg[i] = arg[i] == '-' ? '_' : arg[i];
  }
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  std::vector<char*> positional = needle::cli::ParseCommandLine(
      static_cast<int>(arg_ptrs.size()), arg_ptrs.data(),
      "needle COMMAND [--flags]\n"
      "commands: run, info, tokenize, logits, embed (tokenize and run need the SentencePiece build)");
  if (positional.size() != 2) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  const std::string command = positional[1];
  if (command == "info") return WithStdoutChecked(Info());
  if (command == "logits") return WithStdoutChecked(Logits());
  if (command == "embed") return WithStdoutChecked(Embed());
#ifdef NEEDLE_WITH_SENTENCEPIECE
  if (command == "run") return WithStdoutChecked(Run());
  if (command == "tokenize") return WithStdoutChecked(Tokenize());
#endif
  std::fprintf(stderr, "needle: unknown command \"%s\"\n%s\n", command.c_str(), absl::ProgramUsageMessage().data());
  return 2;
}
