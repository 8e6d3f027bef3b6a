#include "needle/evals/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "needle/tools.h"

namespace needle::evals {

using toolcalls::ParamSchema;

namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

const std::string kData = NEEDLE_SOURCE_DIR "/tests/data/evals/";
const std::string kBfcl = NEEDLE_SOURCE_DIR "/../shared/datasets/bfcl/";

// (file name, line) of every error, in the order reported.
std::vector<std::pair<std::string, int>> ErrorLines(const Dataset& dataset) {
  std::vector<std::pair<std::string, int>> lines;
  for (const DatasetError& error : dataset.errors) {
    lines.emplace_back(std::filesystem::path(error.file).filename().string(), error.line);
  }
  return lines;
}

std::string ErrorAt(const Dataset& dataset, const std::string& file_name, int line) {
  for (const DatasetError& error : dataset.errors) {
    if (std::filesystem::path(error.file).filename() == file_name && error.line == line) return error.message;
  }
  return "<no error at " + file_name + ":" + std::to_string(line) + ">";
}

const EvalItem* FindItem(const Dataset& dataset, const std::string& id) {
  for (const EvalItem& item : dataset.items) {
    if (item.id == id) return &item;
  }
  return nullptr;
}

std::vector<std::string> Ids(const Dataset& dataset) {
  std::vector<std::string> ids;
  for (const EvalItem& item : dataset.items) ids.push_back(item.id);
  return ids;
}

absl::StatusOr<Dataset> LoadBfcl(const std::string& file) { return LoadDataset(kBfcl + file); }

#define SKIP_WITHOUT_BFCL(file) \
  if (!std::filesystem::exists(kBfcl + file)) GTEST_SKIP() << "shared BFCL data missing: " << kBfcl << file

TEST(BfclDataset, SimplePythonLoadsAllItems) {
  SKIP_WITHOUT_BFCL("BFCL_v4_simple_python.json");
  absl::StatusOr<Dataset> dataset = LoadBfcl("BFCL_v4_simple_python.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "bfcl_simple_python");
  EXPECT_EQ(dataset->items.size(), 400u);
  EXPECT_THAT(ErrorLines(*dataset), IsEmpty());
  for (const EvalItem& item : dataset->items) {
    EXPECT_EQ(item.category, "simple_python");
    EXPECT_EQ(item.call_type, "single") << item.id;
    EXPECT_EQ(item.answers.size(), 1u) << item.id;
    EXPECT_EQ(item.tools.size(), 1u) << item.id;
  }

  const EvalItem& first = dataset->items[0];
  EXPECT_EQ(first.id, "simple_python_0");
  EXPECT_EQ(first.query, "Find the area of a triangle with a base of 10 units and height of 5 units.");
  EXPECT_EQ(first.tools_json,
            R"([{"name":"calculate_triangle_area","description":"Calculate the area of a triangle given its base and )"
            R"(height.","parameters":{"base":{"type":"integer","description":"The base of the triangle.","required":)"
            R"(true},"height":{"type":"integer","description":"The height of the triangle.","required":true},"unit":)"
            R"j({"type":"string","description":"The unit of measure (defaults to 'units' if not specified)",)j"
            R"("required":false}}}])");
  ASSERT_EQ(first.tools[0].params.size(), 3u);
  EXPECT_EQ(first.tools[0].name, "calculate_triangle_area");
  EXPECT_EQ(first.tools[0].params[0].name, "base");
  EXPECT_EQ(first.tools[0].params[0].type, "integer");
  EXPECT_TRUE(first.tools[0].params[0].required);
  EXPECT_EQ(first.tools[0].params[2].name, "unit");
  EXPECT_EQ(first.tools[0].params[2].type, "string");
  EXPECT_FALSE(first.tools[0].params[2].required);
  const ExpectedCall& answer = first.answers[0];
  EXPECT_EQ(answer.name, "calculate_triangle_area");
  ASSERT_EQ(answer.params.size(), 3u);
  EXPECT_EQ(answer.params[0].first, "base");
  EXPECT_THAT(answer.params[0].second, ElementsAre(json(10)));
  EXPECT_EQ(answer.params[1].first, "height");
  EXPECT_EQ(answer.params[2].first, "unit");
  EXPECT_THAT(answer.params[2].second, ElementsAre(json("units"), json("")));

  const EvalItem* factorial = FindItem(*dataset, "simple_python_1");
  ASSERT_NE(factorial, nullptr);
  EXPECT_EQ(factorial->tools[0].name, "math.factorial");
  EXPECT_THAT(factorial->tools_json, HasSubstr(R"("name":"math.factorial")"));
  EXPECT_EQ(factorial->answers[0].name, "math.factorial");
  EXPECT_THAT(factorial->answers[0].params, ElementsAre(Pair("number", ElementsAre(json(5)))));
}

TEST(BfclDataset, SimplePythonKeepsBfclTypes) {
  SKIP_WITHOUT_BFCL("BFCL_v4_simple_python.json");
  absl::StatusOr<Dataset> dataset = LoadBfcl("BFCL_v4_simple_python.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  // simple_python_83: two tuple parameters of floats, prompted as arrays.
  const EvalItem* item = FindItem(*dataset, "simple_python_83");
  ASSERT_NE(item, nullptr);
  bool saw_tuple = false;
  for (const ParamSchema& param : item->tools[0].params) {
    if (param.type != "tuple") continue;
    saw_tuple = true;
    EXPECT_EQ(param.item_type, "float");
    EXPECT_THAT(item->tools_json, HasSubstr("\"" + param.name + "\":{\"type\":\"array\""));
  }
  EXPECT_TRUE(saw_tuple);
}

TEST(BfclDataset, MultipleLoadsAllItems) {
  SKIP_WITHOUT_BFCL("BFCL_v4_multiple.json");
  absl::StatusOr<Dataset> dataset = LoadBfcl("BFCL_v4_multiple.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "bfcl_multiple");
  EXPECT_EQ(dataset->items.size(), 200u);
  EXPECT_THAT(ErrorLines(*dataset), IsEmpty());
  for (const EvalItem& item : dataset->items) {
    EXPECT_EQ(item.call_type, "single") << item.id;
    EXPECT_EQ(item.answers.size(), 1u) << item.id;
    EXPECT_GE(item.tools.size(), 2u) << item.id;
  }
}

TEST(BfclDataset, IrrelevanceHasNoAnswers) {
  SKIP_WITHOUT_BFCL("BFCL_v4_irrelevance.json");
  absl::StatusOr<Dataset> dataset = LoadBfcl("BFCL_v4_irrelevance.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "bfcl_irrelevance");
  EXPECT_EQ(dataset->items.size(), 240u);
  EXPECT_THAT(ErrorLines(*dataset), IsEmpty());
  for (const EvalItem& item : dataset->items) {
    EXPECT_THAT(item.answers, IsEmpty()) << item.id;
    EXPECT_EQ(item.call_type, "none") << item.id;
    EXPECT_EQ(item.category, "irrelevance");
  }
}

TEST(BfclDataset, LiveIrrelevanceLeavesSystemMessagesOut) {
  SKIP_WITHOUT_BFCL("BFCL_v4_live_irrelevance.json");
  absl::StatusOr<Dataset> dataset = LoadBfcl("BFCL_v4_live_irrelevance.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->items.size(), 884u);
  EXPECT_THAT(ErrorLines(*dataset), IsEmpty());
  const EvalItem* item = FindItem(*dataset, "live_irrelevance_103-3-0");  // [system, user "e"]
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->query, "e");
  // Some items offer no function at all.
  EXPECT_TRUE(std::any_of(dataset->items.begin(), dataset->items.end(),
                          [](const EvalItem& item) { return item.tools.empty() && item.tools_json == "[]"; }));
}

TEST(BfclDataset, EngineAcceptsEveryConvertedToolList) {
  for (const char* file : {"BFCL_v4_simple_python.json", "BFCL_v4_multiple.json", "BFCL_v4_irrelevance.json",
                           "BFCL_v4_live_irrelevance.json"}) {
    SKIP_WITHOUT_BFCL(file);
    absl::StatusOr<Dataset> dataset = LoadBfcl(file);
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    for (const EvalItem& item : dataset->items) {
      absl::StatusOr<ToolSet> tools = ToolSet::Parse(item.tools_json);
      ASSERT_TRUE(tools.ok()) << item.id << ": " << tools.status();
      ASSERT_EQ(tools->tools().size(), item.tools.size()) << item.id;
      for (size_t i = 0; i < item.tools.size(); ++i) {
        EXPECT_EQ(tools->tools()[i].name, item.tools[i].name) << item.id;
        EXPECT_EQ(tools->tools()[i].argument_keys.size(), item.tools[i].params.size()) << item.id;
      }
    }
  }
}

TEST(BfclDataset, SmallFileWithEveryKindOfProblem) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "bfcl/BFCL_v4_tiny.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "bfcl_tiny");
  EXPECT_THAT(Ids(*dataset), ElementsAre("tiny_0", "tiny_1", "tiny_5"));
  const std::string q = "BFCL_v4_tiny.json";
  // The answer file has the same name, in possible_answer/: errors name the full path.
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair(q, 3), Pair(q, 4), Pair(q, 5), Pair(q, 8), Pair(q, 9), Pair(q, 10),
                                                Pair(q, 4), Pair(q, 5), Pair(q, 6), Pair(q, 7)));
  EXPECT_THAT(dataset->errors[6].file, HasSubstr("possible_answer/BFCL_v4_tiny.json"));
  EXPECT_THAT(ErrorAt(*dataset, q, 3), HasSubstr("no answer for \"tiny_2\""));
  EXPECT_THAT(dataset->errors[1].message, HasSubstr("invalid JSON"));
  EXPECT_THAT(dataset->errors[2].message, HasSubstr("question[0]: no user message"));
  EXPECT_THAT(dataset->errors[3].message, HasSubstr("no answer for \"tiny_7\""));
  EXPECT_THAT(dataset->errors[4].message, HasSubstr("id: duplicate id \"tiny_0\" (first on line 1)"));
  EXPECT_THAT(dataset->errors[5].message,
              HasSubstr("function[0].parameters.required[0]: \"q\" is not among the properties"));
  EXPECT_THAT(dataset->errors[6].message, HasSubstr("ground_truth[0]: \"geometry.volume\" is not one of"));
  EXPECT_THAT(dataset->errors[7].message,
              HasSubstr("ground_truth[0].geometry.area.base: expected a list of acceptable values, got number"));
  EXPECT_THAT(dataset->errors[8].message, HasSubstr("\"tiny_99\" has no readable question"));
  EXPECT_THAT(dataset->errors[9].message, HasSubstr("\"tiny_4\" has no readable question"));

  const EvalItem& area = *FindItem(*dataset, "tiny_0");
  EXPECT_EQ(area.call_type, "single");
  ASSERT_EQ(area.tools[0].params.size(), 3u);
  EXPECT_EQ(area.tools[0].params[1].type, "float");
  EXPECT_THAT(area.tools[0].params[2].enum_values, ElementsAre(json("cm"), json("m")));
  EXPECT_THAT(area.tools_json, HasSubstr(R"("height":{"type":"number","description":"Height.","required":true})"));
  EXPECT_THAT(area.tools_json,
              HasSubstr(R"("unit":{"type":"string","description":"Unit.","required":false,"enum":["cm","m"]})"));
  EXPECT_THAT(area.answers[0].params[1].second, ElementsAre(json(5.0)));

  const EvalItem& distance = *FindItem(*dataset, "tiny_1");
  EXPECT_EQ(distance.query, "Hi.\nDistance between two points");
  EXPECT_EQ(distance.tools[0].params[0].type, "array");
  EXPECT_EQ(distance.tools[0].params[0].item_type, "tuple");
  EXPECT_EQ(distance.tools[0].params[1].type, "dict");
  EXPECT_FALSE(distance.tools[0].params[1].required);  // the nested "required" list is the dict's own
  EXPECT_THAT(distance.answers[0].params, ElementsAre(Pair("points", ElementsAre(json::parse("[[1,2],[3,4]]")))));

  EXPECT_EQ(FindItem(*dataset, "tiny_5")->call_type, "multi");
}

TEST(BfclDataset, ParallelCategoryWithSeveralCalls) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "bfcl/BFCL_v4_parallel_tiny.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->items.size(), 1u);
  EXPECT_EQ(dataset->items[0].category, "parallel_tiny");
  EXPECT_EQ(dataset->items[0].call_type, "parallel");
  EXPECT_EQ(dataset->items[0].answers.size(), 2u);
}

TEST(BfclDataset, IrrelevanceFileNeedsNoAnswerFile) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "bfcl/BFCL_v4_tiny_irrelevance.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "bfcl_tiny_irrelevance");
  EXPECT_THAT(Ids(*dataset), ElementsAre("irr_0", "irr_1"));
  EXPECT_THAT(dataset->errors, IsEmpty());
  EXPECT_EQ(dataset->items[1].tools_json, "[]");
}

TEST(BfclDataset, MissingAnswerFileIsAnError) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "bfcl/BFCL_v4_no_answers.json");
  ASSERT_FALSE(dataset.ok());
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("possible_answer/BFCL_v4_no_answers.json"));
}

TEST(NeedleDataset, BadRecordsAreReportedAndTheRestLoad) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "needle_mixed.jsonl");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "needle_mixed");
  EXPECT_THAT(Ids(*dataset), ElementsAre("w1", "t1", "n1", "m1"));
  const std::string f = "needle_mixed.jsonl";
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair(f, 4), Pair(f, 5), Pair(f, 6), Pair(f, 7), Pair(f, 8), Pair(f, 9),
                                                Pair(f, 10), Pair(f, 12), Pair(f, 13)));
  EXPECT_THAT(ErrorAt(*dataset, f, 4), HasSubstr("invalid JSON: parse error"));
  EXPECT_EQ(ErrorAt(*dataset, f, 5), "query: missing");
  EXPECT_EQ(ErrorAt(*dataset, f, 6), "query: expected a string, got number");
  EXPECT_THAT(ErrorAt(*dataset, f, 7), HasSubstr("tools[1].parameters.properties.x.type: unknown type \"complex\""));
  EXPECT_EQ(ErrorAt(*dataset, f, 8), "id: duplicate id \"w1\" (first on line 1)");
  EXPECT_EQ(ErrorAt(*dataset, f, 9), "answers[0].name: \"get_forecast\" is not one of the item's tools");
  EXPECT_EQ(ErrorAt(*dataset, f, 10), "expected a JSON object per line, got array");
  EXPECT_EQ(ErrorAt(*dataset, f, 12), "tools: expected a list of tools, got object");
  EXPECT_EQ(ErrorAt(*dataset, f, 13), "answers[0].arguments: expected an object, got array");
}

TEST(NeedleDataset, ReadsFieldsToolsAndAnswers) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "needle_mixed.jsonl");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const EvalItem& weather = *FindItem(*dataset, "w1");
  EXPECT_EQ(weather.category, "weather");
  EXPECT_EQ(weather.call_type, "single");
  EXPECT_EQ(weather.query, "What's the weather in Paris?");
  // Upstream-format tools are prompted exactly as written.
  EXPECT_EQ(weather.tools_json,
            R"([{"name":"get_weather","description":"Get the current weather for a city.","parameters":{"location":)"
            R"({"type":"string","description":"City name","required":true},"unit":{"type":"string","description":)"
            R"("Temperature unit","required":false,"enum":["celsius","fahrenheit"]}}}])");
  EXPECT_TRUE(weather.tools[0].params[0].required);
  EXPECT_THAT(weather.answers[0].params, ElementsAre(Pair("location", ElementsAre(json("Paris")))));

  const EvalItem& multi = *FindItem(*dataset, "t1");
  EXPECT_EQ(multi.call_type, "multi");
  ASSERT_EQ(multi.answers.size(), 2u);
  EXPECT_EQ(multi.answers[1].name, "send_message");
  EXPECT_THAT(multi.tools_json, HasSubstr(R"("parameters":{"minutes":{"type":"integer","description":"Length in )"
                                          R"(minutes","required":true},"label":{"type":"string")"));

  EXPECT_THAT(FindItem(*dataset, "n1")->answers, IsEmpty());

  // OpenAI's {"type":"function","function":{...}} wrapper.
  const EvalItem& music = *FindItem(*dataset, "m1");
  ASSERT_EQ(music.tools.size(), 1u);
  EXPECT_EQ(music.tools[0].name, "play_music");
  EXPECT_EQ(music.tools[0].params[1].type, "float");
  EXPECT_THAT(music.tools_json, HasSubstr(R"("volume":{"type":"number")"));
}

TEST(GenericDataset, HandlesBomCrlfBlankLinesAndNoFinalNewline) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "generic_crlf_bom.jsonl");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "generic_crlf_bom");
  EXPECT_THAT(Ids(*dataset), ElementsAre("generic_crlf_bom_1", "generic_crlf_bom_4", "generic_crlf_bom_5"));
  EXPECT_EQ(dataset->items[0].query, "Set a timer for 10 minutes");
  EXPECT_EQ(dataset->items[0].category, "timers");
  EXPECT_EQ(dataset->items[0].call_type, "single");
  EXPECT_EQ(dataset->items[1].category, "all");
  EXPECT_EQ(dataset->items[1].call_type, "none");
  EXPECT_EQ(dataset->items[2].call_type, "multi");
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair("generic_crlf_bom.jsonl", 6)));
  EXPECT_THAT(dataset->errors[0].message, HasSubstr("answers: missing"));
}

TEST(LoadDataset, PrefixForcesTheFormat) {
  // Needle records have query, tools and answers too; read as generic they keep their ids.
  absl::StatusOr<Dataset> dataset = LoadDataset("generic:" + kData + "needle_mixed.jsonl");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_FALSE(dataset->items.empty());
  EXPECT_EQ(dataset->format, "generic");
  EXPECT_EQ(dataset->items[0].id, "w1");
  EXPECT_EQ(dataset->items[0].category, "weather");

  absl::StatusOr<Dataset> as_bfcl = LoadDataset("bfcl:" + kData + "generic_crlf_bom.jsonl");
  EXPECT_FALSE(as_bfcl.ok());  // no possible_answer file next to it
}

// Found by fuzz/dataset_fuzzer: nlohmann::json throws out_of_range, not
// parse_error, for a number past a double's range.
TEST(LoadDataset, NumberOutOfRangeIsABadRecord) {
  const std::string path = ::testing::TempDir() + "overflow.jsonl";
  {
    std::ofstream file(path, std::ios::binary);
    file << "{\"query\":\"q\",\"tools\":[],\"answers\":[],\"weight\":1e999}\n"
         << "{\"query\":\"fine\",\"tools\":[],\"answers\":[]}\n";
  }
  absl::StatusOr<Dataset> dataset = LoadDataset(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_THAT(Ids(*dataset), ElementsAre("overflow_2"));
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair("overflow.jsonl", 1)));
  EXPECT_THAT(dataset->errors[0].message, HasSubstr("invalid JSON: number overflow"));
  std::filesystem::remove(path);
}

// One deeply nested record crashed the whole run; now it is one bad line.
TEST(LoadDataset, DeeplyNestedRecordIsABadLine) {
  const std::string path = ::testing::TempDir() + "deep.jsonl";
  {
    std::ofstream file(path, std::ios::binary);
    file << R"({"query":"q","tools":[],"answers":[],"x":)" << std::string(200000, '[') << std::string(200000, ']')
         << "}\n"
         << "{\"query\":\"fine\",\"tools\":[],\"answers\":[]}\n";
  }
  absl::StatusOr<Dataset> dataset = LoadDataset(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_THAT(Ids(*dataset), ElementsAre("deep_2"));
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair("deep.jsonl", 1)));
  EXPECT_THAT(dataset->errors[0].message, HasSubstr("invalid JSON: nested deeper than 128 levels"));
  std::filesystem::remove(path);
}

TEST(LoadDataset, BytesThatAreNotUtf8AreABadRecord) {
  const std::string path = ::testing::TempDir() + "not_utf8.jsonl";
  {
    std::ofstream file(path, std::ios::binary);
    file << "{\"query\":\"caf\xFF\",\"tools\":[],\"answers\":[]}\n"
         << "{\"query\":\"fine\",\"tools\":[],\"answers\":[]}\n";
  }
  absl::StatusOr<Dataset> dataset = LoadDataset(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_THAT(Ids(*dataset), ElementsAre("not_utf8_2"));
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair("not_utf8.jsonl", 1)));
  EXPECT_THAT(dataset->errors[0].message, HasSubstr("invalid JSON"));
  std::filesystem::remove(path);
}

TEST(LoadDataset, MissingFileIsAnErrorNamingIt) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "does_not_exist.jsonl");
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("does_not_exist.jsonl"));
}

TEST(LoadDataset, EmptyFileIsAnError) {
  for (const std::string& spec : {kData + "empty.jsonl", "needle:" + kData + "empty.jsonl"}) {
    absl::StatusOr<Dataset> dataset = LoadDataset(spec);
    ASSERT_FALSE(dataset.ok()) << spec;
    EXPECT_THAT(std::string(dataset.status().message()), HasSubstr("empty.jsonl: no readable record"));
  }
}

TEST(LoadDataset, FileWithOnlyBadRecordsIsAnErrorShowingTheFirst) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "all_bad.jsonl");
  ASSERT_FALSE(dataset.ok());
  const std::string message(dataset.status().message());
  EXPECT_THAT(message, HasSubstr("all_bad.jsonl: no readable record (2 bad records"));
  EXPECT_THAT(message, HasSubstr("all_bad.jsonl:1: invalid JSON"));
}

TEST(LoadDataset, UnknownFieldsNeedAPrefix) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "unknown_fields.jsonl");
  ASSERT_FALSE(dataset.ok());
  const std::string message(dataset.status().message());
  EXPECT_THAT(message, HasSubstr("unknown_fields.jsonl:1: cannot tell the dataset format"));
  EXPECT_THAT(message, HasSubstr("text, api_list"));
}

// One record per shape other tool-calling sets use; lines 8-10 cannot be read.
TEST(GenericDataset, ReadsTheShapesOtherSetsUse) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "foreign_shapes.jsonl");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->format, "generic");
  const std::string f = "foreign_shapes.jsonl";
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair(f, 8), Pair(f, 9), Pair(f, 10)));
  EXPECT_EQ(ErrorAt(*dataset, f, 8), "answers: \"get_time\" is not one of the item's tools");
  EXPECT_THAT(ErrorAt(*dataset, f, 9), HasSubstr("correct_answer: unknown label \"maybe\""));
  EXPECT_THAT(ErrorAt(*dataset, f, 10), HasSubstr("tools[0].parameters.z.type: unknown type \"complex\""));
  ASSERT_EQ(dataset->items.size(), 10u);

  // 1: tools and answers as JSON strings, Python type names; a numeric id.
  const EvalItem& xlam = dataset->items[0];
  EXPECT_EQ(xlam.id, "7");
  ASSERT_EQ(xlam.tools.size(), 1u);
  const std::vector<ParamSchema>& params = xlam.tools[0].params;
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[0].type, "string");
  EXPECT_TRUE(params[0].required);  // no default, not marked optional
  EXPECT_EQ(params[1].type, "integer");
  EXPECT_FALSE(params[1].required);  // "int, optional"
  EXPECT_EQ(params[2].type, "array");
  EXPECT_EQ(params[2].item_type, "string");  // List[str]
  EXPECT_EQ(xlam.tools_json,
            R"([{"name":"get_weather","description":"Weather for a city.","parameters":{"city":{"type":"string",)"
            R"("description":"City","required":true},"days":{"type":"integer","description":"Days ahead","required":)"
            R"(false},"fields":{"type":"array","description":"What to report","required":true}}}])");
  EXPECT_THAT(xlam.openai_tools_json, HasSubstr(R"("fields":{"type":"array","description":"What to report",)"
                                                R"("items":{"type":"string"}})"));
  EXPECT_THAT(xlam.openai_tools_json, HasSubstr(R"("days":{"type":"integer","description":"Days ahead","default":1})"));
  EXPECT_THAT(xlam.answers[0].params,
              ElementsAre(Pair("city", ElementsAre(json("Paris"))), Pair("days", ElementsAre(json(3)))));

  // 2: chat messages with a system prompt and two user turns; OpenAI tool_calls.
  const EvalItem& chat = dataset->items[1];
  EXPECT_EQ(chat.query, "Fly me from Oslo\nto Rome");
  EXPECT_EQ(chat.messages_json,
            R"([{"role":"system","content":"You book flights."},{"role":"user","content":"Fly me from Oslo"},)"
            R"({"role":"assistant","content":"Where to?"},{"role":"user","content":"to Rome"}])");
  EXPECT_EQ(ChatMessages(chat).size(), 4u);
  // The JSON Schema reaches chat systems whole: nested properties, items with enums, defaults.
  absl::StatusOr<nlohmann::ordered_json> openai = OpenAiTools(chat);
  ASSERT_TRUE(openai.ok()) << openai.status();
  const nlohmann::ordered_json& schema = (*openai)[0]["function"]["parameters"];
  EXPECT_EQ(schema["properties"]["route"]["properties"]["to"]["type"], "string");
  EXPECT_EQ(schema["properties"]["route"]["required"], nlohmann::ordered_json({"from", "to"}));
  EXPECT_EQ(schema["properties"]["passengers"]["items"]["enum"], nlohmann::ordered_json({"adult", "child"}));
  EXPECT_EQ(schema["properties"]["cabin"]["default"], "economy");
  EXPECT_EQ(schema["required"], nlohmann::ordered_json({"route"}));
  EXPECT_THAT(chat.answers[0].params,
              ElementsAre(Pair("route", ElementsAre(json({{"from", "Oslo"}, {"to", "Rome"}})))));

  // 3, 4: a label says whether a call is expected; answers keyed by label.
  EXPECT_EQ(dataset->items[2].id, "w2c-1");
  EXPECT_THAT(dataset->items[2].answers, IsEmpty());
  EXPECT_EQ(dataset->items[2].call_type, "none");
  EXPECT_EQ(dataset->items[3].answers[0].name, "get_weather");
  EXPECT_THAT(dataset->items[3].answers[0].params, ElementsAre(Pair("city", ElementsAre(json("Lima")))));

  // 5: {tool, parameters}; "required" beside "parameters".
  const EvalItem& timer = dataset->items[4];
  EXPECT_EQ(timer.query, "Set a 5 minute timer");
  EXPECT_TRUE(timer.tools[0].params[0].required);
  EXPECT_THAT(timer.answers[0].params, ElementsAre(Pair("minutes", ElementsAre(json(5)))));

  // 6: a Python call; the positional argument binds to the first parameter.
  EXPECT_THAT(dataset->items[5].answers[0].params,
              ElementsAre(Pair("city", ElementsAre(json("Oslo"))), Pair("days", ElementsAre(json(2)))));

  // 7: {function: {name, arguments}}; parameters as a list of named objects.
  EXPECT_EQ(dataset->items[6].tools[0].params[0].name, "who");
  EXPECT_TRUE(dataset->items[6].tools[0].params[0].required);
  EXPECT_THAT(dataset->items[6].answers[0].params, ElementsAre(Pair("who", ElementsAre(json("Ann")))));

  // 11: ShareGPT's {from, value}; 12: BFCL's ground truth with acceptable values.
  EXPECT_EQ(dataset->items[7].query, "Tell me a joke");
  EXPECT_THAT(dataset->items[7].messages_json, HasSubstr(R"({"role":"system","content":"Be brief."})"));
  EXPECT_THAT(dataset->items[8].answers[0].params, ElementsAre(Pair("city", ElementsAre(json("Kyiv"), json("Kiev"))),
                                                               Pair("days", ElementsAre(json(""), json(1)))));

  // 13: Hermes text as a model writes it; a category that is not a name is left out.
  EXPECT_THAT(dataset->items[9].answers[0].params, ElementsAre(Pair("city", ElementsAre(json("Quito")))));
  EXPECT_EQ(dataset->items[9].category, "all");

  // What was mapped is counted, for the user to see.
  EXPECT_EQ(dataset->mapped.at("tools given as JSON strings"), 2);
  EXPECT_EQ(dataset->mapped.at("queries given as chat messages"), 2);
  EXPECT_EQ(dataset->mapped.at("answers as Python call strings"), 1);
  EXPECT_EQ(dataset->mapped.at("no call expected, by a label"), 1);
  EXPECT_GE(dataset->mapped.at("parameter types written the Python way"), 3);
}

TEST(GenericDataset, WholeFileOneJsonArray) {
  absl::StatusOr<Dataset> dataset = LoadDataset(kData + "foreign_array.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_THAT(Ids(*dataset), ElementsAre("foreign_array_2", "foreign_array_4"));
  // Errors give the line where the bad element starts.
  EXPECT_THAT(ErrorLines(*dataset), ElementsAre(Pair("foreign_array.json", 3)));
  EXPECT_THAT(dataset->errors[0].message, HasSubstr("answers: missing"));
  EXPECT_THAT(dataset->items[1].answers, IsEmpty());
  EXPECT_EQ(dataset->mapped.at("whole file one JSON array, not JSON lines"), 1);
}

TEST(GenericDataset, BrokenArrayFilesAreErrorsNamingTheLine) {
  struct Case {
    const char* content;
    const char* error;
  };
  const Case cases[] = {
      {"[\n{\"query\":\"q\",\"tools\":[],\"answers\":[]}\n", "the JSON array is not closed"},
      {"[{\"query\":\"q\",\"tools\":[],\"answers\":[]}]\nmore", ":2: text after the closing ']'"},
      {"[\n,{\"query\":\"q\"}]", ":2: empty element in the array"},
      {"[]", "no readable record"},
  };
  const std::string path = ::testing::TempDir() + "broken_array.json";
  for (const Case& c : cases) {
    {
      std::ofstream file(path, std::ios::binary);
      file << c.content;
    }
    absl::StatusOr<Dataset> dataset = LoadDataset(path);
    ASSERT_FALSE(dataset.ok()) << c.content;
    EXPECT_THAT(std::string(dataset.status().message()), HasSubstr(c.error)) << c.content;
  }
  std::filesystem::remove(path);
}

TEST(BfclDataset, ChatSystemsGetTheSystemMessage) {
  SKIP_WITHOUT_BFCL("BFCL_v4_live_irrelevance.json");
  absl::StatusOr<Dataset> dataset = LoadBfcl("BFCL_v4_live_irrelevance.json");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const EvalItem* item = FindItem(*dataset, "live_irrelevance_103-3-0");  // [system, user "e"]
  ASSERT_NE(item, nullptr);
  const nlohmann::ordered_json messages = ChatMessages(*item);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["role"], "system");
  EXPECT_EQ(messages[1]["content"], "e");
}

}  // namespace
}  // namespace needle::evals
