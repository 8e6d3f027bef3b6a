// Tool definitions in other shapes, converted for the prompt and the checker.
#include "needle/toolcalls/convert_tools.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace needle::toolcalls {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ConvertTools, JsonSchemaToUpstreamFormat) {
  const json tools = json::parse(R"([{"type": "function", "function": {
      "name": "book_table", "description": "Book a table.",
      "parameters": {"type": "object", "required": ["party"], "properties": {
        "party": {"type": "integer", "description": "People"},
        "budget": {"type": ["number", "null"], "description": "Per head"},
        "vegan": {"type": "boolean", "description": "Vegan menu", "required": true},
        "times": {"type": "tuple", "items": {"type": "number"}},
        "prefs": {"type": "object", "description": "Extras", "properties": {"x": {"type": "string"}}},
        "notes": {"type": "any"},
        "area": {"type": "string", "description": "Zone", "enum": ["inside", "terrace"]}}}}},
    {"name": "noop"}])");
  absl::StatusOr<ConvertedTools> converted = ConvertTools(tools, "tools");
  ASSERT_TRUE(converted.ok()) << converted.status();
  // nlohmann::json sorts keys: the prompt follows the order it is given.
  EXPECT_EQ(converted->needle_json,
            R"([{"name":"book_table","description":"Book a table.","parameters":{)"
            R"("area":{"type":"string","description":"Zone","required":false,"enum":["inside","terrace"]},)"
            R"("budget":{"type":"number","description":"Per head","required":false},)"
            R"("notes":{"type":"string","description":"","required":false},)"
            R"("party":{"type":"integer","description":"People","required":true},)"
            R"("prefs":{"type":"object","description":"Extras","required":false},)"
            R"("times":{"type":"array","description":"","required":false},)"
            R"("vegan":{"type":"boolean","description":"Vegan menu","required":true}}},)"
            R"({"name":"noop","description":"","parameters":{}}])");
  ASSERT_EQ(converted->schemas.size(), 2u);
  const ToolSchema& book = converted->schemas[0];
  EXPECT_EQ(book.name, "book_table");
  EXPECT_EQ(book.description, "Book a table.");
  std::vector<std::string> types;
  for (const ParamSchema& param : book.params) types.push_back(param.name + ":" + param.type);
  EXPECT_THAT(types, ElementsAre("area:string", "budget:float", "notes:any", "party:integer", "prefs:dict",
                                 "times:tuple", "vegan:boolean"));
  EXPECT_EQ(book.params[5].item_type, "float");
  EXPECT_THAT(book.params[0].enum_values, ElementsAre(json("inside"), json("terrace")));
  EXPECT_TRUE(book.params[3].required);
  EXPECT_TRUE(book.params[6].required);
  EXPECT_FALSE(book.params[1].required);
  EXPECT_THAT(converted->schemas[1].params, IsEmpty());
}

TEST(ConvertTools, UpstreamFormatPassesThrough) {
  const std::string text =
      R"([{"name":"getWeather","description":"Weather.","parameters":{"city":{"type":"string",)"
      R"("description":"City","required":true},"days":{"type":"number","description":"Days","required":false}}}])";
  absl::StatusOr<ConvertedTools> converted = ConvertTools(json::parse(text), "tools");
  ASSERT_TRUE(converted.ok()) << converted.status();
  // Unchanged but for key order, which nlohmann::json has already sorted (LoadDataset keeps the file's order).
  EXPECT_EQ(json::parse(converted->needle_json), json::parse(text));
  const ToolSchema& tool = converted->schemas[0];
  EXPECT_EQ(tool.name, "getWeather");
  ASSERT_EQ(tool.params.size(), 2u);
  EXPECT_EQ(tool.params[0].name, "city");
  EXPECT_TRUE(tool.params[0].required);
  EXPECT_EQ(tool.params[1].type, "float");
  EXPECT_FALSE(tool.params[1].required);
}

TEST(ConvertTools, ErrorsNameTheToolAndField) {
  struct Case {
    const char* tools;
    const char* error;
  };
  const Case cases[] = {
      {R"({"name":"x"})", "tools: expected a list of tools, got object"},
      {R"([{"name":"a"},{"name":"b"},{"name":"c","parameters":{"type":"object","properties":{"x":{"type":"cplx"}}}}])",
       "tools[2].parameters.properties.x.type: unknown type \"cplx\" (known: string, integer, float, number, "
       "boolean, array, tuple, dict, object, any, and Python's str, int, float, bool, list, dict, tuple, Any, "
       "List[...], Dict[...], Optional[...])"},
      {R"([{"description":"no name"}])", "tools[0].name: missing"},
      {R"([{"name":""}])", "tools[0].name: empty tool name"},
      {R"([42])", "tools[0]: expected a tool object, got number"},
      {R"([{"name":"a"},{"name":"a"}])", "tools[1]: duplicate tool name \"a\" (also tools[0])"},
      {R"([{"name":"a","parameters":{"type":"object","properties":{},"required":["q"]}}])",
       "tools[0].parameters.required[0]: \"q\" is not among the properties"},
      {R"([{"name":"a","parameters":{"type":"string"}}])",
       "tools[0].parameters.type: expected \"object\" or \"dict\", got \"string\""},
      {R"([{"name":"a","parameters":{"p":{"type":"string","enum":"x"}}}])",
       "tools[0].parameters.p.enum: expected a list, got string"},
      {R"([{"name":"a","parameters":{"p":{"type":"string","required":"yes"}}}])",
       "tools[0].parameters.p.required: expected true or false, got string"},
      {R"([{"name":"a","parameters":{"p":{"type":7}}}])", "tools[0].parameters.p.type: expected a string, got number"},
      {R"([{"type":"function","function":{"name":"a","parameters":[42]}}])",
       "tools[0].function.parameters[0]: expected a parameter object, got number"},
      {R"([{"name":"a","parameters":[{"name":"p","type":"string"},{"name":"p","type":"string"}]}])",
       "tools[0].parameters[1]: duplicate parameter \"p\""},
      {R"([{"name":"a","parameters":"p"}])", "tools[0].parameters: expected an object, got string"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ConvertedTools> converted = ConvertTools(json::parse(c.tools), "tools");
    ASSERT_FALSE(converted.ok()) << c.tools;
    EXPECT_EQ(std::string(converted.status().message()), c.error) << c.tools;
  }
}

}  // namespace
}  // namespace needle::toolcalls
