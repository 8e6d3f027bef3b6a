// A loaded model as Python holds it: the request pipeline plus how it was
// loaded. Shared by the engine bindings and the eval systems built from it.
#ifndef NEEDLE_PYTHON_BINDINGS_MODEL_H_
#define NEEDLE_PYTHON_BINDINGS_MODEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "needle/engine.h"
#include "needle/generate.h"

namespace needle::python {

struct Model {
  std::shared_ptr<const ToolCaller> caller;
  std::string model_path;
  std::string tokenizer_path;
  std::string engine_name;
  EngineOptions options;

  // numerics: "exact" or "upstream" (ParseNumerics).
  static absl::StatusOr<Model> Create(const std::string& model_path, const std::string& tokenizer_path,
                                      const std::string& engine_name, const std::string& precision, int threads,
                                      const std::string& numerics);
  // Create with the GIL released; errors raise.
  static Model Load(const std::string& model_path, const std::string& tokenizer_path, const std::string& engine_name,
                    const std::string& precision, int threads, const std::string& numerics);
};

}  // namespace needle::python

#endif  // NEEDLE_PYTHON_BINDINGS_MODEL_H_
