#include "needle/constrained.h"

#include <limits>

namespace needle {

TokenTexts::TokenTexts(std::vector<std::string> texts) : texts_(std::move(texts)) {
  for (size_t id = 0; id < texts_.size(); ++id) {
    if (!texts_[id].empty()) by_first_byte_[static_cast<unsigned char>(texts_[id][0])].push_back(id);
  }
}

Trie::Trie() : nodes_(1) {}

void Trie::Insert(std::string_view word) {
  int node = 0;
  for (char c : word) {
    auto it = nodes_[node].children.find(c);
    if (it == nodes_[node].children.end()) {
      nodes_.emplace_back();
      it = nodes_[node].children.emplace(c, static_cast<int>(nodes_.size()) - 1).first;
    }
    node = it->second;
  }
  nodes_[node].terminal = true;
}

int Trie::Find(std::string_view prefix) const {
  int node = 0;
  for (char c : prefix) {
    auto it = nodes_[node].children.find(c);
    if (it == nodes_[node].children.end()) return -1;
    node = it->second;
  }
  return node;
}

ConstrainedDecoder::ConstrainedDecoder(const ToolSet& tools, const TokenTexts& texts) : texts_(texts) {
  for (const ToolSpec& tool : tools.tools()) {
    names_.Insert(tool.snake_name);
    Trie& keys = keys_by_tool_[tool.snake_name];
    for (const std::string& key : tool.argument_keys) keys.Insert(key);
  }
}

const Trie* ConstrainedDecoder::ActiveTrie() const {
  if (state_ == State::kInName) return &names_;
  if (state_ == State::kInArgumentKey) {
    auto it = keys_by_tool_.find(current_tool_);
    return it == keys_by_tool_.end() ? nullptr : &it->second;
  }
  return nullptr;
}

void ConstrainedDecoder::Constrain(absl::Span<float> logits) const {
  const Trie* trie = ActiveTrie();
  if (trie == nullptr) return;
  const int start = trie->Find(span_);
  if (start < 0) return;  // already off the trie: upstream falls back to free decoding

  // A token fits when its text continues some word from `start`; a closing
  // quote inside it ends the span and is allowed only at the end of a word.
  auto fits = [&](const std::string& text) {
    int node = start;
    for (char c : text) {
      if (c == '"') return trie->node(node).terminal;
      auto it = trie->node(node).children.find(c);
      if (it == trie->node(node).children.end()) return false;
      node = it->second;
    }
    return true;
  };
  std::vector<bool> allowed(logits.size(), false);
  bool any = false;
  auto consider_tokens_starting_with = [&](char first) {
    for (int32_t id : texts_.StartingWith(static_cast<unsigned char>(first))) {
      if (id < static_cast<int32_t>(logits.size()) && !allowed[id] && fits(texts_.text(id))) {
        allowed[id] = true;
        any = true;
      }
    }
  };
  for (const auto& [c, child] : trie->node(start).children) consider_tokens_starting_with(c);
  if (trie->node(start).terminal) consider_tokens_starting_with('"');
  if (!any) return;  // nothing fits: fall back to the unconstrained argmax, as upstream does
  for (size_t id = 0; id < logits.size(); ++id) {
    if (!allowed[id]) logits[id] = -std::numeric_limits<float>::infinity();
  }
}

void ConstrainedDecoder::Accept(int32_t token) {
  if (token < 0 || token >= texts_.size()) return;
  for (char c : texts_.text(token)) Feed(c);
}

void ConstrainedDecoder::Feed(char c) {
  output_ += c;
  if (state_ != State::kFree) {
    if (c == '"') {
      if (state_ == State::kInName) current_tool_ = span_;
      span_.clear();
      state_ = State::kFree;
    } else {
      span_ += c;
    }
    return;
  }
  if (strings_.inside()) {
    strings_.Feed(c);
    return;
  }
  auto ends_with = [&](std::string_view suffix) {
    return output_.size() >= suffix.size() &&
           output_.compare(output_.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (c == '{' || c == '[') {
    ++depth_;
  } else if (c == '}' || c == ']') {
    depth_ = std::max(0, depth_ - 1);
    if (c == '}' && in_arguments_ && depth_ < arguments_depth_) in_arguments_ = false;
    return;
  }
  if (!in_arguments_ && ends_with("\"name\":\"")) {
    state_ = State::kInName;
    span_.clear();
    return;
  }
  if (ends_with("\"arguments\":{")) {
    in_arguments_ = true;
    arguments_depth_ = depth_;
    return;
  }
  if (in_arguments_ && depth_ == arguments_depth_ && AtArgumentKeyStart()) {
    state_ = State::kInArgumentKey;
    span_.clear();
    return;
  }
  // Any other quote opens a string, a value or a key we leave free; its
  // contents are text, so brackets or quotes inside it must not move depth_.
  strings_.Feed(c);
}

bool ConstrainedDecoder::AtArgumentKeyStart() const {
  if (output_.size() < 2) return false;
  const std::string_view last_two = std::string_view(output_).substr(output_.size() - 2);
  return last_two == "{\"" || last_two == ",\"";
}

}  // namespace needle
