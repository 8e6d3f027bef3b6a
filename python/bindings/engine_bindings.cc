// Engines, tokenizer and the request pipeline: Model, Session, Tokenizer.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "convert.h"
#include "model.h"
#include "needle/config.h"
#include "needle/engine.h"
#include "needle/generate.h"
#include "needle/str_cat.h"
#include "needle/tokenizer.h"
#include "needle/toolcalls/call.h"
#include "needle/tools.h"

namespace needle::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

FloatArray ToArray(const std::vector<float>& values, std::vector<py::ssize_t> shape) {
  FloatArray array(shape);
  std::memcpy(array.mutable_data(), values.data(), values.size() * sizeof(float));
  return array;
}

// Ids from Python are checked here: the C++ Decode skips ids outside the
// vocabulary, and SentencePiece's IdToPiece prints protobuf's FATAL text.
void CheckIds(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, const char* what) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= tokenizer.vocab_size()) {
      throw py::value_error(
          StrCat(what, "[", i, "]: id ", ids[i], " is out of range [0, ", tokenizer.vocab_size(), ")"));
    }
  }
}

// Streamed text is whole characters already; "replace" only guards the
// Python side against a broken tokenizer.
py::str DecodeUtf8(std::string_view text) {
  PyObject* decoded = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (decoded == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(decoded);
}

// A Python exception raised by a streaming callback, kept until the GIL is
// back on the calling thread; the first one of a batch wins.
class CallbackError {
 public:
  void Record(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::move(error);
    raised_ = true;
  }
  bool raised() const { return raised_; }
  void RethrowIfRaised() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
  std::atomic<bool> raised_{false};
};

// Calls `callback(*leading, token, text)` with the GIL held; returning False
// stops generation, raising stops it and is re-raised by the caller.
template <typename... Leading>
std::function<bool(int32_t, std::string_view)> StreamTo(const py::object& callback, CallbackError& error,
                                                        Leading... leading) {
  if (callback.is_none()) return nullptr;
  return [&callback, &error, leading...](int32_t token, std::string_view text) {
    if (error.raised()) return false;
    py::gil_scoped_acquire gil;
    try {
      const py::object keep_going = callback(leading..., token, DecodeUtf8(text));
      return !(py::isinstance<py::bool_>(keep_going) && !keep_going.cast<bool>());
    } catch (...) {
      error.Record(std::current_exception());
      return false;
    }
  };
}

GenerateOptions MakeOptions(bool constrained, int max_new_tokens) {
  GenerateOptions options;
  options.constrained = constrained;
  options.max_new_tokens = max_new_tokens;
  return options;
}

GenerateResult Generate(const Model& model, const std::string& query, const py::object& tools, bool constrained,
                        int max_new_tokens, const py::object& on_token) {
  const std::string tools_json = ToolsToJson(tools);
  GenerateOptions options = MakeOptions(constrained, max_new_tokens);
  CallbackError callback_error;
  options.on_token = StreamTo(on_token, callback_error);
  absl::StatusOr<GenerateResult> result;
  {
    py::gil_scoped_release release;
    result = model.caller->Generate(query, tools_json, options);
  }
  callback_error.RethrowIfRaised();
  return ValueOrThrow(std::move(result));
}

std::vector<GenerateResult> GenerateBatch(const Model& model, const std::vector<py::tuple>& requests, bool constrained,
                                          int max_new_tokens, int parallel, const py::object& on_token) {
  if (parallel < 1) throw py::value_error(StrCat("parallel must be at least 1, got ", parallel));
  std::vector<std::pair<std::string, std::string>> prompts;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].size() != 2) {
      throw py::value_error(
          StrCat("requests[", i, "]: expected a (query, tools) pair, got ", requests[i].size(), " items"));
    }
    prompts.emplace_back(requests[i][0].cast<std::string>(), ToolsToJson(requests[i][1]));
  }

  CallbackError callback_error;
  std::vector<absl::StatusOr<GenerateResult>> results(prompts.size());
  {
    py::gil_scoped_release release;
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < prompts.size(); i = next++) {
        GenerateOptions options = MakeOptions(constrained, max_new_tokens);
        options.on_token = StreamTo(on_token, callback_error, static_cast<int>(i));
        results[i] = model.caller->Generate(prompts[i].first, prompts[i].second, options);
      }
    };
    std::vector<std::thread> workers;
    const int threads = std::min<int>(parallel, static_cast<int>(prompts.size()));
    for (int t = 1; t < threads; ++t) workers.emplace_back(worker);
    worker();
    for (std::thread& thread : workers) thread.join();
  }
  callback_error.RethrowIfRaised();

  std::vector<GenerateResult> out;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      RaiseStatus(absl::Status(results[i].status().code(),
                               StrCat("requests[", i, "]: ", std::string(results[i].status().message()))));
    }
    out.push_back(*std::move(results[i]));
  }
  return out;
}

// Encoder output (tokens x d_model) and the logits after each decoder token.
struct ForwardPass {
  std::vector<float> encoder_output;
  int encoder_tokens = 0;
  std::vector<float> logits;
};

ForwardPass RunForward(const Model& model, const std::vector<int32_t>& encoder_tokens,
                       const std::vector<int32_t>& decoder_tokens) {
  absl::Status status;
  ForwardPass pass;
  {
    py::gil_scoped_release release;
    std::unique_ptr<Session> session = model.caller->engine().NewSession();
    status = session->Prefill(encoder_tokens);
    if (status.ok()) {
      pass.encoder_output.assign(session->encoder_output().begin(), session->encoder_output().end());
      pass.encoder_tokens = session->num_encoder_tokens();
      for (int32_t token : decoder_tokens) {
        absl::StatusOr<absl::Span<const float>> logits = session->Decode(token);
        if (!logits.ok()) {
          status = logits.status();
          break;
        }
        pass.logits.insert(pass.logits.end(), logits->begin(), logits->end());
      }
    }
  }
  ThrowIfError(status);
  return pass;
}

FloatArray Embedding(const Model& model, const std::vector<int32_t>& encoder_tokens) {
  absl::StatusOr<std::vector<float>> embedding;
  {
    py::gil_scoped_release release;
    embedding = model.caller->engine().RetrievalEmbedding(encoder_tokens);
  }
  const std::vector<float> values = ValueOrThrow(std::move(embedding));
  return ToArray(values, {static_cast<py::ssize_t>(values.size())});
}

// One row per tool: the retrieval head over that tool alone, as upstream
// encodes it (compact JSON with the caller's name, cut to kMaxRetrievalTokens).
FloatArray ToolEmbeddings(const Model& model, const py::object& tools) {
  const ToolSet parsed = ValueOrThrow(ToolSet::Parse(ToolsToJson(tools)));
  const int dim = model.caller->engine().config().retrieval_dim();
  std::vector<float> rows;
  absl::Status status;
  {
    py::gil_scoped_release release;
    for (const ToolSpec& tool : parsed.tools()) {
      const std::vector<int32_t> tokens = model.caller->tokenizer().Encode(tool.retrieval_json);
      absl::StatusOr<std::vector<float>> embedding = model.caller->engine().RetrievalEmbedding(
          absl::MakeConstSpan(tokens).first(std::min<size_t>(tokens.size(), kMaxRetrievalTokens)));
      if (!embedding.ok()) {
        status = embedding.status();
        break;
      }
      rows.insert(rows.end(), embedding->begin(), embedding->end());
    }
  }
  ThrowIfError(status);
  return ToArray(rows, {static_cast<py::ssize_t>(parsed.tools().size()), dim});
}

// A session of the model's engine. Sessions are not thread-safe; the lock
// turns concurrent use of one session from several Python threads into turns.
class PySession {
 public:
  explicit PySession(std::shared_ptr<const ToolCaller> caller)
      : caller_(std::move(caller)), session_(caller_->engine().NewSession()) {}

  void Prefill(const std::vector<int32_t>& tokens) {
    absl::Status status;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      status = session_->Prefill(tokens);
    }
    ThrowIfError(status);
  }

  FloatArray Decode(int32_t token) {
    std::vector<float> logits;
    absl::Status status;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mutex_);
      absl::StatusOr<absl::Span<const float>> step = session_->Decode(token);
      if (step.ok()) {
        logits.assign(step->begin(), step->end());
      } else {
        status = step.status();
      }
    }
    ThrowIfError(status);
    return ToArray(logits, {static_cast<py::ssize_t>(logits.size())});
  }

  FloatArray EncoderOutput() {
    std::lock_guard<std::mutex> lock(mutex_);
    const absl::Span<const float> output = session_->encoder_output();
    return ToArray(std::vector<float>(output.begin(), output.end()),
                   {session_->num_encoder_tokens(), caller_->engine().config().d_model});
  }

  int num_encoder_tokens() {
    std::lock_guard<std::mutex> lock(mutex_);
    return session_->num_encoder_tokens();
  }
  int num_decoded_tokens() {
    std::lock_guard<std::mutex> lock(mutex_);
    return session_->num_decoded_tokens();
  }

 private:
  std::shared_ptr<const ToolCaller> caller_;  // keeps the engine alive
  std::unique_ptr<Session> session_;
  std::mutex mutex_;
};

std::shared_ptr<Tokenizer> LoadTokenizer(const std::string& path) {
  std::unique_ptr<Tokenizer> tokenizer = ValueOrThrow(Tokenizer::Load(path));
  return std::shared_ptr<Tokenizer>(std::move(tokenizer));
}

// The model's own tokenizer, sharing the model's lifetime.
std::shared_ptr<Tokenizer> ModelTokenizer(const Model& model) {
  return std::shared_ptr<Tokenizer>(model.caller, const_cast<Tokenizer*>(&model.caller->tokenizer()));
}

void RegisterConfig(py::module_& m) {
  py::class_<ModelConfig>(m, "ModelConfig", "Hyper-parameters of a loaded checkpoint.")
      .def_readonly("vocab_size", &ModelConfig::vocab_size)
      .def_readonly("d_model", &ModelConfig::d_model)
      .def_readonly("num_heads", &ModelConfig::num_heads)
      .def_readonly("num_kv_heads", &ModelConfig::num_kv_heads)
      .def_readonly("num_encoder_layers", &ModelConfig::num_encoder_layers)
      .def_readonly("num_decoder_layers", &ModelConfig::num_decoder_layers)
      .def_readonly("rope_theta", &ModelConfig::rope_theta)
      .def_property_readonly("head_dim", &ModelConfig::head_dim)
      .def_property_readonly("kv_dim", &ModelConfig::kv_dim)
      .def_property_readonly("retrieval_dim", &ModelConfig::retrieval_dim)
      .def_property_readonly(
          "num_parameters", [](const ModelConfig& config) { return CountParameters(config).total(); },
          "Parameter count of a checkpoint with this config.")
      .def("__repr__", [](const ModelConfig& config) { return StrCat("ModelConfig(", config.ToJson(), ")"); });
}

void RegisterTokenizer(py::module_& m) {
  py::class_<EncoderPrompt>(m, "EncoderPrompt", "The encoder input of one request, with what truncation cut.")
      .def_readonly("tokens", &EncoderPrompt::tokens)
      .def_readonly("query_tokens", &EncoderPrompt::query_tokens)
      .def_readonly("query_truncated", &EncoderPrompt::query_truncated)
      .def_readonly("tools_truncated", &EncoderPrompt::tools_truncated)
      .def("__repr__", [](const EncoderPrompt& prompt) {
        return StrCat("EncoderPrompt(", prompt.tokens.size(), " tokens, query_tokens=", prompt.query_tokens, ")");
      });

  py::class_<Tokenizer, std::shared_ptr<Tokenizer>>(m, "Tokenizer",
                                                    "SentencePiece tokenizer with upstream Needle's special ids.")
      .def(py::init(&LoadTokenizer), py::arg("path"),
           "Loads a SentencePiece model; refuses one without upstream's id layout (ValueError).")
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def("encode", &Tokenizer::Encode, py::arg("text"), "Text to ids (no BOS/EOS).")
      .def(
          "decode",
          [](const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
            CheckIds(tokenizer, ids, "ids");
            return DecodeUtf8(tokenizer.Decode(ids));
          },
          py::arg("ids"),
          "Ids to text; invalid UTF-8 from byte pieces shows as U+FFFD. Ids outside the vocabulary: ValueError.")
      .def(
          "id_to_piece",
          [](const Tokenizer& tokenizer, int32_t id) {
            if (id < 0 || id >= tokenizer.vocab_size()) {
              throw py::value_error(StrCat("id ", id, " is out of range [0, ", tokenizer.vocab_size(), ")"));
            }
            return tokenizer.IdToPiece(id);
          },
          py::arg("id"),
          "The SentencePiece piece of an id, e.g. '<tool_call>'. Ids outside the vocabulary: ValueError.")
      .def("encode_prompt", &Tokenizer::EncodePrompt, py::arg("query"), py::arg("tools_json"),
           "tokens(query)[:1022] + [<tools>] + tokens(tools_json), cut to 1024. tools_json is used as given; "
           "Model.encode_prompt also applies the tool-name rules.");
}

void RegisterSession(py::module_& m) {
  py::class_<PySession>(m, "Session",
                        "Per-request state of an engine: encoder output and decoder caches. Create one per request "
                        "(or per thread) with Model.new_session().")
      .def("prefill", &PySession::Prefill, py::arg("encoder_tokens"),
           "Runs the encoder over 1..1024 ids and clears the decoder state. Releases the GIL.")
      .def("decode", &PySession::Decode, py::arg("token"),
           "Appends one decoder token; returns the logits (vocab_size float32) for the next. Releases the GIL.")
      .def_property_readonly("encoder_output", &PySession::EncoderOutput,
                             "Encoder output after final_norm, float32 (tokens, d_model); a copy.")
      .def_property_readonly("num_encoder_tokens", &PySession::num_encoder_tokens)
      .def_property_readonly("num_decoded_tokens", &PySession::num_decoded_tokens);
}

void RegisterGenerateResult(py::module_& m) {
  py::class_<GenerateResult>(m, "GenerateResult", "One generated call and how it was produced.")
      .def_readonly("text", &GenerateResult::text,
                    "The call, leading <tool_call> stripped, caller's tool names; a valid call as upstream prints it "
                    "(json.dumps of the parsed call, compact, ASCII-escaped).")
      .def_readonly("raw_text", &GenerateResult::raw_text, "The decoded output exactly as generated.")
      .def_property_readonly(
          "calls",
          [](const GenerateResult& result) -> py::object {
            const toolcalls::ParsedOutput parsed = toolcalls::ParseOutput(result.text);
            if (!parsed.parsed) return py::none();
            return JsonToPython(nlohmann::ordered_json::parse(toolcalls::CallsToJson(parsed.calls)));
          },
          "The call parsed as needle-eval parses outputs: a list of {'name', 'arguments'} dicts ([] for no call), "
          "None when the text is not a readable call.")
      .def_readonly("encoder_tokens", &GenerateResult::encoder_tokens)
      .def_readonly("tokens", &GenerateResult::tokens, "Generated ids, EOS excluded.")
      .def_readonly("query_truncated", &GenerateResult::query_truncated)
      .def_readonly("tools_truncated", &GenerateResult::tools_truncated)
      .def_property_readonly(
          "stop", [](const GenerateResult& result) { return std::string(StopReasonName(result.stop)); },
          "Why generation stopped: the name StopReasonName gives (EOS, token limit or callback).")
      .def_readonly("prefill_seconds", &GenerateResult::prefill_seconds)
      .def_readonly("decode_seconds", &GenerateResult::decode_seconds)
      .def("__repr__", [](const GenerateResult& result) {
        return StrCat("GenerateResult(text=",
                      nlohmann::json(result.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      ", tokens=", result.tokens.size(), ", stop=", StopReasonName(result.stop), ")");
      });
}

void RegisterModel(py::module_& m) {
  py::class_<Model>(m, "Model",
                    "A loaded model: engine plus tokenizer. Immutable and thread-safe: any number of Python threads "
                    "may call it at once; each request runs in its own session with the GIL released.")
      .def(py::init(&Model::Load), py::arg("model_path"), py::arg("tokenizer_path"), py::arg("engine") = kDefaultEngine,
           py::arg("precision") = kAutoPrecision, py::arg("threads") = 0, py::arg("numerics") = "exact",
           "Loads a checkpoint and tokenizer. engine: 'optimized' (the default) or 'reference'; precision "
           "(optimized engine): 'auto' (w8a8 where the CPU has SIMD integer kernels, else fp32), fp32, bf16, int8, "
           "int4, w8a8, w4a8; threads: 0 = all cores; numerics (reference engine): 'exact' (fp32) or 'upstream' "
           "(bfloat16 where upstream rounds, to reproduce its tokens).")
      // A Model holds no handle to give back early (its memory goes with the
      // last reference), so a `with` block only scopes the name.
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](const Model&, py::args) { return false; })
      .def_property_readonly("engine", [](const Model& model) { return model.engine_name; })
      .def_property_readonly("precision", [](const Model& model) { return model.options.precision; })
      .def_property_readonly("threads", [](const Model& model) { return model.options.threads; })
      .def_property_readonly("numerics",
                             [](const Model& model) { return std::string(NumericsName(model.options.numerics)); })
      .def_property_readonly("model_path", [](const Model& model) { return model.model_path; })
      .def_property_readonly("tokenizer_path", [](const Model& model) { return model.tokenizer_path; })
      .def_property_readonly("config", [](const Model& model) { return model.caller->engine().config(); })
      .def_property_readonly("tokenizer", &ModelTokenizer)
      .def("generate", &Generate, py::arg("query"), py::arg("tools") = "[]", py::kw_only(),
           py::arg("constrained") = true, py::arg("max_new_tokens") = kMaxGeneratedTokens,
           py::arg("on_token") = py::none(),
           "Generates the tool call for one request. tools: JSON text or a list of tool dicts. on_token(token, "
           "text) is called for each generated token with the text it adds; returning False stops, raising stops "
           "and re-raises here.")
      .def("generate_batch", &GenerateBatch, py::arg("requests"), py::kw_only(), py::arg("constrained") = true,
           py::arg("max_new_tokens") = kMaxGeneratedTokens, py::arg("parallel") = 1, py::arg("on_token") = py::none(),
           "Generates calls for (query, tools) pairs, `parallel` requests at a time; results in request order. "
           "on_token(index, token, text) streams every request.")
      .def(
          "encode_prompt",
          [](const Model& model, const std::string& query, const py::object& tools) {
            const ToolSet parsed = ValueOrThrow(ToolSet::Parse(ToolsToJson(tools)));
            return model.caller->tokenizer().EncodePrompt(query, parsed.prompt_json());
          },
          py::arg("query"), py::arg("tools") = "[]", "The encoder input generate() builds for this request.")
      .def(
          "logits",
          [](const Model& model, const std::vector<int32_t>& encoder_tokens,
             const std::vector<int32_t>& decoder_tokens) {
            const ForwardPass pass = RunForward(model, encoder_tokens, decoder_tokens);
            return ToArray(pass.logits, {static_cast<py::ssize_t>(decoder_tokens.size()),
                                         model.caller->engine().config().vocab_size});
          },
          py::arg("encoder_tokens"), py::arg("decoder_tokens"),
          "Raw logits (len(decoder_tokens), vocab_size) float32: prefill, then one decode step per token "
          "(decoder input normally starts with EOS = 1).")
      .def(
          "encoder_states",
          [](const Model& model, const std::vector<int32_t>& encoder_tokens) {
            const ForwardPass pass = RunForward(model, encoder_tokens, {});
            return ToArray(pass.encoder_output, {pass.encoder_tokens, model.caller->engine().config().d_model});
          },
          py::arg("encoder_tokens"), "Encoder output after final_norm, float32 (tokens, d_model).")
      .def("embed", &Embedding, py::arg("encoder_tokens"),
           "Retrieval-head embedding (L2-normalised, retrieval_dim float32) of an encoder input.")
      .def(
          "query_embedding",
          [](const Model& model, const std::string& query) {
            std::vector<int32_t> tokens = model.caller->tokenizer().Encode(query);
            tokens.resize(std::min<size_t>(tokens.size(), kMaxRetrievalTokens));
            return Embedding(model, tokens);
          },
          py::arg("query"), "Retrieval-head embedding of a query's tokens (cut to 256, as upstream).")
      .def("tool_embeddings", &ToolEmbeddings, py::arg("tools"),
           "Retrieval-head embeddings (n_tools, retrieval_dim): each tool encoded alone as upstream does "
           "(compact JSON object with the tool's own name, cut to 256 tokens). "
           "query_embedding(q) @ tool_embeddings(t).T ranks the tools.")
      .def(
          "new_session", [](const Model& model) { return std::make_unique<PySession>(model.caller); },
          "A fresh Session for driving prefill/decode by hand.")
      .def("__repr__", [](const Model& model) {
        return StrCat("Model(engine=", model.engine_name, ", precision=", model.options.precision,
                      ", threads=", model.options.threads, ", model_path=", model.model_path, ")");
      });
}

}  // namespace

absl::StatusOr<Model> Model::Create(const std::string& model_path, const std::string& tokenizer_path,
                                    const std::string& engine_name, const std::string& precision, int threads,
                                    const std::string& numerics) {
  Model model;
  model.model_path = model_path;
  model.tokenizer_path = tokenizer_path;
  model.engine_name = engine_name;
  model.options.precision = ResolvePrecision(engine_name, precision);
  model.options.threads = threads;
  absl::StatusOr<Numerics> parsed_numerics = ParseNumerics(numerics);
  if (!parsed_numerics.ok()) return parsed_numerics.status();
  model.options.numerics = *parsed_numerics;
  absl::StatusOr<std::unique_ptr<ToolCaller>> caller =
      ToolCaller::Load(model_path, tokenizer_path, engine_name, model.options);
  if (!caller.ok()) return caller.status();
  model.caller = *std::move(caller);
  return model;
}

Model Model::Load(const std::string& model_path, const std::string& tokenizer_path, const std::string& engine_name,
                  const std::string& precision, int threads, const std::string& numerics) {
  absl::StatusOr<Model> model;
  {
    py::gil_scoped_release release;
    model = Create(model_path, tokenizer_path, engine_name, precision, threads, numerics);
  }
  return ValueOrThrow(std::move(model));
}

void RegisterEngine(py::module_& m) {
  // pybind11 looks NumPy's C API up on first use, in a function-local static
  // whose initialisation imports numpy and so may hand the GIL to another
  // thread: two threads making their first NumPy-returning call at once
  // deadlocked, one waiting for the static while holding the GIL, the other
  // for the GIL inside the static. Making the first array here, at import,
  // runs that lookup before any thread can race for it.
  FloatArray(std::vector<py::ssize_t>{0});
  m.attr("PAD_ID") = kPadId;
  m.attr("EOS_ID") = kEosId;
  m.attr("BOS_ID") = kBosId;
  m.attr("UNK_ID") = kUnkId;
  m.attr("TOOL_CALL_ID") = kToolCallId;
  m.attr("TOOLS_ID") = kToolsId;
  m.def("engine_names", &EngineNames, "Engines Model accepts: 'reference', 'optimized'.");
  m.def("snake_case", &SnakeCase, py::arg("name"),
        "The tool-name rule the prompt applies (getWeather -> get_weather).");
  RegisterConfig(m);
  RegisterTokenizer(m);
  RegisterSession(m);
  RegisterGenerateResult(m);
  RegisterModel(m);
}

}  // namespace needle::python
