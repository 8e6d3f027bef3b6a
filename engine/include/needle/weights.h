// A checkpoint opened and checked against its own config: every tensor of
// ExpectedTensors() present with the right shape and a supported dtype.
#ifndef NEEDLE_WEIGHTS_H_
#define NEEDLE_WEIGHTS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "needle/config.h"
#include "needle/safetensors.h"

namespace needle {

class ModelWeights {
 public:
  static absl::StatusOr<std::shared_ptr<const ModelWeights>> Load(const std::string& path);
  // Validates an already opened file (tests and fuzzers feed bytes from memory).
  static absl::StatusOr<std::shared_ptr<const ModelWeights>> FromFile(std::unique_ptr<SafetensorsFile> file);

  const ModelConfig& config() const { return config_; }
  const SafetensorsFile& file() const { return *file_; }
  // Tensors are known to exist after loading; asking for another name is a programming error.
  const TensorView& Get(std::string_view name) const;

 private:
  ModelConfig config_;
  std::unique_ptr<SafetensorsFile> file_;
};

}  // namespace needle

#endif  // NEEDLE_WEIGHTS_H_
