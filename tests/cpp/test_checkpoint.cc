#include "test_checkpoint.h"

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace needle::test {
namespace {

using Json = nlohmann::ordered_json;

void AppendLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float BitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Decodes f16 bits arithmetically (not by bit shuffling like the loader), so
// that rounding test values does not lean on the code under test.
float F16BitsToFloat(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  const float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                        : std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
  return (bits & 0x8000) ? -magnitude : magnitude;
}

float RoundTo(float value, DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return value;
    case DType::kBF16:
      return RoundToBf16(value);
    case DType::kF16:
      return F16BitsToFloat(F32ToF16(value));
  }
  return value;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

}  // namespace

std::string SafetensorsBytes(const std::string& header_json, const std::string& data) {
  std::string header = header_json;
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::string out;
  AppendLittleEndian(out, header.size(), 8);
  return out + header + data;
}

uint16_t F32ToBf16(float value) {
  const uint32_t bits = FloatBits(value);
  if (std::isnan(value)) return static_cast<uint16_t>((bits >> 16) | 0x0040);  // keep it a (quiet) NaN
  const uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float RoundToBf16(float value) { return BitsToFloat(static_cast<uint32_t>(F32ToBf16(value)) << 16); }

uint16_t F32ToF16(float value) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  if (std::isnan(value)) return sign | 0x7e00;
  const float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f) return sign | 0x7c00;  // 65520 and up round to infinity
  if (magnitude == 0.0f) return sign;
  int exponent;
  std::frexp(magnitude, &exponent);  // magnitude = m * 2^exponent, m in [0.5, 1)
  const int unbiased = exponent - 1;
  if (unbiased < -14) {
    // Subnormal: a multiple of 2^-24. lrint rounds to nearest even; 1024
    // units is exactly the bit pattern of the smallest normal number.
    return sign | static_cast<uint16_t>(std::lrint(std::ldexp(magnitude, 24)));
  }
  long significand = std::lrint(std::ldexp(magnitude, 10 - unbiased));  // in [1024, 2048]
  int biased = unbiased + 15;
  if (significand == 2048) {  // rounding carried into the next binade
    significand = 1024;
    ++biased;
  }
  return sign | static_cast<uint16_t>(biased << 10) | static_cast<uint16_t>(significand - 1024);
}

std::string EncodeValues(const std::vector<float>& values, DType dtype) {
  std::string out;
  out.reserve(values.size() * DTypeSize(dtype));
  for (float value : values) {
    switch (dtype) {
      case DType::kF32:
        AppendLittleEndian(out, FloatBits(value), 4);
        break;
      case DType::kBF16:
        AppendLittleEndian(out, F32ToBf16(value), 2);
        break;
      case DType::kF16:
        AppendLittleEndian(out, F32ToF16(value), 2);
        break;
    }
  }
  return out;
}

std::string SerializeTensors(const std::vector<TestTensor>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const TestTensor& tensor : tensors) {
    const size_t begin = data.size();
    data += EncodeValues(tensor.values, tensor.dtype);
    header[tensor.name] = {{"dtype", std::string(DTypeName(tensor.dtype))},
                           {"shape", tensor.shape},
                           {"data_offsets", {begin, data.size()}}};
  }
  return SafetensorsBytes(header.dump(), data);
}

std::map<std::string, std::string> NeedleMetadata(const ModelConfig& config) {
  return {{"format", "needle"}, {"needle_config", config.ToJson()}};
}

std::vector<TestTensor> RandomTensors(const ModelConfig& config, uint32_t seed, DType dtype) {
  std::mt19937 rng(seed);
  std::vector<TestTensor> tensors;
  for (const TensorSpec& spec : ExpectedTensors(config)) {
    TestTensor tensor{spec.name, spec.shape, std::vector<float>(spec.num_elements()), dtype};
    float bound = 0.1f;  // norm scales and the retrieval bias: small offsets from 0
    if (spec.name == "embedding/embedding") {
      bound = 1.0f / std::sqrt(static_cast<float>(config.d_model));
    } else if (EndsWith(spec.name, "/kernel")) {
      bound = 1.0f / std::sqrt(static_cast<float>(spec.shape[spec.shape.size() - 2]));  // (..., in, out)
    } else if (EndsWith(spec.name, "_gate")) {
      bound = 1.0f;
    }
    std::uniform_real_distribution<float> uniform(-bound, bound);
    for (float& value : tensor.values) value = RoundTo(uniform(rng), dtype);
    if (spec.name == "log_temp") tensor.values[0] = RoundTo(std::log(1.0f / 0.07f), dtype);  // CLIP's init
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

std::string RandomCheckpoint(const ModelConfig& config, uint32_t seed, DType dtype, const CheckpointEdits& edits) {
  std::vector<TestTensor> tensors = RandomTensors(config, seed, dtype);
  std::vector<TestTensor> edited;
  for (TestTensor& tensor : tensors) {
    if (tensor.name == edits.drop) continue;
    if (tensor.name == edits.rename_from) tensor.name = edits.rename_to;
    if (tensor.name == edits.reshape) {
      tensor.shape = edits.new_shape;
      tensor.values.resize(NumElements(edits.new_shape), 0.5f);
    }
    if (tensor.name == edits.poison) tensor.values.at(edits.poison_index) = edits.poison_value;
    edited.push_back(std::move(tensor));
  }
  return SerializeTensors(edited, NeedleMetadata(config));
}

TempFile::TempFile(const std::string& bytes) {
  std::string pattern = ::testing::TempDir() + "needle_test_XXXXXX";
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed for " + pattern);
  ::close(fd);
  path_ = pattern;
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path_);
}

TempFile::~TempFile() { ::unlink(path_.c_str()); }

TempFile WriteTempFile(const std::string& bytes) { return TempFile(bytes); }

absl::StatusOr<std::shared_ptr<const ModelWeights>> LoadWeights(const std::string& bytes) {
  TempFile file(bytes);
  return ModelWeights::Load(file.path());
}

ModelConfig SmallConfig() {
  ModelConfig config;
  config.vocab_size = 300;
  config.d_model = 32;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.num_encoder_layers = 2;
  config.num_decoder_layers = 2;
  config.rope_theta = 10000.0;
  return config;
}

}  // namespace needle::test
