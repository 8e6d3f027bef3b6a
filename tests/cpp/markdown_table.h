// Reading back the Markdown tables the bench and report code print.
#ifndef NEEDLE_TESTS_MARKDOWN_TABLE_H_
#define NEEDLE_TESTS_MARKDOWN_TABLE_H_

#include <sstream>
#include <string>
#include <vector>

namespace needle::test {

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// The trimmed cells of one "| a | b |" line.
inline std::vector<std::string> Cells(const std::string& markdown_line) {
  std::vector<std::string> cells;
  std::istringstream stream(markdown_line);
  std::string cell;
  std::getline(stream, cell, '|');  // before the first bar
  while (std::getline(stream, cell, '|')) {
    const size_t first = cell.find_first_not_of(' '), last = cell.find_last_not_of(' ');
    cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  return cells;
}

}  // namespace needle::test

#endif  // NEEDLE_TESTS_MARKDOWN_TABLE_H_
