#include "needle/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "model/bf16.h"
#include "needle/config.h"
#include "needle/json.h"
#include "needle/str_cat.h"
#include "nlohmann/json.hpp"

namespace needle {
namespace {

using Json = nlohmann::json;

// Generous bound that still stops a corrupt length from asking for gigabytes.
constexpr uint64_t kMaxHeaderBytes = 64u << 20;

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: renormalise
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

absl::StatusOr<DType> ParseDType(const std::string& name) {
  if (name == "F32") return DType::kF32;
  if (name == "BF16") return DType::kBF16;
  if (name == "F16") return DType::kF16;
  return absl::InvalidArgumentError(StrCat("unsupported dtype \"", name, "\" (supported: F32, BF16, F16)"));
}

}  // namespace

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
  }
  return "?";
}

size_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

int64_t TensorView::num_elements() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

void TensorView::CopyToF32(float* out) const {
  const int64_t n = num_elements();
  if (dtype == DType::kF32) {
    std::memcpy(out, data, n * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, data + 2 * i, sizeof(bits));
    out[i] = dtype == DType::kBF16 ? Bf16BitsToF32(bits) : F16ToF32(bits);
  }
}

std::vector<float> TensorView::ToF32() const {
  std::vector<float> out(num_elements());
  CopyToF32(out.data());
  return out;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO would block
  if (fd < 0) return absl::NotFoundError(StrCat(path, ": cannot open: ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(StrCat(path, ": not a regular file"));
  }
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      ::close(fd);
      return absl::InternalError(StrCat(path, ": mmap failed: ", std::strerror(errno)));
    }
    file->mapping_ = mapping;
    file->mapping_size_ = size;
  }
  ::close(fd);
  if (absl::Status status = file->ParseHeader(static_cast<const uint8_t*>(file->mapping_), size); !status.ok()) {
    return status;
  }
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBytes(const uint8_t* bytes, size_t size,
                                                                            std::string display_name) {
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = std::move(display_name);
  if (absl::Status status = file->ParseHeader(bytes, size); !status.ok()) return status;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  auto it = tensors_.find(std::string(name));
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::Status SafetensorsFile::ParseHeader(const uint8_t* bytes, size_t size) {
  auto error = [&](auto&&... parts) { return absl::InvalidArgumentError(StrCat(path_, ": ", parts...)); };
  if (size < 8) return error("truncated: ", size, " bytes, a safetensors file starts with an 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxHeaderBytes)
    return error("header length ", header_size, " bytes is implausible (corrupt file?)");
  if (header_size > size - 8) {
    return error("truncated: header says ", header_size, " bytes of JSON but only ", size - 8, " follow");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  absl::StatusOr<Json> parsed = ParseJson<Json>(std::string_view(header_begin, header_size));
  if (!parsed.ok()) return error("header is not valid JSON: ", std::string(parsed.status().message()));
  Json header = *std::move(parsed);
  if (!header.is_object()) return error("header is not a JSON object");

  const uint8_t* data = bytes + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& item : header.items()) {
    // Named variables rather than a structured binding: a lambda below captures `name`.
    const std::string& name = item.key();
    auto& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return error("__metadata__ is not an object");
      for (auto& [key, value] : entry.items()) {
        if (!value.is_string()) return error("__metadata__.", key, " is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    auto tensor_error = [&](auto&&... parts) { return error("tensor \"", name, "\": ", parts...); };
    if (!entry.is_object()) return tensor_error("entry is not an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return tensor_error("missing string field \"dtype\"");
    if (shape_it == entry.end() || !shape_it->is_array()) return tensor_error("missing array field \"shape\"");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      return tensor_error("\"data_offsets\" must be [begin, end]");
    }
    absl::StatusOr<DType> dtype = ParseDType(dtype_it->get<std::string>());
    if (!dtype.ok()) return tensor_error(std::string(dtype.status().message()));

    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    uint64_t elements = 1;
    for (const Json& dim : *shape_it) {
      if (!dim.is_number_unsigned()) return tensor_error("shape entries must be non-negative integers");
      const uint64_t extent = dim.get<uint64_t>();
      if (extent != 0 && elements > std::numeric_limits<uint32_t>::max() / extent) {
        return tensor_error("shape ", shape_it->dump(), " is too large");
      }
      elements *= extent;
      view.shape.push_back(static_cast<int64_t>(extent));
    }
    for (const Json& offset : *offsets_it) {
      if (!offset.is_number_unsigned()) return tensor_error("data_offsets must be non-negative integers");
    }
    const uint64_t begin = (*offsets_it)[0].get<uint64_t>(), end = (*offsets_it)[1].get<uint64_t>();
    const uint64_t expected_bytes = elements * DTypeSize(view.dtype);
    if (end < begin || end - begin != expected_bytes) {
      return tensor_error("data_offsets [", begin, ", ", end, ") hold ", end < begin ? 0 : end - begin, " bytes but ",
                          DTypeName(view.dtype), " ", ShapeString(view.shape), " needs ", expected_bytes);
    }
    if (end > data_size) {
      return tensor_error("truncated: data ends at byte ", end, " but the file's data area has only ", data_size);
    }
    view.data = data + begin;
    view.num_bytes = expected_bytes;
    ranges.emplace_back(begin, end);
    tensors_.emplace(name, std::move(view));
  }

  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin < covered) return error("tensor data regions overlap at byte ", begin);
    if (begin > covered) return error("gap in tensor data at bytes [", covered, ", ", begin, ")");
    covered = end;
  }
  if (covered != data_size) {
    return error("data area has ", data_size, " bytes but the tensors account for ", covered,
                 " (trailing garbage or a corrupt header)");
  }
  return absl::OkStatus();
}

}  // namespace needle
