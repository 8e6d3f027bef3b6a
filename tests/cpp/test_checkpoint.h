// Test helpers: safetensors files and random Needle checkpoints built in memory.
//
// Tests describe a checkpoint as a list of float tensors, edit that list the
// way a broken converter would (drop, rename, reshape, poison a value) and
// serialise it; the loader then sees exactly the bytes such a file would have.
#ifndef NEEDLE_TESTS_CPP_TEST_CHECKPOINT_H_
#define NEEDLE_TESTS_CPP_TEST_CHECKPOINT_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/config.h"
#include "needle/safetensors.h"
#include "needle/weights.h"

namespace needle::test {

// The raw file layout: 8-byte little-endian header length, the header padded
// with spaces to a multiple of 8 (as the project's writer does), then `data`.
std::string SafetensorsBytes(const std::string& header_json, const std::string& data);

// fp32 -> bf16 / f16 bits, rounding to nearest even; NaN and infinities are
// kept, f16 values too small for a normal number become subnormals.
uint16_t F32ToBf16(float value);
uint16_t F32ToF16(float value);
float RoundToBf16(float value);

// One tensor as a test writes it; `values` are stored as `dtype`.
struct TestTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
  DType dtype = DType::kF32;
};

// Little-endian bytes of `values` in `dtype`.
std::string EncodeValues(const std::vector<float>& values, DType dtype);

// A complete safetensors file holding `tensors` back to back in the given
// order, with `metadata` as `__metadata__` (omitted when empty).
std::string SerializeTensors(const std::vector<TestTensor>& tensors,
                             const std::map<std::string, std::string>& metadata);

// {"format": "needle", "needle_config": config.ToJson()}.
std::map<std::string, std::string> NeedleMetadata(const ModelConfig& config);

// Every tensor of ExpectedTensors(config) with deterministic random values a
// trained model could have: kernels ~ U(-a, a) with a = 1/sqrt(fan_in), norm
// scales near 0, gates near 0. Values are already rounded to `dtype`, so the
// same list written as F32 holds exactly what the `dtype` file holds.
std::vector<TestTensor> RandomTensors(const ModelConfig& config, uint32_t seed, DType dtype);

// The ways tests break an otherwise valid checkpoint; empty names mean "no edit".
struct CheckpointEdits {
  std::string drop;  // leave this tensor out
  std::string rename_from, rename_to;
  std::string reshape;  // give this tensor `new_shape` (its data is resized to match)
  std::vector<int64_t> new_shape;
  std::string poison;  // overwrite one element of this tensor with `poison_value`
  int64_t poison_index = 0;
  float poison_value = std::numeric_limits<float>::quiet_NaN();
};

// A valid Needle checkpoint for `config` (or a broken one, per `edits`).
std::string RandomCheckpoint(const ModelConfig& config, uint32_t seed, DType dtype = DType::kF32,
                             const CheckpointEdits& edits = {});

// A file under the test temp directory, removed when the object goes away.
class TempFile {
 public:
  explicit TempFile(const std::string& bytes);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TempFile WriteTempFile(const std::string& bytes);

// Loads a checkpoint through the real mmap path; the temp file is removed
// once mapped (the mapping keeps the data alive).
absl::StatusOr<std::shared_ptr<const ModelWeights>> LoadWeights(const std::string& bytes);

// Small enough for fast tests under sanitizers, but with GQA (2 query heads
// per KV head), two layers per stack and a RoPE head_dim above 2.
ModelConfig SmallConfig();

}  // namespace needle::test

#endif  // NEEDLE_TESTS_CPP_TEST_CHECKPOINT_H_
