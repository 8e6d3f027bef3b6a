// Upstream's constrained decoding: inside `"name":"..."` only tool names may be
// written, inside argument keys only that tool's keys; everything else,
// argument values included, is free. When no token fits, decoding falls back
// to the unconstrained argmax, as upstream does.
//
// The state machine reads the model's output text byte by byte, so a byte
// fallback token contributes its single byte (upstream works on code points;
// the two agree on the ASCII names and keys tools have in practice).
#ifndef NEEDLE_CONSTRAINED_H_
#define NEEDLE_CONSTRAINED_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "needle/json_string_scanner.h"
#include "needle/tools.h"

namespace needle {

// The text each token id adds to the output ("▁" read as a space, a byte
// piece as its byte, control and unknown pieces as nothing), indexed by first byte.
class TokenTexts {
 public:
  TokenTexts() = default;
  explicit TokenTexts(std::vector<std::string> texts);
  const std::string& text(int32_t id) const { return texts_[id]; }
  int size() const { return static_cast<int>(texts_.size()); }
  const std::vector<int32_t>& StartingWith(unsigned char byte) const { return by_first_byte_[byte]; }

 private:
  std::vector<std::string> texts_;
  std::array<std::vector<int32_t>, 256> by_first_byte_;
};

// A character trie of the allowed names or keys.
class Trie {
 public:
  struct Node {
    std::map<char, int> children;
    bool terminal = false;
  };
  Trie();
  void Insert(std::string_view word);
  // Node index for `prefix`, or -1 when no word starts with it.
  int Find(std::string_view prefix) const;
  const Node& node(int index) const { return nodes_[index]; }

 private:
  std::vector<Node> nodes_;
};

class ConstrainedDecoder {
 public:
  ConstrainedDecoder(const ToolSet& tools, const TokenTexts& texts);

  // Sets the logits of disallowed tokens to -inf when inside a name or key.
  void Constrain(absl::Span<float> logits) const;
  // Advances the state machine over the text of the chosen token.
  void Accept(int32_t token);

  bool inside_constrained_span() const { return state_ != State::kFree; }

 private:
  enum class State { kFree, kInName, kInArgumentKey };
  void Feed(char c);
  bool AtArgumentKeyStart() const;
  const Trie* ActiveTrie() const;

  const TokenTexts& texts_;
  Trie names_;
  std::map<std::string, Trie> keys_by_tool_;

  State state_ = State::kFree;
  std::string output_;
  std::string span_;  // text written so far inside the constrained span
  std::string current_tool_;
  bool in_arguments_ = false;
  int arguments_depth_ = 0;
  int depth_ = 0;
  JsonStringScanner strings_;  // strings the constraints leave free
};

}  // namespace needle

#endif  // NEEDLE_CONSTRAINED_H_
