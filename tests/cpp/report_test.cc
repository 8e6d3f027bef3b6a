#include <algorithm>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/evals/runner.h"
#include "needle/reports/eval_report.h"
#include "needle/reports/svg_chart.h"

namespace needle::reports {
namespace {

using evals::Dataset;
using evals::EvalItem;
using evals::ItemResult;
using testing::HasSubstr;

EvalItem Item(const std::string& id, const std::string& category, bool expects_call) {
  EvalItem item;
  item.id = id;
  item.category = category;
  item.call_type = expects_call ? "single" : "none";
  item.query = "q " + id;
  item.tools = {toolcalls::ToolSchema{"ping", "", {}}};
  if (expects_call) item.answers = {evals::ExpectedCall{"ping", {}}};
  return item;
}

// Two systems on four items: "good" right on all, "bad" right only on the
// item that expects no call (it never calls), one request of "bad" failed.
struct Fixture {
  Dataset dataset;
  std::vector<ItemResult> results;
  EvalReport report;

  Fixture() {
    dataset.name = "toy";
    dataset.items = {Item("a", "kitchen", true), Item("b", "kitchen", true), Item("c", "garden", true),
                     Item("d", "garden", false)};
    dataset.errors = {{"toy.jsonl", 7, "bad"}};
    for (int system = 0; system < 2; ++system) {
      for (int i = 0; i < 4; ++i) {
        absl::StatusOr<evals::Prediction> prediction = evals::Prediction{};
        const bool calls = system == 0 && dataset.items[i].call_type == "single";
        if (system == 1 && i == 0) {
          prediction = absl::UnavailableError("refused");
        } else {
          prediction->text = calls ? R"([{"name":"ping","arguments":{}}])" : "[]";
          prediction->latency_ms = system == 0 ? 10 * (i + 1) : 1;
          prediction->ttft_ms = system == 0 ? 5 : -1;
        }
        ItemResult result = evals::ScorePrediction(dataset.items[i], prediction);
        result.system = system;
        result.item = i;
        results.push_back(std::move(result));
      }
    }
    report = BuildEvalReport({"good", "bad"}, {dataset}, results);
    report.created_utc = "2026-01-01T00:00:00Z";
    report.build_commit = "abc123";
    report.host = "test CPU";
  }
};

TEST(EvalReportTest, AggregatesPerSystemCategoryAndCallType) {
  const Fixture f;
  ASSERT_EQ(f.report.results.size(), 2u);
  const SystemDatasetResult& good = f.report.results[0];
  const SystemDatasetResult& bad = f.report.results[1];
  EXPECT_EQ(good.overall.items, 4);
  EXPECT_EQ(good.overall.bfcl_accuracy.successes, 4);
  EXPECT_EQ(bad.overall.bfcl_accuracy.successes, 1);
  ASSERT_EQ(good.by_category.size(), 2u);
  EXPECT_EQ(good.by_category[0].group, "garden");
  EXPECT_EQ(good.by_category[0].metrics.items, 2);
  ASSERT_EQ(bad.by_call_type.size(), 2u);
  EXPECT_EQ(bad.by_call_type[0].group, "none");
  EXPECT_EQ(bad.by_call_type[0].metrics.bfcl_accuracy.successes, 1);

  EXPECT_EQ(good.latency.requests, 4);
  EXPECT_DOUBLE_EQ(good.latency.p50_ms, 25);
  EXPECT_DOUBLE_EQ(good.latency.ttft_p50_ms, 5);
  EXPECT_EQ(bad.latency.failed_requests, 1);
  EXPECT_DOUBLE_EQ(bad.latency.ttft_p50_ms, -1);

  ASSERT_EQ(f.report.comparisons.size(), 2u);
  const Comparison& c = f.report.comparisons[0];
  EXPECT_EQ(c.metric, "bfcl_accuracy");
  EXPECT_EQ(c.test.only_a, 3);
  EXPECT_EQ(c.test.only_b, 0);
  EXPECT_EQ(c.test.both, 1);
  EXPECT_DOUBLE_EQ(c.test.difference, 0.75);
}

TEST(EvalReportTest, ToolCountBucketsNameTheirRange) {
  EXPECT_EQ(ToolCountBucket(0), "0 tools");
  EXPECT_EQ(ToolCountBucket(1), "1 tool");
  EXPECT_EQ(ToolCountBucket(2), "2-3 tools");
  EXPECT_EQ(ToolCountBucket(3), "2-3 tools");
  EXPECT_EQ(ToolCountBucket(4), "4-6 tools");
  EXPECT_EQ(ToolCountBucket(7), "7-10 tools");
  EXPECT_EQ(ToolCountBucket(10), "7-10 tools");
  EXPECT_EQ(ToolCountBucket(11), "11+ tools");
  EXPECT_EQ(ToolCountBucket(400), "11+ tools");
}

// A system that calls when offered few tools and abstains when offered many:
// right on short lists that expect a call and on long ones that expect none.
// The tool-count groups show it, split by the answer expected and in order of
// size (not of label: "11+" sorts before "2-3" as text).
TEST(EvalReportTest, GroupsByToolCountAndExpectedCall) {
  Dataset dataset;
  dataset.name = "lengths";
  std::vector<ItemResult> results;
  for (int tools : {11, 2, 1, 5, 3, 2, 11}) {
    EvalItem item = Item(absl::StrCat("n", tools, "-", dataset.items.size()), "kitchen", dataset.items.size() < 5);
    item.tools.assign(tools, toolcalls::ToolSchema{"ping", "", {}});
    dataset.items.push_back(item);
  }
  for (size_t i = 0; i < dataset.items.size(); ++i) {
    absl::StatusOr<evals::Prediction> prediction = evals::Prediction{};
    prediction->text = dataset.items[i].tools.size() <= 3 ? R"([{"name":"ping","arguments":{}}])" : "[]";
    ItemResult result = evals::ScorePrediction(dataset.items[i], prediction);
    result.item = static_cast<int>(i);
    results.push_back(std::move(result));
  }
  const EvalReport report = BuildEvalReport({"short-sighted"}, {dataset}, results);
  std::vector<std::string> labels;
  std::vector<int> items, right;
  for (const GroupMetrics& group : report.results.at(0).by_tool_count) {
    labels.push_back(group.group);
    items.push_back(group.metrics.items);
    right.push_back(group.metrics.exact_match.successes);
  }
  EXPECT_THAT(labels, testing::ElementsAre("1 tool, call", "2-3 tools, call", "2-3 tools, no call", "4-6 tools, call",
                                           "11+ tools, call", "11+ tools, no call"));
  EXPECT_THAT(items, testing::ElementsAre(1, 2, 1, 1, 1, 1));
  EXPECT_THAT(right, testing::ElementsAre(1, 2, 0, 0, 0, 1));
  const std::string md = RenderMarkdown(report);
  EXPECT_THAT(md, HasSubstr("| 2-3 tools, call | 2 | 100.0% | 100.0% |"));
  EXPECT_LT(md.find("| 4-6 tools, call |"), md.find("| 11+ tools, call |"));
  EXPECT_EQ(ReportToJson(report)["results"][0]["by_tool_count"]["11+ tools, no call"]["items"], 1);
}

TEST(EvalReportTest, MarkdownShowsEveryTable) {
  const Fixture f;
  const std::string md = RenderMarkdown(f.report);
  EXPECT_THAT(md, HasSubstr("| toy | 4 | 1 |"));  // datasets: items, skipped records
  EXPECT_THAT(md, HasSubstr("| good | toy | 4 | 100.0% ["));
  EXPECT_THAT(md, HasSubstr("| bad | toy | 4 | 25.0% ["));
  // Garden has an item that expects no call: a parse rate stands beside its accuracies, not kitchen's.
  EXPECT_THAT(md,
              HasSubstr("| category | n | good BFCL | good exact | good parse | bad BFCL | bad exact | bad parse |"));
  EXPECT_THAT(md, HasSubstr("| kitchen | 2 | 100.0% | 100.0% |  | 0.0% | 0.0% |  |"));
  EXPECT_THAT(md, HasSubstr("| garden | 2 | 100.0% | 100.0% | 100.0% | 50.0% | 50.0% | 100.0% |"));
  EXPECT_THAT(md, HasSubstr("| toy | good | bad | bfcl_accuracy | +75.0 ["));
  // Every table row has as many cells as its header.
  std::istringstream lines(md);
  size_t columns = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '|') {
      columns = 0;
      continue;
    }
    const size_t cells = std::count(line.begin(), line.end(), '|');
    if (columns == 0) columns = cells;
    EXPECT_EQ(cells, columns) << line;
  }
}

TEST(EvalReportTest, JsonHoldsFiguresAndNullsForUnknowns) {
  const Fixture f;
  const nlohmann::ordered_json json = ReportToJson(f.report);
  EXPECT_EQ(json["systems"], nlohmann::ordered_json({"good", "bad"}));
  EXPECT_EQ(json["datasets"][0]["bad_records"], 1);
  const auto& good = json["results"][0];
  EXPECT_EQ(good["overall"]["bfcl_accuracy"]["successes"], 4);
  EXPECT_EQ(good["by_category"]["kitchen"]["items"], 2);
  EXPECT_EQ(good["latency_ms"]["p50"], 25.0);
  EXPECT_TRUE(json["results"][1]["latency_ms"]["ttft_p50"].is_null());
  EXPECT_EQ(json["comparisons"].size(), 2u);
  EXPECT_LT(json["comparisons"][0]["mcnemar_p"].get<double>(), 1.0);
}

TEST(EvalReportTest, HtmlIsSelfContainedWithCharts) {
  const Fixture f;
  const std::string html = RenderHtml(f.report);
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);  // nothing loaded from elsewhere
  const std::regex chart("<svg class=\"chart ");
  const auto charts = std::distance(std::sregex_iterator(html.begin(), html.end(), chart), std::sregex_iterator());
  EXPECT_EQ(charts, 4);  // accuracy vs latency, per category, per call type, per number of tools
  // One bar per system and category.
  EXPECT_THAT(html, HasSubstr(R"(data-series="good" data-category="kitchen" data-value="1.0000")"));
  EXPECT_THAT(html, HasSubstr(R"(data-series="bad" data-category="kitchen" data-value="0.0000")"));
  EXPECT_THAT(html, HasSubstr(R"(<circle class="point" data-series="good")"));
}

// BFCL's irrelevance file: one category, every item expects no call. A
// system that writes nothing readable passes them all, which only the parse
// rate beside the accuracy gives away; and the three groupings, each one
// group, are one chart, not three of the same bar.
TEST(EvalReportTest, OneCategoryOfNoCallItemsShowsTheParseRateAndOneChart) {
  Dataset dataset;
  dataset.name = "bfcl_irrelevance";
  dataset.items = {Item("i1", "irrelevance", false), Item("i2", "irrelevance", false)};
  std::vector<ItemResult> results;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<evals::Prediction> prediction = evals::Prediction{};
    prediction->text = "I am sorry, I cannot help with that";
    ItemResult result = evals::ScorePrediction(dataset.items[i], prediction);
    result.item = i;
    results.push_back(std::move(result));
  }
  const EvalReport report = BuildEvalReport({"mute"}, {dataset}, results);
  const GroupMetrics& group = report.results.at(0).by_category.at(0);
  EXPECT_EQ(group.no_call_items, 2);
  EXPECT_EQ(group.metrics.bfcl_accuracy.successes, 2);  // unreadable output read as "no call"
  EXPECT_EQ(group.metrics.parse_rate.successes, 0);
  const std::string md = RenderMarkdown(report);
  EXPECT_THAT(md, HasSubstr("| category | n | mute BFCL | mute exact | mute parse |"));
  EXPECT_THAT(md, HasSubstr("| irrelevance | 2 | 100.0% | 0.0% | 0.0% |"));  // upstream exact match: not "[]"
  const std::string html = RenderHtml(report);
  const std::regex chart("<svg class=\"chart ");
  EXPECT_EQ(std::distance(std::sregex_iterator(html.begin(), html.end(), chart), std::sregex_iterator()),
            2);  // accuracy against latency, and one per-group chart
  EXPECT_THAT(html, HasSubstr("BFCL accuracy per category"));
  EXPECT_THAT(html, HasSubstr("<title>mute: irrelevance 100.0%, parse rate 0.0%</title>"));
}

TEST(SvgChartTest, TicksAreRoundNumbers) {
  const auto near = [](std::vector<double> expected) {
    return testing::Pointwise(testing::DoubleNear(1e-12), expected);
  };
  EXPECT_THAT(NiceTicks(1), near({0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_THAT(NiceTicks(7.3), near({0, 2, 4, 6, 8}));
  EXPECT_THAT(NiceTicks(2048), near({0, 500, 1000, 1500, 2000, 2500}));
  EXPECT_THAT(NiceTicks(0.033), near({0, 0.01, 0.02, 0.03, 0.04}));
  EXPECT_THAT(NiceTicks(0), near({0, 0.2, 0.4, 0.6, 0.8, 1}));  // nothing to show: a unit axis
  BarChart chart;
  chart.percent = false;
  chart.y_max = 2048;
  chart.categories = {"1 thread"};
  chart.series = {{"optimized fp32", {2048}, {}, {}}};
  const std::string svg = RenderBarChart(chart);
  const std::regex tick(R"(<text class="tick"[^>]*>([^<]*)</text>)");
  std::vector<std::string> ticks;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator(); ++it) {
    ticks.push_back((*it)[1]);
  }
  EXPECT_THAT(ticks, testing::ElementsAre("0", "500", "1000", "1500", "2000", "2500"));
}

TEST(SvgChartTest, TheLegendHoldsLongNamesWhole) {
  const std::string name = "optimized w8a8 (onnxruntime 1.30.0 on a phone with a long name)";
  BarChart chart;
  chart.categories = {"a"};
  chart.series = {{name, {0.5}, {}, {}}};
  const std::string svg = RenderBarChart(chart);
  std::smatch width, legend_x;
  ASSERT_TRUE(std::regex_search(svg, width, std::regex(R"re(width="(\d+)" height)re")));
  const std::string escaped = EscapeHtml(name);
  const std::string name_pattern = std::regex_replace(escaped, std::regex(R"re([().])re"), R"re(\$&)re");
  ASSERT_TRUE(std::regex_search(svg, legend_x,
                                std::regex(R"re(<text x="([\d.]+)" y="[\d.]+" font-size="12">)re" + name_pattern)));
  // At 0.6 em a glyph (generous for sans-serif), the name ends inside the picture.
  EXPECT_GE(std::stod(width[1]), std::stod(legend_x[1]) + 0.6 * 12 * static_cast<double>(name.size()));
}

TEST(SvgChartTest, ScatterLabelsDoNotOverlap) {
  ScatterChart chart;
  chart.log_x = true;
  // Five systems at nearly the same spot, as a report of close runs has them.
  for (int i = 0; i < 5; ++i) {
    chart.points.push_back({absl::StrCat("system-", i), "needle15-test", 100.0 + i, 0.5 + 0.001 * i});
  }
  const std::string svg = RenderScatterChart(chart);
  struct Box {
    double left, top, right, bottom;
  };
  std::vector<Box> boxes;
  const std::regex label(R"re(<text class="point-label" x="([\d.-]+)" y="([\d.-]+)" font-size="10">([^<]*)</text>)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), label); it != std::sregex_iterator(); ++it) {
    const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
    boxes.push_back({x, y - 8, x + 0.6 * 10 * static_cast<double>((*it)[3].length()), y + 2});
  }
  const std::regex numbered(R"(<text class="point-key"[^>]*>(\d+): needle15-test</text>)");
  const auto keyed = std::distance(std::sregex_iterator(svg.begin(), svg.end(), numbered), std::sregex_iterator());
  EXPECT_EQ(boxes.size() + static_cast<size_t>(keyed), 5u);  // every label shown, beside its point or in the key
  EXPECT_GE(boxes.size(), 2u);
  for (size_t a = 0; a < boxes.size(); ++a) {
    for (size_t b = a + 1; b < boxes.size(); ++b) {
      const bool overlap = boxes[a].left < boxes[b].right && boxes[b].left < boxes[a].right &&
                           boxes[a].top < boxes[b].bottom && boxes[b].top < boxes[a].bottom;
      EXPECT_FALSE(overlap) << a << " and " << b;
    }
  }
}

TEST(SvgChartTest, EscapesNamesFromTheCommandLine) {
  BarChart chart;
  chart.title = "a<b & \"c\"";
  chart.categories = {"<cat>"};
  chart.series = {{"sys'1", {0.5}, {}, {}}};
  const std::string svg = RenderBarChart(chart);
  EXPECT_THAT(svg, HasSubstr("a&lt;b &amp; &quot;c&quot;"));
  EXPECT_THAT(svg, HasSubstr("&lt;cat&gt;"));
  EXPECT_THAT(svg, HasSubstr("sys&#39;1"));
  EXPECT_EQ(svg.find("<cat>"), std::string::npos);
}

TEST(EvalReportTest, PredictionRecordTracesAnItem) {
  const Fixture f;
  const nlohmann::ordered_json failed = PredictionRecord("bad", f.dataset, f.results[4]);
  EXPECT_EQ(failed["id"], "a");
  EXPECT_EQ(failed["request_error"], "refused");
  EXPECT_EQ(failed["parsed"], false);
  const nlohmann::ordered_json good = PredictionRecord("good", f.dataset, f.results[0]);
  EXPECT_TRUE(good["request_error"].is_null());
  EXPECT_EQ(good["calls"][0]["name"], "ping");
  EXPECT_EQ(good["bfcl_valid"], true);
  EXPECT_EQ(good["exact_match"], true);
}

}  // namespace
}  // namespace needle::reports
