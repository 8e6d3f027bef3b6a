// Model output re-written as upstream's Python prints it (RedumpLikePython):
// any bytes, and what it accepts must come out ASCII and as a fixed point.
#include <cstdint>
#include <cstdlib>

#include "fuzz_input.h"
#include "needle/python_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto redumped = needle::RedumpLikePython(needle::fuzz::AsText(data, size));
  if (!redumped.ok()) return 0;
  for (char c : *redumped) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) std::abort();
  }
  const auto again = needle::RedumpLikePython(*redumped);
  if (!again.ok() || *again != *redumped) std::abort();
  return 0;
}
