// Tool definitions as callers send them: Needle's own parser and the
// converter that reads JSON-Schema (BFCL, OpenAI) and upstream formats.
#include <cstdint>
#include <cstdlib>

#include "fuzz_input.h"
#include "needle/json.h"
#include "needle/toolcalls/convert_tools.h"
#include "needle/tools.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [tools_json, output] = needle::fuzz::SplitAtNul(needle::fuzz::AsText(data, size));
  auto tool_set = needle::ToolSet::Parse(tools_json);
  if (tool_set.ok()) {
    // What the encoder sees must itself be valid JSON.
    if (nlohmann::json::parse(tool_set->prompt_json(), nullptr, false).is_discarded()) std::abort();
    (void)tool_set->RestoreNames(output);
  }
  // Every caller of ConvertTools parses through ParseJson, so the harness does
  // too: an unbounded parse here would only find the harness's own recursion.
  const auto tools = needle::ParseJson<nlohmann::ordered_json>(tools_json);
  if (tools.ok()) (void)needle::toolcalls::ConvertTools(*tools, "fuzz");
  return 0;
}
