// needlebench._core: the module definition; each area registers its own part.
#include "convert.h"
#include "needle/config.h"

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() =
      "Needle engines, the eval runner and needle-bench, compiled. Import the needlebench package rather than this "
      "module.";
  m.attr("SOURCE_DIR") = NEEDLE_SOURCE_DIR;
  m.attr("DEFAULT_MODEL_DIR") = NEEDLE_DEFAULT_MODEL_DIR;
  m.attr("DEFAULT_MODEL") = NEEDLE_DEFAULT_MODEL_DIR "/needle.safetensors";
  m.attr("DEFAULT_TOKENIZER") = NEEDLE_DEFAULT_MODEL_DIR "/tokenizer.model";
  m.attr("MAX_ENCODER_TOKENS") = needle::kMaxEncoderTokens;
  m.attr("MAX_QUERY_TOKENS") = needle::kMaxQueryTokens;
  m.attr("MAX_GENERATED_TOKENS") = needle::kMaxGeneratedTokens;
  needle::python::RegisterEngine(m);
  needle::python::RegisterEvals(m);
  needle::python::RegisterBench(m);
}
