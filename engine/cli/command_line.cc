#include "cli/command_line.h"

#include <string>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace needle::cli {

std::vector<char*> ParseCommandLine(int argc, char** argv, std::string_view usage) {
  absl::FlagsUsageConfig config;
  // Every tool's flags live in a cli/ directory (its main and model_flags.cc);
  // library flags from elsewhere, such as absl's own, stay behind --helpfull.
  config.contains_help_flags = [](absl::string_view file) { return file.find("/cli/") != absl::string_view::npos; };
  config.contains_helpshort_flags = config.contains_help_flags;
  // Flags are listed under their file, named from the project's root.
  config.normalize_filename = [](absl::string_view file) {
    constexpr absl::string_view kThisFile = __FILE__;
    constexpr absl::string_view kFromRoot = "engine/cli/command_line.cc";
    if (absl::EndsWith(kThisFile, kFromRoot)) {
      absl::ConsumePrefix(&file, kThisFile.substr(0, kThisFile.size() - kFromRoot.size()));
    }
    return std::string(file);
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(absl::string_view(usage.data(), usage.size()));
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace needle::cli
