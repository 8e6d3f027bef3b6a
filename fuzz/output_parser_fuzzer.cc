// Everything that reads another system's output: the call parser (Needle
// JSON, Hermes, FunctionGemma) and the OpenAI response readers, whole and
// streamed in two pieces split at an input-chosen point.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.h"
#include "needle/evals/openai_response.h"
#include "needle/toolcalls/call.h"

namespace {

// Calls the parser accepted, written back as Needle JSON, must read back the same.
void CheckRoundTrip(const needle::toolcalls::ParsedOutput& parsed) {
  if (!parsed.parsed) return;
  const std::string text = needle::toolcalls::CallsToJson(parsed.calls);
  const needle::toolcalls::ParsedOutput again = needle::toolcalls::ParseOutput(text);
  if (!again.parsed || again.calls.size() != parsed.calls.size()) std::abort();
  for (size_t i = 0; i < parsed.calls.size(); ++i) {
    if (again.calls[i].name != parsed.calls[i].name || again.calls[i].arguments != parsed.calls[i].arguments) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(needle::fuzz::AsText(data, size));
  CheckRoundTrip(needle::toolcalls::ParseOutput(text));

  if (auto completion = needle::evals::ReadChatCompletion(text); completion.ok()) {
    (void)needle::toolcalls::ParseOutput(completion->text);
  }

  needle::evals::ChatStreamReader stream(std::chrono::steady_clock::now());
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  if (stream.Feed(text.data(), split) && stream.Feed(text.data() + split, size - split)) {
    (void)needle::toolcalls::ParseOutput(stream.Text());
  }
  return 0;
}
