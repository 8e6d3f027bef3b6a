#include "needle/safetensors.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/weights.h"
#include "nlohmann/json.hpp"
#include "test_checkpoint.h"

namespace needle {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;
using test::SafetensorsBytes;
using test::TestTensor;

constexpr char kName[] = "broken.safetensors";

// A parse result together with the bytes it points into. The copy is sized
// exactly, so that a read past the end is caught by AddressSanitizer instead
// of landing in the spare capacity of some string.
class Parsed {
 public:
  explicit Parsed(const std::string& bytes) : bytes_(std::make_unique<uint8_t[]>(bytes.size())) {
    std::memcpy(bytes_.get(), bytes.data(), bytes.size());
    file_ = SafetensorsFile::FromBytes(bytes_.get(), bytes.size(), kName);
  }
  bool ok() const { return file_.ok(); }
  absl::Status status() const { return file_.status(); }
  const SafetensorsFile* operator->() const { return file_->get(); }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file_;
};

// The error for `bytes`; fails the test if they parse, or if the message does
// not say which file it is about.
std::string ParseError(const std::string& bytes) {
  const Parsed file(bytes);
  EXPECT_FALSE(file.ok()) << "parsed a broken file";
  if (file.ok()) return "";
  const std::string message(file.status().message());
  EXPECT_THAT(message, HasSubstr(kName));
  return message;
}

std::string Le32(uint32_t value) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
  return out;
}

std::string Le16(uint16_t value) { return {static_cast<char>(value & 0xff), static_cast<char>(value >> 8)}; }

std::string F32Bytes(std::initializer_list<float> values) {
  std::string out;
  for (float value : values) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    out += Le32(bits);
  }
  return out;
}

// A header with one tensor entry `entry` named "t".
std::string OneTensorHeader(const Json& entry) { return Json{{"t", entry}}.dump(); }

Json Entry(const std::string& dtype, std::vector<int64_t> shape, uint64_t begin, uint64_t end) {
  return {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, end}}};
}

// The smallest valid Needle checkpoint: a few hundred parameters, small
// enough to cut at every length.
std::string TinyCheckpoint(DType dtype = DType::kF32) {
  ModelConfig config;
  config.vocab_size = 6;
  config.d_model = 4;
  config.num_heads = 2;
  config.num_kv_heads = 1;
  config.num_encoder_layers = 1;
  config.num_decoder_layers = 1;
  return test::RandomCheckpoint(config, 7, dtype);
}

TEST(SafetensorsTest, ValidFileFromBytes) {
  const std::vector<TestTensor> tensors = {
      {"a", {2, 3}, {1, 2, 3, 4, 5, 6}, DType::kF32},
      {"b/c", {3}, {0.5f, -1.0f, 2.0f}, DType::kBF16},
      {"scalar", {}, {-0.25f}, DType::kF16},
  };
  const std::string bytes = test::SerializeTensors(tensors, {{"format", "needle"}, {"note", "x"}});
  const Parsed file(bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->path(), kName);
  EXPECT_EQ(file->metadata().at("format"), "needle");
  EXPECT_EQ(file->metadata().at("note"), "x");
  ASSERT_EQ(file->tensors().size(), 3u);

  const TensorView* a = file->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->num_elements(), 6);
  EXPECT_EQ(a->num_bytes, 24u);
  EXPECT_EQ(a->ToF32(), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  const TensorView* bc = file->Find("b/c");
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(bc->dtype, DType::kBF16);
  EXPECT_EQ(bc->num_bytes, 6u);
  EXPECT_EQ(bc->ToF32(), (std::vector<float>{0.5f, -1.0f, 2.0f}));

  const TensorView* scalar = file->Find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->num_elements(), 1);
  EXPECT_EQ(scalar->ToF32(), (std::vector<float>{-0.25f}));

  EXPECT_EQ(file->Find("missing"), nullptr);
}

TEST(SafetensorsTest, ValidFileThroughMmapMatchesFromBytes) {
  const std::string bytes = TinyCheckpoint(DType::kBF16);
  const test::TempFile temp = test::WriteTempFile(bytes);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> mapped = SafetensorsFile::Open(temp.path());
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  const Parsed in_memory(bytes);
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  EXPECT_EQ((*mapped)->path(), temp.path());
  EXPECT_EQ((*mapped)->metadata(), in_memory->metadata());
  ASSERT_EQ((*mapped)->tensors().size(), in_memory->tensors().size());
  for (const auto& [name, view] : in_memory->tensors()) {
    const TensorView* other = (*mapped)->Find(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_EQ(other->shape, view.shape) << name;
    EXPECT_EQ(other->ToF32(), view.ToF32()) << name;
  }
}

TEST(SafetensorsTest, DTypeNamesAndSizes) {
  EXPECT_EQ(DTypeName(DType::kF32), "F32");
  EXPECT_EQ(DTypeName(DType::kBF16), "BF16");
  EXPECT_EQ(DTypeName(DType::kF16), "F16");
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kF16), 2u);
}

// Widens hand-written bit patterns of one dtype through a one-tensor file.
std::vector<float> Widen(const std::string& dtype, const std::vector<uint16_t>& bits) {
  std::string data;
  for (uint16_t b : bits) data += Le16(b);
  const std::string bytes =
      SafetensorsBytes(OneTensorHeader(Entry(dtype, {static_cast<int64_t>(bits.size())}, 0, data.size())), data);
  const Parsed file(bytes);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? file->Find("t")->ToF32() : std::vector<float>{};
}

TEST(SafetensorsTest, F32IsCopiedBitExactly) {
  const float denormal = std::numeric_limits<float>::denorm_min();
  const std::string data = F32Bytes({1.5f, -0.0f, denormal, std::numeric_limits<float>::max()});
  const Parsed file(SafetensorsBytes(OneTensorHeader(Entry("F32", {4}, 0, 16)), data));
  ASSERT_TRUE(file.ok()) << file.status();
  const std::vector<float> values = file->Find("t")->ToF32();
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_TRUE(std::signbit(values[1]));
  EXPECT_EQ(values[2], denormal);
  EXPECT_EQ(values[3], std::numeric_limits<float>::max());
}

TEST(SafetensorsTest, Bf16Widening) {
  const std::vector<float> values =
      Widen("BF16", {0x3f80, 0xc0a0, 0x3e20, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x7f7f});
  ASSERT_EQ(values.size(), 9u);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -5.0f);
  EXPECT_EQ(values[2], 0.15625f);
  EXPECT_EQ(values[3], 0.0f);
  EXPECT_TRUE(std::signbit(values[3]));
  EXPECT_EQ(values[4], std::numeric_limits<float>::infinity());
  EXPECT_EQ(values[5], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(values[6]));
  EXPECT_EQ(values[7], std::ldexp(1.0f, -133));   // smallest bf16 subnormal
  EXPECT_EQ(values[8], std::ldexp(255.0f, 120));  // largest finite bf16: (2 - 2^-7) * 2^127
}

TEST(SafetensorsTest, F16Widening) {
  const std::vector<float> values = Widen("F16", {0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8001,
                                                  0x0200, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x0000});
  ASSERT_EQ(values.size(), 14u);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(values[2], 1365.0f / 4096.0f);      // 0x3555: (1024 + 341) * 2^-12
  EXPECT_EQ(values[3], 65504.0f);               // largest finite f16
  EXPECT_EQ(values[4], std::ldexp(1.0f, -14));  // smallest normal
  // Subnormals: mantissa * 2^-24, no implicit leading one.
  EXPECT_EQ(values[5], std::ldexp(1.0f, -24));
  EXPECT_EQ(values[6], std::ldexp(1023.0f, -24));
  EXPECT_EQ(values[7], -std::ldexp(1.0f, -24));
  EXPECT_EQ(values[8], std::ldexp(1.0f, -15));
  EXPECT_EQ(values[9], std::numeric_limits<float>::infinity());
  EXPECT_EQ(values[10], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(values[11]));
  EXPECT_EQ(values[12], 0.0f);
  EXPECT_TRUE(std::signbit(values[12]));
  EXPECT_EQ(values[13], 0.0f);
  EXPECT_FALSE(std::signbit(values[13]));
}

TEST(SafetensorsTest, F16WideningOfEveryFinitePatternMatchesItsDefinition) {
  // All 63488 finite f16 values: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m when e == 0.
  std::vector<uint16_t> bits;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if (((b >> 10) & 0x1f) != 0x1f) bits.push_back(static_cast<uint16_t>(b));
  }
  const std::vector<float> values = Widen("F16", bits);
  ASSERT_EQ(values.size(), bits.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    const int exponent = (bits[i] >> 10) & 0x1f, mantissa = bits[i] & 0x3ff;
    float expected = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                   : std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
    if (bits[i] & 0x8000) expected = -expected;
    ASSERT_EQ(values[i], expected) << "bits 0x" << std::hex << bits[i];
    ASSERT_EQ(std::signbit(values[i]), (bits[i] & 0x8000) != 0) << "bits 0x" << std::hex << bits[i];
  }
}

TEST(SafetensorsTest, UnalignedTensorsAreReadCorrectly) {
  // A 3-element BF16 tensor first leaves the F32 tensor at an odd 2-byte offset.
  const std::vector<TestTensor> tensors = {{"half", {3}, {1, 2, 3}, DType::kBF16},
                                           {"full", {2}, {0.1f, -7.5f}, DType::kF32},
                                           {"f16", {1}, {0.5f}, DType::kF16}};
  const Parsed file(test::SerializeTensors(tensors, {}));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Find("full")->ToF32(), (std::vector<float>{0.1f, -7.5f}));
  EXPECT_EQ(file->Find("f16")->ToF32(), (std::vector<float>{0.5f}));
  EXPECT_TRUE(file->metadata().empty());
}

TEST(SafetensorsTest, EmptyFileList) {
  // A header with no tensors and no data is a valid (useless) file.
  const Parsed file(SafetensorsBytes("{}", ""));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->tensors().empty());
}

TEST(SafetensorsTest, ShorterThanTheLengthPrefix) {
  for (size_t size = 0; size < 8; ++size) {
    EXPECT_THAT(ParseError(std::string(size, '\0')), HasSubstr("truncated")) << size;
  }
}

TEST(SafetensorsTest, HeaderLengthPastEndOfFile) {
  std::string bytes = SafetensorsBytes("{}      ", "");
  bytes[0] = 100;  // claims 100 bytes of JSON, 8 follow
  const std::string error = ParseError(bytes);
  EXPECT_THAT(error, HasSubstr("truncated"));
  EXPECT_THAT(error, HasSubstr("100"));
}

TEST(SafetensorsTest, AbsurdHeaderLength) {
  std::string bytes = SafetensorsBytes("{}", "");
  bytes[5] = 1;  // 2^40 bytes
  EXPECT_THAT(ParseError(bytes), HasSubstr("implausible"));
  std::string all_ones = std::string(8, '\xff') + "{}";
  EXPECT_THAT(ParseError(all_ones), HasSubstr("implausible"));
}

TEST(SafetensorsTest, HeaderNotJson) {
  EXPECT_THAT(ParseError(SafetensorsBytes("{\"t\": ", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseError(SafetensorsBytes("", "")), HasSubstr("not valid JSON"));
}

TEST(SafetensorsTest, DeeplyNestedHeaderIsAnError) {
  const std::string deep = "{\"__metadata__\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  EXPECT_THAT(ParseError(SafetensorsBytes(deep, "")), HasSubstr("header is not valid JSON: nested deeper than 128"));
}

TEST(SafetensorsTest, HeaderNotAnObject) {
  EXPECT_THAT(ParseError(SafetensorsBytes("[1, 2, 3]", "")), HasSubstr("not a JSON object"));
  EXPECT_THAT(ParseError(SafetensorsBytes("\"text\"", "")), HasSubstr("not a JSON object"));
}

TEST(SafetensorsTest, UnsupportedDtype) {
  const std::string error = ParseError(SafetensorsBytes(OneTensorHeader(Entry("I64", {1}, 0, 8)), std::string(8, 0)));
  EXPECT_THAT(error, HasSubstr("\"t\""));
  EXPECT_THAT(error, HasSubstr("unsupported dtype \"I64\""));
}

TEST(SafetensorsTest, MalformedTensorEntries) {
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"t": 3})", "")), HasSubstr("not an object"));
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", std::string(4, 0))),
              HasSubstr("dtype"));
  EXPECT_THAT(
      ParseError(SafetensorsBytes(R"({"t": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", std::string(4, 0))),
      HasSubstr("shape"));
  EXPECT_THAT(
      ParseError(SafetensorsBytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", std::string(4, 0))),
      HasSubstr("data_offsets"));
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                                          std::string(4, 0))),
              HasSubstr("non-negative"));
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
                                          std::string(4, 0))),
              HasSubstr("non-negative"));
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
                                          std::string(4, 0))),
              HasSubstr("shape"));
}

TEST(SafetensorsTest, DataOffsetsNotMatchingShape) {
  const std::string error =
      ParseError(SafetensorsBytes(OneTensorHeader(Entry("F32", {2, 2}, 0, 12)), std::string(12, 0)));
  EXPECT_THAT(error, HasSubstr("\"t\""));
  EXPECT_THAT(error, HasSubstr("(2, 2)"));
  EXPECT_THAT(error, HasSubstr("16"));
  // End before begin.
  EXPECT_THAT(ParseError(SafetensorsBytes(OneTensorHeader(Entry("F32", {1}, 8, 4)), std::string(8, 0))),
              HasSubstr("data_offsets"));
}

TEST(SafetensorsTest, HugeShapeDoesNotOverflow) {
  // 2^32 * 2^32 elements would wrap a 64-bit byte count to 0 and match [0, 0).
  const std::string error =
      ParseError(SafetensorsBytes(OneTensorHeader(Entry("F32", {int64_t{1} << 32, int64_t{1} << 32}, 0, 0)), ""));
  EXPECT_THAT(error, HasSubstr("too large"));
}

TEST(SafetensorsTest, DataPastEndOfFile) {
  const std::string error = ParseError(SafetensorsBytes(OneTensorHeader(Entry("F32", {4}, 0, 16)), std::string(12, 0)));
  EXPECT_THAT(error, HasSubstr("truncated"));
  EXPECT_THAT(error, HasSubstr("\"t\""));
}

TEST(SafetensorsTest, OverlappingTensors) {
  const Json header = {{"a", Entry("F32", {2}, 0, 8)}, {"b", Entry("F32", {2}, 4, 12)}};
  EXPECT_THAT(ParseError(SafetensorsBytes(header.dump(), std::string(12, 0))), HasSubstr("overlap"));
  const Json same = {{"a", Entry("F32", {2}, 0, 8)}, {"b", Entry("F32", {2}, 0, 8)}};
  EXPECT_THAT(ParseError(SafetensorsBytes(same.dump(), std::string(8, 0))), HasSubstr("overlap"));
}

TEST(SafetensorsTest, GapBetweenTensors) {
  const Json header = {{"a", Entry("F32", {1}, 0, 4)}, {"b", Entry("F32", {1}, 8, 12)}};
  const std::string error = ParseError(SafetensorsBytes(header.dump(), std::string(12, 0)));
  EXPECT_THAT(error, HasSubstr("gap"));
  EXPECT_THAT(error, HasSubstr("[4, 8)"));
}

TEST(SafetensorsTest, TrailingBytes) {
  EXPECT_THAT(ParseError(SafetensorsBytes(OneTensorHeader(Entry("F32", {1}, 0, 4)), std::string(8, 0))),
              HasSubstr("trailing"));
  EXPECT_THAT(ParseError(SafetensorsBytes("{}", "x")), HasSubstr("trailing"));
}

TEST(SafetensorsTest, MetadataMustMapStringsToStrings) {
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"__metadata__": {"format": 1}})", "")),
              HasSubstr("__metadata__.format is not a string"));
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"__metadata__": {"a": "b", "nested": {"x": "y"}}})", "")),
              HasSubstr("__metadata__.nested"));
  EXPECT_THAT(ParseError(SafetensorsBytes(R"({"__metadata__": ["format"]})", "")), HasSubstr("__metadata__"));
}

TEST(SafetensorsTest, EveryTruncationOfACheckpointIsAnError) {
  for (DType dtype : {DType::kF32, DType::kF16}) {
    const std::string bytes = TinyCheckpoint(dtype);
    ASSERT_TRUE(Parsed(bytes).ok());
    ASSERT_LT(bytes.size(), 20000u) << "keep the sweep fast";
    for (size_t size = 0; size < bytes.size(); ++size) {
      const Parsed file(bytes.substr(0, size));
      ASSERT_FALSE(file.ok()) << "a " << size << "-byte prefix of a " << bytes.size() << "-byte file parsed";
      ASSERT_THAT(std::string(file.status().message()), HasSubstr(kName));
    }
  }
}

TEST(SafetensorsTest, TruncatedFileOnDiskIsAnError) {
  const std::string bytes = TinyCheckpoint();
  for (size_t size : {size_t{0}, size_t{5}, size_t{64}, bytes.size() / 2, bytes.size() - 1}) {
    const test::TempFile temp = test::WriteTempFile(bytes.substr(0, size));
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(temp.path());
    ASSERT_FALSE(file.ok()) << size;
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(temp.path()));
  }
}

TEST(SafetensorsTest, CorruptedBytesNeverCrash) {
  // Random byte flips all over a valid file: each must load or fail cleanly,
  // through the checkpoint validation as well as the container parser.
  const std::string original = TinyCheckpoint();
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> position(0, original.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes(original.begin(), original.end());
    for (int flips = 0; flips < 1 + trial % 3; ++flips) bytes[position(rng)] = static_cast<uint8_t>(byte(rng));
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::FromBytes(bytes.data(), bytes.size(), kName);
    if (!file.ok()) {
      ++rejected;
      continue;
    }
    rejected += !ModelWeights::FromFile(*std::move(file)).ok();
  }
  EXPECT_GT(rejected, 0);
}

TEST(SafetensorsTest, NonexistentPath) {
  const std::string path = ::testing::TempDir() + "no/such/dir/model.safetensors";
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr(path));
}

TEST(SafetensorsTest, DirectoryIsNotAFile) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(::testing::TempDir());
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("not a regular file"));
}

// ---- ModelWeights: a parseable file that is not a valid Needle checkpoint.

// Loads `bytes` from disk and returns the error, which must name the file.
std::string LoadError(const std::string& bytes) {
  const test::TempFile temp = test::WriteTempFile(bytes);
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::Load(temp.path());
  EXPECT_FALSE(weights.ok()) << "loaded a broken checkpoint";
  if (weights.ok()) return "";
  const std::string message(weights.status().message());
  EXPECT_THAT(message, HasSubstr(temp.path()));
  return message;
}

const ModelConfig kConfig = test::SmallConfig();
constexpr char kQProj[] = "encoder/layers/EncoderBlock_0/self_attn/q_proj/kernel";

TEST(ModelWeightsTest, ValidCheckpointLoads) {
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
        test::LoadWeights(test::RandomCheckpoint(kConfig, 1, dtype));
    ASSERT_TRUE(weights.ok()) << weights.status();
    EXPECT_EQ((*weights)->config().ToJson(), kConfig.ToJson());
    const TensorView& q = (*weights)->Get(kQProj);
    EXPECT_EQ(q.dtype, dtype);
    EXPECT_EQ(q.shape, (std::vector<int64_t>{2, 32, 32}));
    EXPECT_EQ((*weights)->file().tensors().size(), ExpectedTensors(kConfig).size());
  }
}

TEST(ModelWeightsTest, ValuesSurviveTheRoundTrip) {
  const std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 3, DType::kBF16);
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
      test::LoadWeights(test::SerializeTensors(tensors, test::NeedleMetadata(kConfig)));
  ASSERT_TRUE(weights.ok()) << weights.status();
  for (const TestTensor& tensor : tensors)
    EXPECT_EQ((*weights)->Get(tensor.name).ToF32(), tensor.values) << tensor.name;
}

TEST(ModelWeightsTest, MixedDtypesAreAllowed) {
  std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 3, DType::kBF16);
  tensors[0].dtype = DType::kF32;
  tensors[1].dtype = DType::kF16;
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights =
      test::LoadWeights(test::SerializeTensors(tensors, test::NeedleMetadata(kConfig)));
  ASSERT_TRUE(weights.ok()) << weights.status();
}

TEST(ModelWeightsTest, MissingTensorNamesTensorAndShape) {
  test::CheckpointEdits edits;
  edits.drop = kQProj;
  const std::string error = LoadError(test::RandomCheckpoint(kConfig, 1, DType::kF32, edits));
  EXPECT_THAT(error, HasSubstr("missing tensor"));
  EXPECT_THAT(error, HasSubstr(kQProj));
  EXPECT_THAT(error, HasSubstr("(2, 32, 32)"));
}

TEST(ModelWeightsTest, MissingScalarTensor) {
  test::CheckpointEdits edits;
  edits.drop = "log_temp";
  const std::string error = LoadError(test::RandomCheckpoint(kConfig, 1, DType::kF32, edits));
  EXPECT_THAT(error, HasSubstr("\"log_temp\""));
  EXPECT_THAT(error, HasSubstr("()"));
}

TEST(ModelWeightsTest, WrongShapeNamesExpectedAndFound) {
  test::CheckpointEdits edits;
  edits.reshape = "decoder/layers/DecoderBlock_0/cross_attn/k_proj/kernel";
  edits.new_shape = {2, 16, 32};  // (in, out) transposed, as a careless converter would
  const std::string error = LoadError(test::RandomCheckpoint(kConfig, 1, DType::kF32, edits));
  EXPECT_THAT(error, HasSubstr(edits.reshape));
  EXPECT_THAT(error, HasSubstr("expected shape (2, 32, 16)"));
  EXPECT_THAT(error, HasSubstr("found (2, 16, 32)"));
}

TEST(ModelWeightsTest, RenamedTensorIsReportedMissing) {
  test::CheckpointEdits edits;
  edits.rename_from = "encoder/final_norm/scale";
  edits.rename_to = "encoder/final_norm/weight";
  EXPECT_THAT(LoadError(test::RandomCheckpoint(kConfig, 1, DType::kF32, edits)),
              HasSubstr("missing tensor \"encoder/final_norm/scale\""));
}

TEST(ModelWeightsTest, UnexpectedExtraTensor) {
  std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 1, DType::kF32);
  tensors.push_back({"decoder/lm_head/kernel", {2}, {1, 2}, DType::kF32});
  const std::string error = LoadError(test::SerializeTensors(tensors, test::NeedleMetadata(kConfig)));
  EXPECT_THAT(error, HasSubstr("unexpected tensor"));
  EXPECT_THAT(error, HasSubstr("decoder/lm_head/kernel"));
}

TEST(ModelWeightsTest, MissingNeedleConfig) {
  const std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 1, DType::kF32);
  EXPECT_THAT(LoadError(test::SerializeTensors(tensors, {{"format", "needle"}})), HasSubstr("needle_config"));
}

TEST(ModelWeightsTest, BadFormat) {
  const std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 1, DType::kF32);
  EXPECT_THAT(LoadError(test::SerializeTensors(tensors, {{"format", "pt"}, {"needle_config", kConfig.ToJson()}})),
              HasSubstr("format"));
  EXPECT_THAT(LoadError(test::SerializeTensors(tensors, {{"needle_config", kConfig.ToJson()}})), HasSubstr("format"));
  EXPECT_THAT(LoadError(test::SerializeTensors(tensors, {})), HasSubstr("format"));
}

TEST(ModelWeightsTest, ConfigJsonInvalid) {
  const std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 1, DType::kF32);
  EXPECT_THAT(LoadError(test::SerializeTensors(tensors, {{"format", "needle"}, {"needle_config", "{\"vocab"}})),
              HasSubstr("needle_config"));

  Json config = Json::parse(kConfig.ToJson());
  config.erase("num_kv_heads");
  EXPECT_THAT(LoadError(test::SerializeTensors(tensors, {{"format", "needle"}, {"needle_config", config.dump()}})),
              HasSubstr("num_kv_heads"));
}

TEST(ModelWeightsTest, ConfigDisagreeingWithTensorsIsAShapeError) {
  ModelConfig claimed = kConfig;
  claimed.vocab_size = 301;
  const std::vector<TestTensor> tensors = test::RandomTensors(kConfig, 1, DType::kF32);
  const std::string error = LoadError(test::SerializeTensors(tensors, test::NeedleMetadata(claimed)));
  EXPECT_THAT(error, HasSubstr("embedding/embedding"));
  EXPECT_THAT(error, HasSubstr("(301, 32)"));
}

TEST(ModelWeightsTest, NonFiniteWeightNamesTensorAndElement) {
  const float inf = std::numeric_limits<float>::infinity();
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (float poison : {std::numeric_limits<float>::quiet_NaN(), inf, -inf}) {
      test::CheckpointEdits edits;
      edits.poison = "decoder/layers/DecoderBlock_0/self_attn/v_proj/kernel";
      edits.poison_index = 517;
      edits.poison_value = poison;
      const std::string error = LoadError(test::RandomCheckpoint(kConfig, 1, dtype, edits));
      EXPECT_THAT(error, HasSubstr(edits.poison)) << DTypeName(dtype) << " " << poison;
      EXPECT_THAT(error, HasSubstr("element 517")) << DTypeName(dtype) << " " << poison;
      EXPECT_THAT(error, HasSubstr(std::isnan(poison) ? "nan" : "inf")) << DTypeName(dtype);
    }
  }
}

TEST(ModelWeightsTest, NonFiniteValuePastTheFirstChunk) {
  // The embedding holds 9600 values: a NaN near its end must still be found.
  test::CheckpointEdits edits;
  edits.poison = "embedding/embedding";
  edits.poison_index = 300 * 32 - 1;
  const std::string error = LoadError(test::RandomCheckpoint(kConfig, 1, DType::kBF16, edits));
  EXPECT_THAT(error, HasSubstr("element 9599"));
}

TEST(ModelWeightsTest, NonexistentPath) {
  const std::string path = ::testing::TempDir() + "does-not-exist.safetensors";
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::Load(path);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(weights.status().message()), HasSubstr(path));
}

TEST(ModelWeightsTest, FromFileValidatesBytesInMemory) {
  test::CheckpointEdits edits;
  edits.drop = "log_temp";
  const std::string bytes = test::RandomCheckpoint(kConfig, 1, DType::kF32, edits);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::FromBytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "in-memory");
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::shared_ptr<const ModelWeights>> weights = ModelWeights::FromFile(*std::move(file));
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(std::string(weights.status().message()), HasSubstr("in-memory: missing tensor \"log_temp\""));
}

}  // namespace
}  // namespace needle
