// Checkpoint loader on arbitrary bytes: header parsing, then the checks that
// turn tensors into a model (config, names, shapes, finite values).
#include <cstddef>
#include <cstdint>

#include "needle/safetensors.h"
#include "needle/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = needle::SafetensorsFile::FromBytes(data, size, "fuzz.safetensors");
  if (!file.ok()) return 0;
  for (const auto& [name, tensor] : (*file)->tensors()) {
    // Widening reads every byte the header claims; out-of-bounds claims must have been refused above.
    if (tensor.num_elements() <= (1 << 16)) (void)tensor.ToF32();
  }
  (void)needle::ModelWeights::FromFile(*std::move(file));
  return 0;
}
