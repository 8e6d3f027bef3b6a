// needle-serve's request parser on arbitrary bodies: every body is either a
// request or an error in OpenAI's shape, and an error names a status.
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "fuzz_input.h"
#include "needle/serve/openai_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parsed = needle::serve::ParseChatRequest(needle::fuzz::AsText(data, size));
  if (const auto* error = std::get_if<needle::serve::ApiError>(&parsed)) {
    if (error->http_status < 400 || error->http_status > 599 || error->message.empty()) std::abort();
  }
  return 0;
}
