// Command-line parsing shared by the tools built on absl flags.
#ifndef NEEDLE_CLI_COMMAND_LINE_H_
#define NEEDLE_CLI_COMMAND_LINE_H_

#include <string_view>
#include <vector>

namespace needle::cli {

// Sets the usage message, makes --help list this program's flags (absl's
// default looks for a source file named after the program, and needle-eval's
// is needle_eval_main.cc, so it listed none) and the shared ones, then
// parses. Returns what absl::ParseCommandLine returns.
std::vector<char*> ParseCommandLine(int argc, char** argv, std::string_view usage);

}  // namespace needle::cli

#endif  // NEEDLE_CLI_COMMAND_LINE_H_
