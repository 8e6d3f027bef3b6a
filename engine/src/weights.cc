#include "needle/weights.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "needle/str_cat.h"

namespace needle {
namespace {

// Non-finite weights make every later number meaningless, so refuse them at
// the door instead of scoring garbage.
absl::Status CheckFinite(const std::string& path, const TensorView& tensor) {
  const int64_t n = tensor.num_elements();
  for (int64_t begin = 0; begin < n; begin += 4096) {
    const int64_t count = std::min<int64_t>(4096, n - begin);
    float chunk[4096];
    TensorView slice = tensor;
    slice.data = tensor.data + begin * DTypeSize(tensor.dtype);
    slice.shape = {count};
    slice.CopyToF32(chunk);
    for (int64_t i = 0; i < count; ++i) {
      if (!std::isfinite(chunk[i])) {
        return absl::InvalidArgumentError(StrCat(path, ": tensor \"", tensor.name, "\": element ", begin + i, " is ",
                                                 chunk[i], "; weights must be finite"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ModelWeights>> ModelWeights::Load(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  return FromFile(*std::move(file));
}

absl::StatusOr<std::shared_ptr<const ModelWeights>> ModelWeights::FromFile(std::unique_ptr<SafetensorsFile> file) {
  const std::string& path = file->path();
  auto error = [&](auto&&... parts) { return absl::InvalidArgumentError(StrCat(path, ": ", parts...)); };
  const auto& metadata = file->metadata();
  auto format = metadata.find("format");
  if (format == metadata.end() || format->second != "needle") {
    return error("__metadata__.format must be \"needle\" (is this a Needle checkpoint? see docs/checkpoint-format.md)");
  }
  auto config_json = metadata.find("needle_config");
  if (config_json == metadata.end()) return error("__metadata__ has no \"needle_config\"");
  absl::StatusOr<ModelConfig> config = ModelConfig::FromJson(config_json->second);
  if (!config.ok()) return error(std::string(config.status().message()));

  std::set<std::string> expected_names;
  for (const TensorSpec& spec : ExpectedTensors(*config)) {
    expected_names.insert(spec.name);
    const TensorView* tensor = file->Find(spec.name);
    if (tensor == nullptr) {
      return error("missing tensor \"", spec.name, "\" (expected shape ", ShapeString(spec.shape), ")");
    }
    if (tensor->shape != spec.shape) {
      return error("tensor \"", spec.name, "\": expected shape ", ShapeString(spec.shape), " for config ",
                   config->ToJson(), ", found ", ShapeString(tensor->shape));
    }
    if (absl::Status status = CheckFinite(path, *tensor); !status.ok()) return status;
  }
  for (const auto& [name, tensor] : file->tensors()) {
    if (!expected_names.count(name)) return error("unexpected tensor \"", name, "\" (not part of a Needle model)");
  }

  auto weights = std::make_shared<ModelWeights>();
  weights->config_ = *config;
  weights->file_ = std::move(file);
  return std::shared_ptr<const ModelWeights>(std::move(weights));
}

const TensorView& ModelWeights::Get(std::string_view name) const {
  const TensorView* tensor = file_->Find(name);
  if (tensor == nullptr) {  // every expected name was checked at load: a typo in an engine
    std::fprintf(stderr, "ModelWeights::Get: no tensor \"%.*s\"\n", static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *tensor;
}

}  // namespace needle
