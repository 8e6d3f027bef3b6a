// The tokenizer and the prompt layout on arbitrary bytes (invalid UTF-8, NULs,
// huge inputs): the encoder prompt must stay within 1024 in-vocabulary ids
// whatever the query and tools text, and decoding any ids must not fail.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_input.h"
#include "needle/tokenizer.h"

namespace {

const needle::Tokenizer& SharedTokenizer() {
  static const needle::Tokenizer* tokenizer = [] {
    auto loaded = needle::Tokenizer::Load(NEEDLE_SOURCE_DIR "/models/default/tokenizer.model");
    if (!loaded.ok()) std::abort();
    return loaded->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const needle::Tokenizer& tokenizer = SharedTokenizer();
  const auto [query, tools] = needle::fuzz::SplitAtNul(needle::fuzz::AsText(data, size));
  const needle::EncoderPrompt prompt = tokenizer.EncodePrompt(query, tools);
  if (prompt.tokens.size() > 1024 || prompt.query_tokens > 1022) std::abort();
  for (int32_t id : prompt.tokens) {
    if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
  }
  (void)tokenizer.Decode(prompt.tokens);

  // The same bytes read as token ids, in range or not.
  std::vector<int32_t> ids(size / sizeof(int32_t));
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * sizeof(int32_t));
  (void)tokenizer.Decode(ids);
  return 0;
}
