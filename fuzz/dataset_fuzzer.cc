// The dataset readers (our JSONL, the generic JSONL, BFCL question and
// answer files, and format detection) on arbitrary file contents. Input
// before the first NUL is the data file; after it, BFCL's possible_answer
// file. Readers take paths, so the bytes go through files in a private
// temporary directory.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_input.h"
#include "needle/evals/dataset.h"

namespace {

const std::filesystem::path& WorkDir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("needle-dataset-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(path / "possible_answer");
    return path;
  }();
  return dir;
}

void Write(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void CheckLoaded(const std::string& spec) {
  auto dataset = needle::evals::LoadDataset(spec);
  if (!dataset.ok()) return;
  // A loaded dataset has at least one item; every bad record is reported with its line.
  if (dataset->items.empty()) std::abort();
  for (const needle::evals::DatasetError& error : dataset->errors) {
    if (error.line < 1 || error.message.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [questions, answers] = needle::fuzz::SplitAtNul(needle::fuzz::AsText(data, size));
  const std::filesystem::path file = WorkDir() / "BFCL_v3_simple.json";
  Write(file, questions);
  Write(WorkDir() / "possible_answer" / "BFCL_v3_simple.json", answers);
  for (const char* format : {"", "needle:", "generic:", "bfcl:"}) CheckLoaded(format + file.string());
  return 0;
}
