// needle-bench's library: argument lists, plan expansion, the output formats
// and their JSON round trip, and a short run on a tiny random model.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_rows.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "markdown_table.h"
#include "needle/bench/compare.h"
#include "needle/bench/output.h"
#include "needle/bench/params.h"
#include "needle/bench/row.h"
#include "needle/bench/runner.h"
#include "needle/bench/system_info.h"
#include "needle/config.h"
#include "needle/str_cat.h"
#include "needle/subprocess.h"
#include "nlohmann/json.hpp"
#include "test_checkpoint.h"

namespace needle::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Params> Parse(std::vector<std::string> args) { return ParseArgs(args, "default.safetensors"); }

using test::Cells;
using test::Lines;

Row SampleRow(const std::string& engine, const std::string& precision, int threads) {
  TestSpec spec;
  spec.model = "/tmp/models/needle26m.safetensors";
  spec.engine = engine;
  spec.precision = precision;
  spec.threads = threads;
  spec.n_prompt = 1024;
  Row row = test::MeasuredRow(spec, {0.5, 0.51, 0.49});
  row.model_type = "needle d512 h8/4 L12+8 v8192";
  row.model_size = 105261684;
  row.model_n_params = 26315421;
  row.peak_rss_bytes = 200 << 20;
  return row;
}

TEST(ParamsTest, ParsesIntegerLists) {
  EXPECT_THAT(*ParseIntList("1,2,4", "-t", 1, 8), ElementsAre(1, 2, 4));
  EXPECT_THAT(*ParseIntList("0", "-p", 0, 1024), ElementsAre(0));
  for (const char* bad : {"", "1,,2", "1,", "x", "1.5", " 1", "9", "0", "-1"}) {
    const absl::StatusOr<std::vector<int>> list = ParseIntList(bad, "-t", 1, 8);
    EXPECT_FALSE(list.ok()) << bad;
    if (!list.ok()) {
      EXPECT_THAT(std::string(list.status().message()), HasSubstr("-t")) << bad;
    }
  }
}

TEST(ParamsTest, IntegerListsTakeLlamaBenchRanges) {
  EXPECT_THAT(*ParseIntList("1-4", "-t", 1, 64), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(*ParseIntList("1-8+3", "-t", 1, 64), ElementsAre(1, 4, 7));
  EXPECT_THAT(*ParseIntList("64-1024*2", "-p", 0, 1024), ElementsAre(64, 128, 256, 512, 1024));
  EXPECT_THAT(*ParseIntList("100-300*2", "-p", 0, 1024), ElementsAre(100, 200));  // stops before passing the end
  EXPECT_THAT(*ParseIntList("1-2,8,16-16", "-t", 1, 64), ElementsAre(1, 2, 8, 16));
  EXPECT_THAT(*ParseIntList("0-2", "-p", 0, 1024), ElementsAre(0, 1, 2));
  for (const char* bad : {"4-1", "1-", "1-8*1", "0-8*2", "1-8+0", "1-8x2", "1-8+", "a-4", "1-b", "1-4-8", "1-100"}) {
    const absl::StatusOr<std::vector<int>> list = ParseIntList(bad, "-t", 1, 64);
    EXPECT_FALSE(list.ok()) << bad;
    if (!list.ok()) {
      EXPECT_THAT(std::string(list.status().message()), HasSubstr("-t: ")) << bad;
      EXPECT_THAT(std::string(list.status().message()), HasSubstr("not a range")) << bad;
    }
  }
  // A range is bounded like a single value, and cannot blow up into millions of tests.
  EXPECT_FALSE(ParseIntList("1-100000", "-p", 0, 1000000).ok());
}

TEST(ParamsTest, ParsesTheSweepAndOutputFlags) {
  const absl::StatusOr<Params> params = Parse({"-C", "0xf0,0x0f", "--cpu-mask", "0x3", "--delay", "2.5", "-oe", "json",
                                               "-v", "--list-devices", "-t", "1-2", "-p", "64-256*2"});
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(params->cpu_masks, ElementsAre("0xf0", "0x0f", "0x3"));
  EXPECT_DOUBLE_EQ(params->delay_seconds, 2.5);
  EXPECT_EQ(params->second_output, "json");
  EXPECT_TRUE(params->verbose);
  EXPECT_TRUE(params->list_devices);
  EXPECT_THAT(params->threads, ElementsAre(1, 2));
  EXPECT_THAT(params->n_prompt, ElementsAre(64, 128, 256));

  const absl::StatusOr<Params> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_THAT(defaults->cpu_masks, ElementsAre(""));  // not pinned
  EXPECT_EQ(defaults->delay_seconds, 0);
  EXPECT_EQ(defaults->second_output, "");
  EXPECT_FALSE(defaults->verbose);

  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--delay", "-1"}, "--delay: \"-1\" is not a number of seconds"},
      {{"--delay", "soon"}, "--delay: \"soon\""},
      {{"-oe", "xml"}, "-oe: unknown format \"xml\""},
      {{"-C", "0xf0,zz"}, "not a hex mask"},
      {{"-C", "0xf0,"}, "empty item"},
      {{"-t", "8-1"}, "-t: \"8-1\" is not a range"},
  };
  for (const auto& [args, message] : bad) {
    const absl::StatusOr<Params> refused = Parse(args);
    ASSERT_FALSE(refused.ok()) << args[0];
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(message));
  }
}

TEST(ParamsTest, EachCpuMaskIsAnInstanceAndDelayGoesToDevices) {
  absl::StatusOr<Params> params = Parse({"-m", "a.safetensors", "-p", "8", "-n", "0", "-e", "optimized", "-P", "fp32",
                                         "-t", "1,2", "-C", "0x2,0x1", "--delay", "3"});
  ASSERT_TRUE(params.ok()) << params.status();
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::pair<int, std::string>> instances;
  for (const TestSpec& spec : plan->tests) instances.emplace_back(spec.threads, spec.cpu_mask);
  EXPECT_THAT(instances, ElementsAre(std::pair(1, std::string("0x2")), std::pair(1, std::string("0x1")),
                                     std::pair(2, std::string("0x2")), std::pair(2, std::string("0x1"))));
  const std::vector<std::string> device_args = DeviceArgs(*params);
  const auto delay = std::find(device_args.begin(), device_args.end(), "--delay");
  ASSERT_NE(delay, device_args.end());
  EXPECT_EQ(*(delay + 1), "3");
}

TEST(ParamsTest, ParsesStringLists) {
  EXPECT_THAT(*ParseStringList("a.safetensors,b.safetensors", "-m"), ElementsAre("a.safetensors", "b.safetensors"));
  EXPECT_FALSE(ParseStringList("a,", "-m").ok());
  EXPECT_FALSE(ParseStringList("", "-m").ok());
}

TEST(ParamsTest, DefaultsFollowTheDocumentation) {
  const absl::StatusOr<Params> params = Parse({});
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(params->models, ElementsAre("default.safetensors"));
  EXPECT_THAT(params->n_prompt, ElementsAre(1024));
  EXPECT_THAT(params->n_gen, ElementsAre(100));
  EXPECT_TRUE(params->prompt_gen.empty());
  EXPECT_THAT(params->threads, ElementsAre(std::max(1, static_cast<int>(std::thread::hardware_concurrency()))));
  EXPECT_EQ(params->repetitions, 5);
  EXPECT_EQ(params->warmup, 1);
  EXPECT_THAT(params->engines, ElementsAre("reference", "optimized"));
  EXPECT_THAT(params->precisions, ElementsAre("fp32", "bf16", "int8", "int4"));
  EXPECT_EQ(params->output, "md");
  EXPECT_FALSE(params->progress);
}

TEST(ParamsTest, ParsesEveryFlagAndRepeatsAppend) {
  const absl::StatusOr<Params> params = Parse({"-m",         "a.safetensors,b.safetensors",
                                               "-p",         "64",
                                               "-p",         "1024",
                                               "-n",         "16",
                                               "-pg",        "512,64",
                                               "-pg",        "128,8",
                                               "-t",         "1,2",
                                               "-r",         "3",
                                               "--warmup=0", "-e",
                                               "optimized",  "-P",
                                               "int8,int4",  "--output=jsonl",
                                               "--cpu-mask", "0x3",
                                               "--progress"});
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(params->models, ElementsAre("a.safetensors", "b.safetensors"));
  EXPECT_THAT(params->n_prompt, ElementsAre(64, 1024));
  EXPECT_THAT(params->n_gen, ElementsAre(16));
  EXPECT_THAT(params->prompt_gen, ElementsAre(std::pair(512, 64), std::pair(128, 8)));
  EXPECT_THAT(params->threads, ElementsAre(1, 2));
  EXPECT_EQ(params->repetitions, 3);
  EXPECT_EQ(params->warmup, 0);
  EXPECT_THAT(params->engines, ElementsAre("optimized"));
  EXPECT_THAT(params->precisions, ElementsAre("int8", "int4"));
  EXPECT_EQ(params->output, "jsonl");
  EXPECT_THAT(params->cpu_masks, ElementsAre("0x3"));
  EXPECT_TRUE(params->progress);
}

TEST(ParamsTest, RefusesBadArgumentsWithTheReason) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-e", "fast"}, "unknown engine \"fast\""},
      {{"-P", "fp8"}, "unknown precision \"fp8\""},
      {{"-o", "xml"}, "unknown format \"xml\""},
      {{"-t", "1,,2"}, "\"\" is not an integer"},
      {{"-p", "2000"}, "outside [0, 1024]"},
      {{"-n", "513"}, "outside [0, 512]"},
      {{"-pg", "512"}, "expected N_PROMPT,N_GEN"},
      {{"-r", "0"}, "outside [1,"},
      {{"-r"}, "-r needs a value"},
      {{"--frobnicate", "1"}, "unknown flag \"--frobnicate\""},
      {{"model.safetensors"}, "unexpected argument"},
      {{"--cpu-mask", "0x0"}, "selects no CPU"},
  };
  for (const auto& [args, message] : cases) {
    const absl::StatusOr<Params> params = Parse(args);
    ASSERT_FALSE(params.ok()) << args[0];
    EXPECT_THAT(std::string(params.status().message()), HasSubstr(message)) << args[0];
  }
}

TEST(PlanTest, ExpandsEveryCombinationAndSkipsReferenceBeyondFp32OneThread) {
  absl::StatusOr<Params> params = Parse({"-m", "m.safetensors", "-p", "1024", "-n", "100", "-pg", "16,4", "-t", "1,2"});
  ASSERT_TRUE(params.ok());
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  // reference: fp32 x 1 thread; optimized: 4 precisions x 2 thread counts; 3 tests each.
  ASSERT_EQ(plan->tests.size(), (1 + 4 * 2) * 3u);
  EXPECT_EQ(plan->tests[0].engine, "reference");
  EXPECT_EQ(plan->tests[0].TestName(), "pp1024");
  EXPECT_EQ(plan->tests[1].TestName(), "tg100 @ d64");
  EXPECT_EQ(plan->tests[1].n_depth, kGenerationDepth);
  EXPECT_EQ(plan->tests[2].TestName(), "pp16+tg4");
  EXPECT_EQ(plan->tests[2].n_depth, 0);
  EXPECT_EQ(plan->tests[3].engine, "optimized");
  EXPECT_EQ(plan->tests[3].precision, "fp32");
  EXPECT_EQ(plan->tests[3].threads, 1);
  EXPECT_EQ(plan->tests[6].threads, 2);
  EXPECT_EQ(plan->tests.back().precision, "int4");
  for (const TestSpec& test : plan->tests) {
    if (test.engine == "reference") {
      EXPECT_TRUE(test.precision == "fp32" && test.threads == 1);
    }
  }
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_THAT(plan->notes[0], HasSubstr("skipped its rows at bf16, int8, int4 and at 2 threads"));
}

TEST(PlanTest, ZeroLengthsDropTestsAndAnEmptyPlanIsAnError) {
  absl::StatusOr<Params> params = Parse({"-p", "0", "-n", "8", "-e", "optimized", "-P", "fp32", "-t", "1"});
  ASSERT_TRUE(params.ok());
  absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->tests.size(), 1u);
  EXPECT_EQ(plan->tests[0].TestName(), "tg8 @ d64");
  EXPECT_TRUE(plan->notes.empty());

  params = Parse({"-p", "0", "-n", "0"});
  ASSERT_TRUE(params.ok());
  EXPECT_THAT(std::string(ExpandPlan(*params).status().message()), HasSubstr("nothing to measure"));
  params = Parse({"-e", "reference", "-t", "2"});
  ASSERT_TRUE(params.ok());
  EXPECT_THAT(std::string(ExpandPlan(*params).status().message()), HasSubstr("reference engine runs only"));
}

TEST(RowTest, MeanAndSampleStandardDeviation) {
  EXPECT_DOUBLE_EQ(Mean({1, 2, 3, 4}), 2.5);
  EXPECT_DOUBLE_EQ(StdDev({1, 2, 3, 4}), std::sqrt(5.0 / 3.0));
  EXPECT_EQ(StdDev({7}), 0);
  EXPECT_EQ(Mean({}), 0);
}

TEST(OutputTest, MarkdownHasLlamaBenchColumnsAndOneLinePerRow) {
  const std::vector<Row> rows = {SampleRow("reference", "fp32", 1), SampleRow("optimized", "int8", 2)};
  const std::vector<std::string> lines = Lines(FormatMarkdown(rows));
  ASSERT_GE(lines.size(), 6u);
  EXPECT_THAT(Cells(lines[0]), ElementsAre("model", "size", "params", "engine", "precision", "threads", "isa", "test",
                                           "t/s", "x ref", "TTFT ms", "peak RSS"));
  EXPECT_EQ(Cells(lines[1])[0].back(), '-');  // text left-aligned, numbers right-aligned
  EXPECT_EQ(Cells(lines[1])[1].back(), ':');
  const std::vector<std::string> reference = Cells(lines[2]);
  EXPECT_THAT(reference, ElementsAre("needle26m.safetensors", "100.39 MiB", "26.32 M", "reference", "fp32", "1", "-",
                                     "pp1024", fmt::format("{:.2f} ± {:.2f}", rows[0].avg_ts, rows[0].stddev_ts),
                                     "1.00", "510.00", "200.00 MiB"));
  EXPECT_EQ(Cells(lines[3])[6], "avx512");
  // Padded to equal widths: every line as long as the header, counting "±" as one column.
  EXPECT_EQ(lines[2].size() - 1, lines[0].size());
  EXPECT_EQ(lines[4], "");
  EXPECT_EQ(lines[5], "build: abc1234, CPU: Test CPU, \"quoted\" (2 cores)");
}

TEST(OutputTest, MarkdownShowsRuntimeDeviceAndMaskOnlyWhenTheyVary) {
  std::vector<Row> rows = {SampleRow("optimized", "fp32", 2), SampleRow("optimized", "fp32", 2)};
  rows[1].device = "adb:R58M";
  rows[1].runtime = "onnxruntime";
  rows[1].cpu_mask = "0xf0";
  const std::vector<std::string> lines = Lines(FormatMarkdown(rows));
  const std::vector<std::string> header = Cells(lines[0]);
  EXPECT_THAT(std::vector<std::string>(header.begin(), header.begin() + 3), ElementsAre("runtime", "device", "model"));
  EXPECT_NE(std::find(header.begin(), header.end(), "cpu_mask"), header.end());
  EXPECT_EQ(Cells(lines[3])[1], "adb:R58M");
  EXPECT_EQ(lines.back(), "adb:R58M: build: abc1234, CPU: Test CPU, \"quoted\" (2 cores)");
}

TEST(OutputTest, RowWriterPrintsEachRowAsItComes) {
  const std::vector<Row> rows = {SampleRow("reference", "fp32", 1), SampleRow("optimized", "int8", 2)};
  TableShape shape;
  shape.x_ref = true;
  RowWriter md("md", shape);
  const std::string header = md.Begin();
  EXPECT_THAT(Cells(Lines(header)[0]), ElementsAre("model", "size", "params", "engine", "precision", "threads", "isa",
                                                   "test", "t/s", "x ref", "TTFT ms", "peak RSS"));
  const std::string first = md.Add(rows[0]);
  ASSERT_EQ(Lines(first).size(), 1u);  // the row's line, at once
  EXPECT_THAT(
      Cells(Lines(first)[0]),
      ElementsAre("needle26m.safetensors", "100.39 MiB", "26.32 M", "reference", "fp32", "1", "-", "pp1024",
                  fmt::format("{:.2f} ± {:.2f}", rows[0].avg_ts, rows[0].stddev_ts), "1.00", "510.00", "200.00 MiB"));
  // Fixed widths: the row lines up with the header although the writer never saw it before.
  EXPECT_EQ(Lines(first)[0].size() - 1, Lines(header)[0].size());
  const std::string second = md.Add(rows[1]);
  EXPECT_EQ(Cells(Lines(second)[0])[9], fmt::format("{:.2f}", rows[1].avg_ts / rows[0].avg_ts));
  EXPECT_THAT(md.End(), HasSubstr("build: abc1234"));

  // JSON: a valid array once closed, the same text the whole array dumps to.
  RowWriter json("json", {});
  std::string text = json.Begin();
  for (const Row& row : rows) {
    const std::string piece = json.Add(row);
    EXPECT_THAT(piece, HasSubstr(row.engine));
    text += piece;
  }
  text += json.End();
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const Row& row : rows) array.push_back(RowToJson(row));
  EXPECT_EQ(text, array.dump(2) + "\n");
  RowWriter empty("json", {});
  EXPECT_EQ(empty.Begin() + empty.End(), "[]\n");

  RowWriter jsonl("jsonl", {});
  EXPECT_EQ(jsonl.Begin(), "");
  EXPECT_EQ(nlohmann::json::parse(jsonl.Add(rows[1]))["precision"], "int8");

  // HTML needs every row: nothing until the end, then the page.
  RowWriter html("html", {});
  EXPECT_EQ(html.Begin() + html.Add(rows[0]), "");
  EXPECT_THAT(html.End(), HasSubstr("<table"));
}

TEST(OutputTest, ShapeOfNamesTheOptionalColumnsTheRowsNeed) {
  std::vector<Row> rows = {SampleRow("optimized", "fp32", 2)};
  TableShape shape = ShapeOf(rows);
  EXPECT_FALSE(shape.runtime || shape.device || shape.cpu_mask || shape.x_ref || shape.compute || shape.bandwidth);
  rows.push_back(SampleRow("reference", "fp32", 1));
  rows.back().cpu_mask = "0x2";
  shape = ShapeOf(rows);
  EXPECT_TRUE(shape.x_ref && shape.cpu_mask);
  EXPECT_FALSE(shape.device);
  TableShape more;
  more.device = true;
  shape |= more;
  EXPECT_TRUE(shape.device && shape.x_ref);
}

TEST(CompareTest, MatchesRowsOnWhatVariesAndGivesTheSpeedup) {
  // Two builds of the same sweep: A has 1 and 2 threads, B has 2 and 4.
  std::vector<Row> a = {SampleRow("optimized", "fp32", 1), SampleRow("optimized", "fp32", 2)};
  std::vector<Row> b = {SampleRow("optimized", "fp32", 2), SampleRow("optimized", "fp32", 4)};
  for (Row& row : b) {
    row.build_commit = "def5678";
    row.model_filename = "/elsewhere/needle26m.safetensors";  // another checkout: the file name matches
    for (double& ts : row.samples_ts) ts *= 1.5;
    Summarize(row);
  }
  const RunComparison comparison = CompareRuns(a, b);
  EXPECT_THAT(comparison.key_columns, ElementsAre("threads"));
  ASSERT_EQ(comparison.rows.size(), 3u);
  EXPECT_EQ(comparison.rows[0].key, std::vector<std::string>{"1"});
  EXPECT_TRUE(comparison.rows[0].a != nullptr && comparison.rows[0].b == nullptr);
  EXPECT_EQ(comparison.rows[1].a, &a[1]);
  EXPECT_EQ(comparison.rows[1].b, &b[0]);
  EXPECT_EQ(comparison.rows[2].b, &b[1]);
  EXPECT_EQ(comparison.rows[2].a, nullptr);

  const absl::StatusOr<std::string> md = FormatComparison(comparison, a, b, "a.json", "b.json", "md");
  ASSERT_TRUE(md.ok()) << md.status();
  const std::vector<std::string> lines = Lines(*md);
  EXPECT_THAT(lines[0], HasSubstr("A: a.json: build abc1234"));
  EXPECT_THAT(lines[1], HasSubstr("B: b.json: build def5678"));
  EXPECT_THAT(Cells(lines[3]), ElementsAre("threads", "t/s A", "t/s B", "B/A"));
  EXPECT_THAT(Cells(lines[5]), ElementsAre("2", fmt::format("{:.2f} ± {:.2f}", a[1].avg_ts, a[1].stddev_ts),
                                           fmt::format("{:.2f} ± {:.2f}", b[0].avg_ts, b[0].stddev_ts),
                                           fmt::format("{:.2f}", b[0].avg_ts / a[1].avg_ts)));
  EXPECT_THAT(*md, HasSubstr("only in A: threads 1"));
  EXPECT_THAT(*md, HasSubstr("only in B: threads 4"));

  const absl::StatusOr<std::string> json = FormatComparison(comparison, a, b, "a.json", "b.json", "json");
  ASSERT_TRUE(json.ok());
  const nlohmann::json parsed = nlohmann::json::parse(*json);
  EXPECT_EQ(parsed["rows"].size(), 3u);
  EXPECT_NEAR(parsed["rows"][1]["speedup"].get<double>(), 1.5, 1e-9);
  EXPECT_TRUE(parsed["rows"][0]["b_avg_ts"].is_null());
  const absl::StatusOr<std::string> csv = FormatComparison(comparison, a, b, "a.json", "b.json", "csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(Lines(*csv)[0], "threads,a_avg_ts,a_stddev_ts,b_avg_ts,b_stddev_ts,speedup");
  EXPECT_FALSE(FormatComparison(comparison, a, b, "a", "b", "html").ok());
}

TEST(CompareTest, TwoPhonesMatchAlthoughTheirDevicesDiffer) {
  std::vector<Row> a = {SampleRow("optimized", "int8", 4), SampleRow("optimized", "fp32", 4)};
  std::vector<Row> b = a;
  for (Row& row : a) row.device = "adb:PIXEL";
  for (Row& row : b) row.device = "adb:GALAXY";
  b.push_back(b[0]);  // a second row for one key: compared once, counted
  const RunComparison comparison = CompareRuns(a, b);
  EXPECT_THAT(comparison.key_columns, ElementsAre("precision"));
  ASSERT_EQ(comparison.rows.size(), 2u);
  for (const ComparedRow& row : comparison.rows) EXPECT_TRUE(row.a != nullptr && row.b != nullptr);
  EXPECT_EQ(comparison.duplicates_b, 1);
  const absl::StatusOr<std::string> md = FormatComparison(comparison, a, b, "pixel.json", "galaxy.json", "md");
  ASSERT_TRUE(md.ok());
  EXPECT_THAT(*md, HasSubstr("adb:PIXEL"));
  EXPECT_THAT(*md, HasSubstr("adb:GALAXY"));
  EXPECT_THAT(*md, HasSubstr("left out: 0 in A, 1 in B"));
}

TEST(OutputTest, CsvHasTheFieldHeaderAndQuotedStrings) {
  const std::vector<Row> rows = {SampleRow("reference", "fp32", 1), SampleRow("optimized", "bf16", 2)};
  const std::vector<std::string> lines = Lines(FormatCsv(rows));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], fmt::format("{}", fmt::join(RowFields(), ",")));
  EXPECT_THAT(lines[0], HasSubstr("model_filename,model_type,model_size,model_n_params,engine,precision"));
  EXPECT_THAT(lines[1], HasSubstr("\"Test CPU, \"\"quoted\"\"\""));
  EXPECT_THAT(lines[1], HasSubstr("\"500000000;510000000;490000000\""));
}

TEST(OutputTest, JsonAndJsonlAreValidAndReadBack) {
  const std::vector<Row> rows = {SampleRow("reference", "fp32", 1), SampleRow("optimized", "int4", 2)};
  const nlohmann::json array = nlohmann::json::parse(FormatJson(rows));
  ASSERT_TRUE(array.is_array());
  ASSERT_EQ(array.size(), 2u);
  for (const nlohmann::json& row : array) {
    for (const std::string& field : RowFields()) EXPECT_TRUE(row.contains(field)) << field;
    EXPECT_EQ(row.size(), RowFields().size());
  }
  EXPECT_EQ(array[1]["precision"], "int4");
  EXPECT_EQ(array[0]["samples_ns"].size(), 3u);

  const std::string jsonl = FormatJsonl(rows);
  for (const std::string& line : Lines(jsonl)) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  for (const std::string& text : {FormatJson(rows), jsonl}) {
    const absl::StatusOr<std::vector<Row>> back = ParseRows(text);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(RowToJson((*back)[i]), RowToJson(rows[i]));
  }
}

TEST(OutputTest, ReadingRowsNamesWhatIsWrong) {
  nlohmann::json row = nlohmann::json::parse(FormatJsonl({SampleRow("optimized", "fp32", 1)}));
  row.erase("avg_ts");
  EXPECT_THAT(std::string(ParseRows(row.dump()).status().message()), HasSubstr("no \"avg_ts\""));
  row = nlohmann::json::parse(FormatJsonl({SampleRow("optimized", "fp32", 1)}));
  row["n_threads"] = "two";
  EXPECT_THAT(std::string(ParseRows(row.dump()).status().message()), HasSubstr("\"n_threads\" has the wrong type"));
  EXPECT_THAT(std::string(ParseRows("{\"a\":\n").status().message()), HasSubstr("line 1"));
  EXPECT_FALSE(FormatRows({}, "xml").ok());
}

TEST(SystemInfoTest, ParsesCpuMasks) {
  EXPECT_THAT(*ParseCpuMask("0x3"), ElementsAre(0, 1));
  EXPECT_THAT(*ParseCpuMask("0X10"), ElementsAre(4));
  EXPECT_THAT(*ParseCpuMask("a"), ElementsAre(1, 3));
  for (const char* bad : {"", "0x", "0", "0x0", "0xg", "3z"}) EXPECT_FALSE(ParseCpuMask(bad).ok()) << bad;
}

TEST(SystemInfoTest, DescribesTheMachine) {
  const SystemInfo info = LocalSystemInfo(NEEDLE_SOURCE_DIR);
  EXPECT_FALSE(info.cpu_info.empty());
  EXPECT_GT(info.n_cpu_cores, 0);
  EXPECT_FALSE(info.build_commit.empty());
  EXPECT_EQ(SourceCommit("/nonexistent-dir"), "unknown");
  EXPECT_GT(PeakRssBytes(), 0);
  EXPECT_THAT(UtcTimestamp(), testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
}

TEST(RunnerTest, PromptTokensAreDeterministicOrdinaryIds) {
  const std::vector<int32_t> tokens = PromptTokens(500, 300, 7);
  EXPECT_EQ(tokens, PromptTokens(500, 300, 7));
  EXPECT_NE(tokens, PromptTokens(500, 300, 8));
  for (int32_t token : tokens) {
    EXPECT_GE(token, 6);
    EXPECT_LT(token, 300);
  }
}

TEST(RunnerTest, RunsEveryRowOfATinyModel) {
  const ModelConfig config = test::SmallConfig();
  const std::string bytes = test::RandomCheckpoint(config, 11);
  const test::TempFile file = test::WriteTempFile(bytes);
  absl::StatusOr<Params> params =
      Parse({"-m", file.path(), "-p", "8", "-n", "4", "-pg", "8,4", "-t", "1,2", "-r", "2", "-P", "fp32,int8"});
  ASSERT_TRUE(params.ok()) << params.status();
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::string> progress;
  const absl::StatusOr<PlanResult> result =
      RunPlan(*params, *plan, LocalSystemInfo(NEEDLE_SOURCE_DIR),
              [&progress](std::string_view line) { progress.emplace_back(line); });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->peer_failures, ::testing::IsEmpty());
  const std::vector<Row>* rows = &result->rows;
  ASSERT_EQ(rows->size(), (1 + 2 * 2) * 3u);
  EXPECT_EQ(progress.size(), rows->size() * 3);  // one warm-up and two repetitions per row
  EXPECT_THAT(progress[0], HasSubstr("row 1/15"));

  for (const Row& row : *rows) {
    SCOPED_TRACE(row.engine + " " + row.precision + " " + row.test);
    EXPECT_EQ(row.runtime, "needle");
    EXPECT_EQ(row.device, "local");
    EXPECT_EQ(row.model_filename, file.path());
    EXPECT_EQ(row.model_size, static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(row.model_n_params, CountParameters(config).total());
    EXPECT_EQ(row.isa.empty(), row.engine == "reference");
    ASSERT_EQ(row.samples_ns.size(), 2u);
    ASSERT_EQ(row.samples_ts.size(), 2u);
    ASSERT_EQ(row.samples_ttft_ms.size(), 2u);
    const int tokens = row.n_prompt + row.n_gen;
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_GT(row.samples_ns[i], 0);
      EXPECT_NEAR(row.samples_ts[i], tokens / (row.samples_ns[i] / 1e9), row.samples_ts[i] * 1e-9);
      EXPECT_GT(row.samples_ttft_ms[i], 0);
    }
    EXPECT_DOUBLE_EQ(row.avg_ts, Mean(row.samples_ts));
    EXPECT_GT(row.peak_rss_bytes, 0);
    EXPECT_EQ(row.repetitions, 2);
    EXPECT_EQ(row.warmup, 1);
    EXPECT_FALSE(row.test_time.empty());
  }
  EXPECT_EQ((*rows)[1].test, "tg4 @ d64");
  EXPECT_EQ((*rows)[1].n_depth, 64);
  EXPECT_EQ((*rows)[2].test, "pp8+tg4");
}

TEST(RunnerTest, StopEndsThePlanKeepingTheRowsSoFar) {
  const test::TempFile file = test::WriteTempFile(test::RandomCheckpoint(test::SmallConfig(), 13));
  absl::StatusOr<Params> params =
      Parse({"-m", file.path(), "-p", "8,16,32", "-n", "0", "-e", "optimized", "-P", "fp32", "-t", "1", "-r", "2"});
  ASSERT_TRUE(params.ok()) << params.status();
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->tests.size(), 3u);
  RunHooks hooks;
  std::vector<std::string> heard;
  hooks.on_row = [&](const Row& row) { heard.push_back(row.test); };
  // Asked before each row and each run: the first row takes 4 asks (itself, 1 warm-up, 2 repetitions).
  int asked = 0;
  hooks.stop = [&] { return ++asked > 4; };
  const absl::StatusOr<PlanResult> result = RunPlan(*params, *plan, SystemInfo{}, hooks);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->rows.size(), 1u);
  EXPECT_EQ(result->rows[0].test, "pp8");
  EXPECT_EQ(result->rows[0].samples_ns.size(), 2u);
  EXPECT_THAT(heard, ElementsAre("pp8"));  // each row was handed over as it finished
  EXPECT_THAT(result->interrupted, HasSubstr("row 2/3"));
}

TEST(RunnerTest, EachRowRunsPinnedToItsMaskAndTheAffinityComesBack) {
  const absl::StatusOr<std::vector<int>> before = CurrentCpus();
  ASSERT_TRUE(before.ok()) << before.status();
  // A mask of one CPU this process may already use, so that pinning cannot fail.
  const int cpu = before->back();
  const std::string mask = fmt::format("{:#x}", uint64_t{1} << cpu);
  const test::TempFile file = test::WriteTempFile(test::RandomCheckpoint(test::SmallConfig(), 14));
  absl::StatusOr<Params> params = Parse(
      {"-m", file.path(), "-p", "8", "-n", "0", "-e", "optimized", "-P", "fp32", "-t", "1", "-r", "1", "-C", mask});
  ASSERT_TRUE(params.ok()) << params.status();
  params->cpu_masks.push_back("");  // and once unpinned
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::vector<int>> pinned_to;
  RunHooks hooks;
  hooks.on_row = [&](const Row&) { pinned_to.push_back(CurrentCpus().value_or(std::vector<int>{})); };
  const absl::StatusOr<PlanResult> result = RunPlan(*params, *plan, SystemInfo{}, hooks);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->rows.size(), 2u);
  EXPECT_EQ(result->rows[0].cpu_mask, mask);
  EXPECT_EQ(result->rows[1].cpu_mask, "");
  EXPECT_THAT(pinned_to, ElementsAre(std::vector<int>{cpu}, *before));
  EXPECT_EQ(CurrentCpus().value_or(std::vector<int>{}), *before);
}

TEST(RunnerTest, TheEstimateCountsRunsAndDelays) {
  const test::TempFile file = test::WriteTempFile(test::RandomCheckpoint(test::SmallConfig(), 15));
  const auto estimate = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"-m", file.path(), "-p", "8,16", "-n", "4", "-e", "optimized", "-t", "1"};
    all.insert(all.end(), args.begin(), args.end());
    absl::StatusOr<Params> params = Parse(all);
    EXPECT_TRUE(params.ok()) << params.status();
    const absl::StatusOr<Plan> plan = ExpandPlan(*params);
    EXPECT_TRUE(plan.ok()) << plan.status();
    const absl::StatusOr<double> seconds = EstimatePlanSeconds(*params, *plan);
    EXPECT_TRUE(seconds.ok()) << seconds.status();
    return seconds.value_or(-1);
  };
  const double base = estimate({"-P", "fp32", "-r", "1", "--warmup", "0"});
  EXPECT_GT(base, 0);
  EXPECT_GT(estimate({"-P", "fp32", "-r", "5", "--warmup", "0"}), base);
  EXPECT_GT(estimate({"-P", "fp32,int8", "-r", "1", "--warmup", "0"}), base);
  // 3 rows, so two delays between them.
  EXPECT_NEAR(estimate({"-P", "fp32", "-r", "1", "--warmup", "0", "--delay", "10"}), base + 20, 1e-6);
  absl::StatusOr<Params> missing = Parse({"-m", "/nonexistent.safetensors", "-t", "1"});
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(EstimatePlanSeconds(*missing, *ExpandPlan(*missing)).ok());
}

TEST(RunnerTest, ABadModelFileIsAnErrorNamingIt) {
  absl::StatusOr<Params> params = Parse({"-m", "/nonexistent/model.safetensors", "-t", "1"});
  ASSERT_TRUE(params.ok());
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok());
  const absl::StatusOr<PlanResult> result = RunPlan(*params, *plan, SystemInfo{});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("/nonexistent/model.safetensors"));
}

TEST(RunnerTest, AFailingPeerLosesItsRowAndTheOthersStay) {
  const test::TempFile file = test::WriteTempFile(test::RandomCheckpoint(test::SmallConfig(), 12));
  absl::StatusOr<Params> params = Parse({"-m", file.path(), "-p", "8", "-n", "0", "-t", "1", "-r", "1", "--peer",
                                         "broken=echo peer exploded >&2; exit 2"});
  ASSERT_TRUE(params.ok()) << params.status();
  const absl::StatusOr<Plan> plan = ExpandPlan(*params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const absl::StatusOr<PlanResult> result = RunPlan(*params, *plan, SystemInfo{});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->rows.size(), plan->tests.size() - 1);
  for (const Row& row : result->rows) EXPECT_EQ(row.runtime, "needle");
  ASSERT_EQ(result->peer_failures.size(), 1u);
  EXPECT_THAT(std::string(result->peer_failures[0].message()), HasSubstr("broken"));
  EXPECT_THAT(std::string(result->peer_failures[0].message()), HasSubstr("peer exploded"));
}

TEST(ParamsTest, ParsesDepthsPeersDevicesAndInputs) {
  absl::StatusOr<Params> params =
      Parse({"-d",       "64,1024", "--peer",   "pytorch",  "--peer",          "mine=./run.sh --fast",
             "--device", "local",   "--device", "adb:R58M", "--farm",          "farm.json",
             "--input",  "a.json",  "--input",  "b.jsonl",  "--timeout",       "30",
             "-o",       "html",    "--adb",    "/opt/adb", "--device-binary", "nb"});
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(params->n_depth, ElementsAre(64, 1024));
  EXPECT_THAT(params->peers, ElementsAre("pytorch", "mine=./run.sh --fast"));
  EXPECT_THAT(params->devices, ElementsAre("local", "adb:R58M"));
  EXPECT_EQ(params->farm, "farm.json");
  EXPECT_THAT(params->inputs, ElementsAre("a.json", "b.jsonl"));
  EXPECT_EQ(params->timeout_seconds, 30);
  EXPECT_EQ(params->output, "html");
  EXPECT_EQ(params->adb, "/opt/adb");
  EXPECT_EQ(params->device_binary, "nb");

  EXPECT_THAT(std::string(Parse({"--device", "phone"}).status().message()), HasSubstr("neither local nor adb:SERIAL"));
  EXPECT_THAT(std::string(Parse({"--device", "adb:"}).status().message()), HasSubstr("adb:SERIAL"));
  EXPECT_THAT(std::string(Parse({"--timeout", "0"}).status().message()), HasSubstr("outside"));
  EXPECT_THAT(std::string(Parse({"-d", "0"}).status().message()), HasSubstr("outside"));
}

TEST(PlanTest, GenerationTestsRunAtEveryDepthAndPeersAtTheirPrecisions) {
  Params params = *Parse({"-p", "0", "-n", "10", "-d", "8,16", "-e", "optimized", "-P", "fp32,int8", "-t", "1,2",
                          "--peer", "pytorch,onnxruntime,mine=./peer.sh,pytorch2-compile"});
  params.peer_dir = "/src/bench/peers";
  absl::StatusOr<Plan> plan = ExpandPlan(params);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->peers.size(), 4u);
  EXPECT_THAT(plan->peers[0].command, ElementsAre("/usr/bin/python3", "/src/bench/peers/pytorch_peer.py"));
  EXPECT_THAT(plan->peers[2].command, ElementsAre("/bin/sh", "-c", "./peer.sh \"$@\"", "mine"));
  EXPECT_THAT(plan->peers[3].command,
              ElementsAre("/usr/bin/python3", "/src/bench/peers/pytorch_peer.py", "--pypi", "--compile"));
  std::vector<std::string> ours, peers;
  for (const TestSpec& test : plan->tests) {
    const std::string line = StrCat(test.engine, " ", test.precision, " ", test.threads, " ", test.TestName());
    (test.peer >= 0 ? peers : ours).push_back(line);
  }
  EXPECT_EQ(ours.size(), 8u);  // 2 precisions x 2 threads x 2 depths
  EXPECT_EQ(ours.front(), "optimized fp32 1 tg10 @ d8");
  EXPECT_EQ(ours[1], "optimized fp32 1 tg10 @ d16");
  // Each peer only at fp32 (none runs int8), at both thread counts and depths.
  EXPECT_EQ(peers.size(), 16u);
  EXPECT_EQ(std::count_if(peers.begin(), peers.end(),
                          [](const std::string& line) { return line.find("int8") != std::string::npos; }),
            0);

  Params bf16_only = *Parse({"-e", "optimized", "-P", "bf16", "--peer", "onnxruntime"});
  plan = ExpandPlan(bf16_only);
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->notes, testing::Contains(HasSubstr("peer onnxruntime runs only fp32, w8a8")));
  EXPECT_THAT(std::string(ExpandPlan(*Parse({"--peer", "mystery"})).status().message()),
              HasSubstr("none of pytorch, pytorch2, pytorch2-compile, onnxruntime nor NAME=COMMAND"));
}

TEST(PlanTest, DevicesGetTheSameTests) {
  const Params params = *Parse({"-p", "512", "-n", "32", "-d", "128", "-pg", "64,8", "-r", "3", "--warmup", "0", "-e",
                                "optimized", "-P", "int8", "-t", "4"});
  EXPECT_THAT(DeviceArgs(params), ElementsAre("-p", "512", "-n", "32", "-d", "128", "-r", "3", "--warmup", "0", "-e",
                                              "optimized", "-P", "int8", "-pg", "64,8"));
}

Row PeerRow(const std::string& runtime, const std::string& engine, double ts) {
  Row row = SampleRow(engine, "fp32", 1);
  row.runtime = runtime;
  row.isa = "";
  row.samples_ts = {ts, ts};
  row.samples_ns = {1, 1};
  row.samples_ttft_ms = {1, 1};
  Summarize(row);
  return row;
}

TEST(OutputTest, RatiosAgainstTheReferenceAndAgainstPeers) {
  const std::vector<Row> rows = {PeerRow("needle", "reference", 100), PeerRow("needle", "optimized", 2500),
                                 PeerRow("onnxruntime 1.30.0", "onnxruntime", 1000),
                                 PeerRow("pytorch 2.9.1", "pytorch-eager", 400)};
  const std::vector<std::string> lines = Lines(FormatMarkdown(rows));
  const std::vector<std::string> header = Cells(lines[0]);
  const size_t ratio = std::find(header.begin(), header.end(), "x ref") - header.begin();
  ASSERT_LT(ratio, header.size());
  EXPECT_EQ(Cells(lines[2])[ratio], "1.00");
  EXPECT_EQ(Cells(lines[3])[ratio], "25.00");
  EXPECT_EQ(Cells(lines[4])[ratio], "10.00");
  // Our fastest fp32 row against the strongest fp32 peer; the reference gets no line of its own.
  EXPECT_THAT(lines, testing::Contains("pp1024, 1 thread: optimized fp32 2500 t/s = 2.50x onnxruntime fp32 "
                                       "(onnxruntime 1.30.0) (1000 t/s), the strongest of 2 fp32 peers"));
  EXPECT_THAT(lines, testing::Not(testing::Contains(HasSubstr("reference fp32 100 t/s ="))));
}

TEST(OutputTest, EachPrecisionIsHeldAgainstTheStrongestPeerAtThatPrecision) {
  Row int8_peer = PeerRow("onnxruntime 1.30.0", "onnxruntime", 2000);
  int8_peer.precision = "w8a8";
  Row ours_w8a8 = PeerRow("needle", "optimized", 5000);
  ours_w8a8.precision = "w8a8";
  Row ours_w4a8 = PeerRow("needle", "optimized", 4000);
  ours_w4a8.precision = "w4a8";
  const std::vector<Row> rows = {PeerRow("needle", "optimized", 2500), ours_w8a8, ours_w4a8,
                                 PeerRow("onnxruntime 1.30.0", "onnxruntime", 3000), int8_peer};
  const std::vector<std::string> lines = PeerComparisons(rows);
  EXPECT_THAT(lines, ElementsAre("pp1024, 1 thread: optimized fp32 2500 t/s = 0.83x onnxruntime fp32 (onnxruntime "
                                 "1.30.0) (3000 t/s), the strongest of 1 fp32 peer",
                                 "pp1024, 1 thread: optimized w8a8 5000 t/s = 2.50x onnxruntime w8a8 (onnxruntime "
                                 "1.30.0) (2000 t/s), the strongest of 1 w8a8 peer",
                                 "pp1024, 1 thread: optimized w4a8 4000 t/s = 1.33x onnxruntime fp32 (onnxruntime "
                                 "1.30.0) (3000 t/s), no w4a8 peer ran: the strongest of 2 peers at any precision"));
}

TEST(OutputTest, HtmlHasTheTableAndAChartOfSpeedAgainstThreads) {
  const std::vector<Row> rows = {SampleRow("reference", "fp32", 1), SampleRow("optimized", "int8", 1),
                                 SampleRow("optimized", "int8", 2)};
  absl::StatusOr<std::string> html = FormatRows(rows, "html");
  ASSERT_TRUE(html.ok());
  EXPECT_THAT(*html, HasSubstr("<table class=\"rows\">"));
  EXPECT_THAT(*html, HasSubstr("<td>reference</td>"));
  EXPECT_THAT(*html, HasSubstr("<svg class=\"chart bar-chart\""));
  EXPECT_THAT(*html, HasSubstr("data-series=\"optimized int8\" data-category=\"2 threads\""));
  EXPECT_THAT(*html, HasSubstr("Test CPU, &quot;quoted&quot;"));  // escaped
  // One bar per (series, thread count): reference at 1 and 2 threads (0 where absent), int8 at both.
  size_t bars = 0;
  for (size_t at = html->find("class=\"bar\""); at != std::string::npos; at = html->find("class=\"bar\"", at + 1))
    ++bars;
  EXPECT_EQ(bars, 4u);
}

TEST(OutputTest, HtmlStatesSharedSettingsOnceAndFitsThePage) {
  const std::vector<Row> rows = {SampleRow("optimized", "fp32", 1), SampleRow("optimized", "int8", 1)};
  const std::string html = FormatHtml(rows);
  // Model, size, params, engine, threads, isa and test are the same in both rows: said once, not as columns.
  EXPECT_THAT(html, HasSubstr("<p class=\"constants\">Every row: <b>model</b> needle26m.safetensors; "
                              "<b>size</b> 100.39 MiB; <b>params</b> 26.32 M; <b>engine</b> optimized; "
                              "<b>threads</b> 1; <b>isa</b> avx512; <b>test</b> pp1024</p>"));
  const std::string table = html.substr(html.find("<table"), html.find("</table>") - html.find("<table"));
  EXPECT_THAT(table, HasSubstr("<th>precision</th>"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("<th>model</th>")));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("<th>engine</th>")));
  EXPECT_THAT(table, HasSubstr("<th>t/s</th>"));  // results stay, even when equal
  EXPECT_THAT(html, HasSubstr("max-width:100%"));
  EXPECT_THAT(html, HasSubstr("overflow-wrap:anywhere"));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("Devices side by side")));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("log scale")));
}

TEST(OutputTest, HtmlUsesALogScaleAcrossDecadesAndPutsDevicesSideBySide) {
  TestSpec spec;
  spec.model = "/tmp/models/needle26m.safetensors";
  spec.engine = "optimized";
  spec.precision = "fp32";
  spec.threads = 1;
  spec.n_prompt = 1024;
  Row fast = test::MeasuredRow(spec, {0.002, 0.002});  // 512000 t/s
  spec.engine = "reference";
  Row slow = test::MeasuredRow(spec, {2.0, 2.0});  // 512 t/s: a thousand times slower
  Row phone = fast;
  phone.device = "adb:R58M";
  phone.device_model = "Galaxy S23";
  const std::string html = FormatHtml({slow, fast, phone});
  EXPECT_THAT(html, HasSubstr("tokens per second (log scale)"));
  // Ticks at the powers of ten from below the slowest to above the fastest.
  for (const char* tick : {">100</text>", ">1000</text>", ">10000</text>", ">100000</text>", ">1e+06</text>"}) {
    EXPECT_THAT(html, HasSubstr(tick));
  }
  EXPECT_THAT(html, HasSubstr("<h2>Devices side by side</h2>"));
  EXPECT_THAT(html, HasSubstr("data-series=\"optimized fp32, 1 thread\" data-category=\"adb:R58M (Galaxy S23)\""));
  EXPECT_THAT(html, HasSubstr("data-series=\"optimized fp32, 1 thread\" data-category=\"local\""));
}

TEST(SubprocessTest, CapturesOutputAndExitAndKillsWhatOverstays) {
  absl::StatusOr<CommandResult> result =
      RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(30));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->out, "out\n");
  EXPECT_EQ(result->err, "err\n");
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->Describe(), "exited with status 3: err");
  EXPECT_EQ(RunCommand({"/nonexistent/program"}, std::chrono::seconds(5)).status().code(), absl::StatusCode::kNotFound);
  const absl::StatusOr<CommandResult> slow = RunCommand({"/bin/sh", "-c", "sleep 30"}, std::chrono::milliseconds(200));
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(slow.status().message()), HasSubstr("did not finish within 0.2 s"));
  EXPECT_EQ(ShellJoin({"a", "b c", "it's"}), "a 'b c' 'it'\\''s'");
}

// A peer that answers with `reply` whatever it is asked.
Peer ScriptedPeer(const std::string& reply) {
  return Peer{"scripted", {"/bin/sh", "-c", StrCat("printf '%s' '", reply, "'"), "scripted"}, {"fp32"}};
}

TEST(RunnerTest, APeerCommandFillsARowFromItsReply) {
  TestSpec spec;
  spec.model = "/models/m.safetensors";
  spec.engine = "scripted";
  spec.precision = "fp32";
  spec.threads = 2;
  spec.n_prompt = 100;
  const std::string good =
      R"({"runtime":"peer 1.0","engine":"peer-eager","precision":"fp32","isa":"avx2",)"
      R"("samples_ns":[50000000,100000000],"samples_ttft_ms":[51.5,101.5],"peak_rss_bytes":1048576})";
  absl::StatusOr<Row> row = RunPeerTest(ScriptedPeer(good), spec, 1, 2, std::chrono::seconds(30));
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->runtime, "peer 1.0");
  EXPECT_EQ(row->engine, "peer-eager");
  EXPECT_EQ(row->isa, "avx2");
  EXPECT_EQ(row->test, "pp100");
  EXPECT_EQ(row->n_threads, 2);
  EXPECT_THAT(row->samples_ts, ElementsAre(2000.0, 1000.0));
  EXPECT_DOUBLE_EQ(row->avg_ts, 1500.0);
  EXPECT_DOUBLE_EQ(row->avg_ttft_ms, 76.5);
  EXPECT_EQ(row->peak_rss_bytes, 1048576);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not json", "its stdout is not one JSON object"},
      {R"({"runtime":"p","engine":"e","precision":"fp32","samples_ns":[1],"samples_ttft_ms":[1],"peak_rss_bytes":1})",
       "it reported 1 times and 1 TTFTs for 2 repetitions"},
      {R"({"runtime":"p","engine":"e","precision":"bf16","samples_ns":[1,1],"samples_ttft_ms":[1,1],"peak_rss_bytes":1})",
       "it ran bf16, not fp32"},
      {R"({"runtime":"p","engine":"e","precision":"fp32","samples_ns":[1,0],"samples_ttft_ms":[1,1],"peak_rss_bytes":1})",
       "a time is not positive"},
      {R"({"runtime":"p","precision":"fp32","samples_ns":[1,1],"samples_ttft_ms":[1,1],"peak_rss_bytes":1})",
       "its reply has no \"engine\""},
      {R"({"runtime":"p","engine":"e","precision":"fp32","samples_ns":"fast","samples_ttft_ms":[1,1],"peak_rss_bytes":1})",
       "its \"samples_ns\" has the wrong type"},
  };
  for (const auto& [reply, why] : bad) {
    absl::StatusOr<Row> refused = RunPeerTest(ScriptedPeer(reply), spec, 0, 2, std::chrono::seconds(30));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(why)) << reply;
  }
  const Peer failing{"failing", {"/bin/sh", "-c", "echo 'onnxruntime is not installed' >&2; exit 2"}, {"fp32"}};
  EXPECT_THAT(std::string(RunPeerTest(failing, spec, 0, 2, std::chrono::seconds(30)).status().message()),
              HasSubstr("peer failing exited with status 2: onnxruntime is not installed"));
}

}  // namespace
}  // namespace needle::bench
