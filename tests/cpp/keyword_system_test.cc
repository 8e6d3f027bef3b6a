#include "needle/evals/keyword_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "needle/evals/dataset.h"

namespace needle::evals {

using toolcalls::ConvertedTools;
using toolcalls::ConvertTools;

namespace {

using nlohmann::json;

const char kTools[] = R"([
  {"name": "get_weather", "description": "Current weather for a city.", "parameters": {
    "location": {"type": "string", "description": "City", "required": true},
    "unit": {"type": "string", "description": "Temperature unit", "required": false,
             "enum": ["celsius", "fahrenheit"]}}},
  {"name": "setTimer", "description": "Start a countdown timer.", "parameters": {
    "minutes": {"type": "integer", "description": "Length", "required": true},
    "label": {"type": "string", "description": "Name shown", "required": false}}},
  {"name": "thermostat.set_mode", "description": "Change the heating mode of the thermostat.", "parameters": {
    "mode": {"type": "string", "description": "Mode", "required": true, "enum": ["heat", "cool", "auto"]},
    "target": {"type": "number", "description": "Target degrees", "required": false}}},
  {"name": "toggle_lights", "description": "Switch the lights in a room.", "parameters": {
    "room": {"type": "string", "description": "Room", "required": true},
    "on": {"type": "boolean", "description": "Light state", "required": true}}},
  {"name": "search_web", "description": "Search the web.", "parameters": {
    "query": {"type": "string", "description": "Search terms", "required": true}}},
  {"name": "convert_currency", "description": "Convert money between currencies.", "parameters": {
    "amount": {"type": "number", "description": "Amount", "required": true},
    "to_currency": {"type": "string", "description": "Target", "required": true}}}
])";

EvalItem Item(const std::string& query, const std::string& tools = kTools) {
  absl::StatusOr<ConvertedTools> converted = ConvertTools(json::parse(tools), "tools");
  EXPECT_TRUE(converted.ok()) << converted.status();
  EvalItem item;
  item.id = "test";
  item.query = query;
  if (converted.ok()) {
    item.tools_json = converted->needle_json;
    item.tools = converted->schemas;
  }
  return item;
}

json Predict(const EvalItem& item) {
  std::unique_ptr<System> system = MakeKeywordSystem();
  absl::StatusOr<Prediction> prediction = system->Predict(item);
  EXPECT_TRUE(prediction.ok()) << prediction.status();
  if (!prediction.ok()) return nullptr;
  EXPECT_GE(prediction->latency_ms, 0);
  return json::parse(prediction->text);
}

json Call(const std::string& name, json arguments) { return json::array({{{"name", name}, {"arguments", arguments}}}); }

TEST(KeywordSystem, NameIsAsGiven) {
  EXPECT_EQ(MakeKeywordSystem()->name(), "keyword");
  EXPECT_EQ(MakeKeywordSystem("floor")->name(), "floor");
}

TEST(KeywordSystem, PicksTheMatchingToolAndFillsCapitalisedText) {
  EXPECT_EQ(Predict(Item("What's the weather in Paris?")), Call("get_weather", {{"location", "Paris"}}));
  EXPECT_EQ(Predict(Item("How is the weather today in New York City")),
            Call("get_weather", {{"location", "New York City"}}));
}

TEST(KeywordSystem, FillsAnOptionalEnumOnlyWhenTheQueryNamesIt) {
  EXPECT_EQ(Predict(Item("Weather in Oslo in Fahrenheit please")),
            Call("get_weather", {{"location", "Oslo"}, {"unit", "fahrenheit"}}));
}

TEST(KeywordSystem, FallsBackToTheWordsAfterAPreposition) {
  EXPECT_EQ(Predict(Item("what is the weather like in paris today, thanks")),
            Call("get_weather", {{"location", "paris today"}}));
}

TEST(KeywordSystem, SplitsCamelCaseNamesAndReadsNumbers) {
  EXPECT_EQ(Predict(Item("Set a timer for 10 minutes")), Call("setTimer", {{"minutes", 10}}));
  EXPECT_EQ(Predict(Item("start a timer for five minutes")), Call("setTimer", {{"minutes", 5}}));
  // Number words count only when there are no digits.
  EXPECT_EQ(Predict(Item("start two timers for 4 minutes")), Call("setTimer", {{"minutes", 4}}));
}

TEST(KeywordSystem, FillsOptionalParametersOnlyWhenTheQueryMentionsThem) {
  EXPECT_EQ(Predict(Item("Start a 3 minute timer with the label 'tea'")),
            Call("setTimer", {{"minutes", 3}, {"label", "tea"}}));
  EXPECT_EQ(Predict(Item("Start a 3 minute timer for 'tea'")), Call("setTimer", {{"minutes", 3}}));
  EXPECT_EQ(Predict(Item("Put the thermostat in heat mode, 5 minutes from now")),
            Call("thermostat.set_mode", {{"mode", "heat"}}));
  // Mentioned, but only a preposition phrase to fill it with: left out.
  EXPECT_EQ(Predict(Item("Start a 3 minute timer with a label for my tea")), Call("setTimer", {{"minutes", 3}}));
}

TEST(KeywordSystem, FillsEnumsAndFloats) {
  EXPECT_EQ(Predict(Item("Put the thermostat in cool mode with a target of 21.5 degrees")),
            Call("thermostat.set_mode", {{"mode", "cool"}, {"target", 21.5}}));
  EXPECT_EQ(Predict(Item("Convert 12.5 dollars to euros")),
            Call("convert_currency", {{"amount", 12.5}, {"to_currency", "euros"}}));
}

TEST(KeywordSystem, ReadsBooleansFromOnOffWords) {
  EXPECT_EQ(Predict(Item("Switch off the lights in the kitchen")),
            Call("toggle_lights", {{"room", "kitchen"}, {"on", false}}));
  EXPECT_EQ(Predict(Item("Turn the lights on in the bedroom")),
            Call("toggle_lights", {{"room", "bedroom"}, {"on", true}}));
}

TEST(KeywordSystem, PrefersQuotedText) {
  EXPECT_EQ(Predict(Item("Search the web for \"best ramen in Tokyo\"")),
            Call("search_web", {{"query", "best ramen in Tokyo"}}));
}

TEST(KeywordSystem, UnrelatedQueriesGetNoCall) {
  EXPECT_EQ(Predict(Item("Tell me a joke about cats")), json::array());
  EXPECT_EQ(Predict(Item("Who wrote Hamlet?")), json::array());
  EXPECT_EQ(Predict(Item("")), json::array());
  EXPECT_EQ(Predict(Item("What's the weather in Paris?", "[]")), json::array());
}

TEST(KeywordSystem, SurvivesOddText) {
  // A number no double holds is skipped; unbalanced quotes and bytes that are not UTF-8 are plain text.
  const std::string huge(400, '9');
  EXPECT_EQ(Predict(Item("set a timer for " + huge + " or 5 minutes, \"unclosed 'quote \xC3\xA9t\xC3\xA9 \xFF")),
            Call("setTimer", {{"minutes", 5}}));
  EXPECT_EQ(Predict(Item("Search the web for \"caf\xFF\"")), Call("search_web", {{"query", "caf\xEF\xBF\xBD"}}));
}

TEST(KeywordSystem, LeavesOutRequiredParametersItCannotFill) {
  EXPECT_EQ(Predict(Item("set a timer")), Call("setTimer", json::object()));
}

TEST(KeywordSystem, IsDeterministic) {
  const EvalItem item = Item("Put the thermostat on heat, then set a timer for 20 minutes");
  const json first = Predict(item);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Predict(item), first);
}

TEST(KeywordSystem, SolvesTheFirstBfclSimpleItem) {
  const std::string file = NEEDLE_SOURCE_DIR "/../shared/datasets/bfcl/BFCL_v4_simple_python.json";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << "shared BFCL data missing: " << file;
  absl::StatusOr<Dataset> dataset = LoadDataset(file);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  // "Find the area of a triangle with a base of 10 units and height of 5 units."
  EXPECT_EQ(Predict(dataset->items[0]), Call("calculate_triangle_area", {{"base", 10}, {"height", 5}}));
  // "Calculate the factorial of 5 using math functions."
  EXPECT_EQ(Predict(dataset->items[1]), Call("math.factorial", {{"number", 5}}));
}

}  // namespace
}  // namespace needle::evals
