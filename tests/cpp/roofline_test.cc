// needle-bench's roofline: the work of each test against hand-counted
// figures, packed sizes against the engine's packing, the measured peaks'
// sanity, and the roofline fields in JSON and in the table.
#include "needle/bench/roofline.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench_rows.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "markdown_table.h"
#include "needle/bench/output.h"
#include "needle/bench/row.h"
#include "needle/config.h"
#include "nlohmann/json.hpp"
#include "optimized/matmul.h"

namespace needle::bench {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// d = 64, 4 heads of 16, 2 KV heads: kv = 32; 2 encoder and 1 decoder layers.
ModelConfig TinyConfig() {
  ModelConfig config;
  config.vocab_size = 320;
  config.d_model = 64;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.num_encoder_layers = 2;
  config.num_decoder_layers = 1;
  return config;
}

using test::Cells;
using test::Lines;

TEST(RooflineTest, PackedBytesAreWhatTheEnginePacks) {
  for (const char* precision : {"fp32", "bf16", "int8", "int4", "w8a8", "w4a8"}) {
    const absl::StatusOr<Precision> type = ParsePrecision(precision);
    ASSERT_TRUE(type.ok());
    for (const auto& [in, out] : std::vector<std::pair<int, int>>{{64, 64}, {64, 32}, {64, 320}, {96, 40}}) {
      SCOPED_TRACE(fmt::format("{} {}x{}", precision, in, out));
      const std::vector<float> zeros(static_cast<size_t>(in) * out, 0.0f);
      const absl::StatusOr<optimized::PackedMatrix> packed =
          optimized::PackedMatrix::Pack(zeros.data(), in, out, *type);
      ASSERT_TRUE(packed.ok()) << packed.status();
      EXPECT_EQ(PackedMatrixBytes(*type, in, out), static_cast<int64_t>(packed->bytes()));
    }
  }
}

TEST(RooflineTest, PrefillWorkByHand) {
  // Per token and encoder layer: Q, O are 64x64 (4096 MACs each), K, V 64x32 (2048 each): 12288 MACs.
  // 10 tokens, 2 layers: 245760. Attention: 2 layers x 2 (scores, values) x 10^2 x 64 = 25600.
  // Cross K/V of the decoder layer: 10 x 2 x 2048 = 40960. 312320 MACs = 624640 FLOPs.
  const absl::StatusOr<RowWork> fp32 = WorkOf(TinyConfig(), "fp32", 10, 0, 0);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  EXPECT_EQ(fp32->flop, 624640);
  // fp32 weights: encoder 2 x (2 x 16384 + 2 x 8192) = 98304, cross K/V 2 x 8192 = 16384; embedding
  // rows 10 x 64 x 4 = 2560; norm scales (2 x (64 + 16 + 16) + 64 + 16) x 4 = 1088.
  EXPECT_EQ(fp32->bytes, 98304 + 16384 + 2560 + 1088);
  // int8: a 64x64 matrix is 2 panels of 2 groups x (32 scales x 4 + 32 x 32) = 2304 bytes each: 4608; 64x32: 2304.
  const absl::StatusOr<RowWork> int8 = WorkOf(TinyConfig(), "int8", 10, 0, 0);
  ASSERT_TRUE(int8.ok());
  EXPECT_EQ(int8->flop, fp32->flop);
  EXPECT_EQ(int8->bytes, 2 * (2 * 4608 + 2 * 2304) + 2 * 2304 + 2560 + 1088);
}

TEST(RooflineTest, DecodeWorkByHand) {
  // 3 steps after 10 encoder ids. MACs per step: self Q, K, V, O and cross Q, O: 4 x 4096 + 2 x 2048 = 20480;
  // output projection 64 x 320 = 20480. Over 3 steps: 122880. Self-attention over 1, 2, 3 positions:
  // 2 x 64 x 6 = 768; cross-attention 3 x 2 x 64 x 10 = 3840. 127488 MACs = 254976 FLOPs.
  const absl::StatusOr<RowWork> fp32 = WorkOf(TinyConfig(), "fp32", 0, 3, 10);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  EXPECT_EQ(fp32->flop, 254976);
  // Per step: weights 4 x 16384 + 2 x 8192 = 81920, output projection 81920, cross K/V 2 x 10 x 32 x 4 = 2560,
  // embedding row 256, norm scales (2 x 64 + 3 x 16 + 64) x 4 = 960: 167616. Self K/V: 2 x 32 x 4 x 6 = 1536.
  EXPECT_EQ(fp32->bytes, 3 * 167616 + 1536);
  // int4: 64x64 is 2 panels of 2 x (128 + 32 x 16) = 1280 bytes; 64x32 1280; 64x320 12800. Below fp32
  // the cross-attention K/V are bf16: 2 x 10 x 32 x 2 = 1280.
  const absl::StatusOr<RowWork> int4 = WorkOf(TinyConfig(), "int4", 0, 3, 10);
  ASSERT_TRUE(int4.ok());
  EXPECT_EQ(int4->flop, fp32->flop);
  EXPECT_EQ(int4->bytes, 3 * (4 * 2560 + 2 * 1280 + 12800 + 1280 + 256 + 960) + 1536);
}

TEST(RooflineTest, DecodeReadsCrossAttentionKvInTheEnginesForm) {
  // 10 more encoder ids add, per step, a K and a V row per key: fp32 2 x 10 x 32 x 4; bf16 below fp32;
  // int8 with an fp32 scale per KV head (2 heads) at w8a8 and w4a8: 2 x 10 x (32 + 2 x 4). Over 3 steps.
  const std::vector<std::pair<std::string, double>> expected = {
      {"fp32", 3 * 2560.0}, {"int4", 3 * 1280.0}, {"w8a8", 3 * 800.0}, {"w4a8", 3 * 800.0}};
  for (const auto& [precision, bytes] : expected) {
    const RowWork shallow = *WorkOf(TinyConfig(), precision, 0, 3, 10);
    const RowWork deep = *WorkOf(TinyConfig(), precision, 0, 3, 20);
    EXPECT_DOUBLE_EQ(deep.bytes - shallow.bytes, bytes) << precision;
  }
}

TEST(RooflineTest, CombinedIsPrefillPlusDecodeOverThePrompt) {
  for (const char* precision : {"fp32", "bf16", "w8a8"}) {
    const RowWork prefill = *WorkOf(TinyConfig(), precision, 12, 0, 0);
    const RowWork decode = *WorkOf(TinyConfig(), precision, 0, 5, 12);
    const RowWork combined = *WorkOf(TinyConfig(), precision, 12, 5, 64);  // the depth is unused
    EXPECT_DOUBLE_EQ(combined.flop, prefill.flop + decode.flop);
    EXPECT_DOUBLE_EQ(combined.bytes, prefill.bytes + decode.bytes);
  }
}

TEST(RooflineTest, PrefillAttentionGrowsWithTheSquare) {
  const ModelConfig config = ModelConfig::Release26M();
  for (int n : {16, 100, 512}) {
    // Projections are linear in n and cancel; what is left is the attention of 2n minus twice that of n:
    // 2 FLOPs x layers x 2 x d x ((2n)^2 - 2 n^2).
    const double twice = WorkOf(config, "fp32", 2 * n, 0, 0)->flop;
    const double once = WorkOf(config, "fp32", n, 0, 0)->flop;
    EXPECT_DOUBLE_EQ(twice - 2 * once, 2.0 * config.num_encoder_layers * 2 * config.d_model * 2.0 * n * n);
  }
}

TEST(RooflineTest, PrecisionChangesBytesNotOperations) {
  const ModelConfig config = ModelConfig::Release26M();
  const RowWork fp32 = *WorkOf(config, "fp32", 0, 100, 1024);
  double previous_bytes = fp32.bytes;
  for (const char* precision : {"bf16", "int8", "int4"}) {  // each stores the weights in fewer bytes
    const RowWork work = *WorkOf(config, precision, 0, 100, 1024);
    EXPECT_EQ(work.flop, fp32.flop) << precision;
    EXPECT_LT(work.bytes, previous_bytes) << precision;
    previous_bytes = work.bytes;
  }
  // w8a8 stores the int8 weights plus an int32 bias beside each scale (a prefill: weights only; decoding,
  // w8a8 also reads int8 cross-attention K/V where int8 reads bf16, DecodeReadsCrossAttentionKvInTheEnginesForm).
  EXPECT_GT(WorkOf(config, "w8a8", 1024, 0, 0)->bytes, WorkOf(config, "int8", 1024, 0, 0)->bytes);
  EXPECT_FALSE(WorkOf(config, "fp8", 0, 100, 1024).ok());
}

TEST(RooflineTest, MeasuredPeaksArePositiveAndFinite) {
  const MachinePeak peak = MeasurePeak(1);
  EXPECT_EQ(peak.threads, 1);
  for (double figure :
       {peak.fp32_flops, peak.bf16_flops, peak.int8_ops, peak.dram_bytes_per_s, peak.cache_bytes_per_s}) {
    EXPECT_GT(figure, 0);
    EXPECT_TRUE(std::isfinite(figure));
  }
  if (!peak.bf16_native) {
    EXPECT_EQ(peak.bf16_flops, peak.fp32_flops);
  }
  EXPECT_GE(peak.dram_buffer_bytes, int64_t{256} << 20);
  EXPECT_LE(peak.cache_buffer_bytes, int64_t{8} << 20);
  EXPECT_FALSE(peak.fp32_isa.empty());
  EXPECT_FALSE(peak.int8_isa.empty());
  EXPECT_THAT(DescribePeak(peak), HasSubstr("peak, 1 thread: fp32 "));
}

MachinePeak SomePeak() {
  MachinePeak peak;
  peak.threads = 2;
  peak.fp32_flops = 400e9;
  peak.fp32_isa = "avx512";
  peak.bf16_flops = 800e9;
  peak.bf16_native = true;
  peak.int8_ops = 1600e9;
  peak.int8_isa = "avx512vnni";
  peak.dram_bytes_per_s = 20e9;
  peak.cache_bytes_per_s = 100e9;
  return peak;
}

Row SomeRow(const std::string& precision, int n_prompt, int n_gen) {
  TestSpec spec;
  spec.model = "/tmp/tiny.safetensors";
  spec.engine = "optimized";
  spec.precision = precision;
  spec.threads = 2;
  spec.n_prompt = n_prompt;
  spec.n_gen = n_gen;
  spec.n_depth = n_prompt > 0 ? 0 : 64;
  return test::MeasuredRow(spec, {0.4, 0.6});  // mean 0.5 s
}

TEST(RooflineTest, FillsTheRowsFieldsForItsPrecision) {
  const MachinePeak peak = SomePeak();
  Row w8a8 = SomeRow("w8a8", 12, 0);
  FillRoofline(TinyConfig(), peak, w8a8);
  EXPECT_EQ(w8a8.work_flop, WorkOf(TinyConfig(), "w8a8", 12, 0, 0)->flop);
  EXPECT_EQ(w8a8.work_bytes, WorkOf(TinyConfig(), "w8a8", 12, 0, 0)->bytes);
  EXPECT_EQ(w8a8.peak_flops, peak.int8_ops);
  EXPECT_EQ(w8a8.peak_bytes_per_s, peak.dram_bytes_per_s);
  Row int4 = SomeRow("int4", 0, 5);
  FillRoofline(TinyConfig(), peak, int4);
  EXPECT_EQ(int4.peak_flops, peak.fp32_flops);  // dequantised to fp32 before the multiply-adds
  EXPECT_EQ(int4.work_bytes, WorkOf(TinyConfig(), "int4", 0, 5, 64)->bytes);
  Row bf16 = SomeRow("bf16", 12, 0);
  FillRoofline(TinyConfig(), peak, bf16);
  EXPECT_EQ(bf16.peak_flops, peak.bf16_flops);
  Row unknown = SomeRow("q4_k", 12, 0);  // a peer's own precision: nothing to size
  FillRoofline(TinyConfig(), peak, unknown);
  EXPECT_EQ(unknown.work_flop, -1);
  EXPECT_EQ(unknown.peak_flops, -1);
}

TEST(RooflineTest, FieldsRoundTripThroughJsonAndMayBeAbsent) {
  std::vector<Row> rows = {SomeRow("fp32", 12, 0), SomeRow("int8", 0, 5)};
  FillRoofline(TinyConfig(), SomePeak(), rows[0]);
  const nlohmann::json array = nlohmann::json::parse(FormatJson(rows));
  EXPECT_EQ(array[0]["work_flop"], rows[0].work_flop);
  EXPECT_EQ(array[0]["peak_bytes_per_s"], 20e9);
  EXPECT_EQ(array[1]["peak_flops"], -1);
  for (const std::string& text : {FormatJson(rows), FormatJsonl(rows)}) {
    const absl::StatusOr<std::vector<Row>> back = ParseRows(text);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[0].work_bytes, rows[0].work_bytes);
    EXPECT_EQ((*back)[0].peak_flops, rows[0].peak_flops);
    EXPECT_EQ(RowToJson((*back)[1]), RowToJson(rows[1]));
  }
  // Rows written before the roofline fields existed still read, as unmeasured.
  nlohmann::json old = array[0];
  for (const char* field : {"work_flop", "work_bytes", "peak_flops", "peak_bytes_per_s"}) old.erase(field);
  const absl::StatusOr<std::vector<Row>> read = ParseRows(old.dump());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)[0].work_flop, -1);
  EXPECT_EQ((*read)[0].peak_bytes_per_s, -1);
  old["work_flop"] = "many";
  EXPECT_THAT(std::string(ParseRows(old.dump()).status().message()), HasSubstr("\"work_flop\" has the wrong type"));
}

TEST(RooflineTest, ColumnsAppearOnlyWithRooflineData) {
  std::vector<Row> rows = {SomeRow("fp32", 12, 0), SomeRow("fp32", 0, 5)};
  const std::vector<std::string> plain = Cells(Lines(FormatMarkdown(rows))[0]);
  for (const char* column : {"GFLOP/s", "% peak", "GB/s", "% BW"}) EXPECT_THAT(plain, Not(Contains(column)));

  const MachinePeak peak = SomePeak();
  const ModelConfig config = ModelConfig::Release26M();
  for (Row& row : rows) FillRoofline(config, peak, row);
  const std::vector<std::string> lines = Lines(FormatMarkdown(rows, {peak}));
  const std::vector<std::string> header = Cells(lines[0]);
  const auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  ASSERT_LT(column("% BW"), header.size());
  EXPECT_EQ(column("% peak"), column("GFLOP/s") + 1);
  EXPECT_EQ(column("% BW"), column("GB/s") + 1);
  const std::vector<std::string> prompt = Cells(lines[2]), generation = Cells(lines[3]);
  // A rate is the row's work over its mean time of 0.5 s, shown to three digits; a share to 0.1 percent.
  const double flops = rows[0].work_flop / 0.5, bytes_per_s = rows[1].work_bytes / 0.5;
  EXPECT_NEAR(std::stod(prompt[column("GFLOP/s")]), flops / 1e9, flops / 1e9 * 0.01);
  EXPECT_NEAR(std::stod(prompt[column("% peak")]), 100 * flops / peak.fp32_flops, 0.05);
  EXPECT_EQ(prompt[column("GB/s")], "-");
  EXPECT_EQ(prompt[column("% BW")], "-");
  EXPECT_NEAR(std::stod(generation[column("GB/s")]), bytes_per_s / 1e9, bytes_per_s / 1e9 * 0.01);
  EXPECT_NEAR(std::stod(generation[column("% BW")]), 100 * bytes_per_s / peak.dram_bytes_per_s, 0.05);
  EXPECT_EQ(generation[column("GFLOP/s")], "-");
  EXPECT_EQ(generation[column("% peak")], "-");
  // The measured peak is printed under the table.
  EXPECT_EQ(lines[5], DescribePeak(peak));
  EXPECT_EQ(
      lines[5],
      "peak, 2 threads: fp32 400 GFLOP/s (avx512), bf16 800, int8 1600 GOP/s (avx512vnni); DRAM 20.0 GB/s, L3 100 "
      "GB/s");
  EXPECT_THAT(FormatHtml(rows, {peak}), HasSubstr("Measured peaks"));
  EXPECT_THAT(FormatHtml(rows), Not(HasSubstr("Measured peaks")));
}

}  // namespace
}  // namespace needle::bench
