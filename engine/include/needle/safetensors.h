// Memory-mapped safetensors reader with strict validation of the header.
#ifndef NEEDLE_SAFETENSORS_H_
#define NEEDLE_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace needle {

enum class DType { kF32, kBF16, kF16 };

std::string_view DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // Not necessarily aligned: read with memcpy.
  size_t num_bytes = 0;

  int64_t num_elements() const;
  // Widens any supported dtype to fp32.
  void CopyToF32(float* out) const;
  std::vector<float> ToF32() const;
};

class SafetensorsFile {
 public:
  // Maps `path` and validates the header: JSON syntax, dtypes, shapes, and that
  // data offsets are in bounds, non-overlapping and cover the data area.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Same checks on bytes already in memory (used by tests and fuzzers); `bytes` must outlive the result.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBytes(const uint8_t* bytes, size_t size,
                                                                    std::string display_name);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const TensorView* Find(std::string_view name) const;

 private:
  SafetensorsFile() = default;
  absl::Status ParseHeader(const uint8_t* bytes, size_t size);

  std::string path_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
};

}  // namespace needle

#endif  // NEEDLE_SAFETENSORS_H_
