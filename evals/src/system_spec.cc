#include "needle/evals/system_spec.h"

#include <sstream>
#include <vector>

#include "needle/evals/command_system.h"
#include "needle/evals/keyword_system.h"
#include "needle/evals/needle_system.h"
#include "needle/evals/openai_system.h"
#include "needle/str_cat.h"

namespace needle::evals {

absl::StatusOr<std::unique_ptr<System>> MakeSystem(const std::string& spec, const SystemDefaults& defaults) {
  std::string name, rest = spec;
  // A name never contains ':' or spaces, so "openai:http://x?a=b" is not split at '='.
  if (const size_t eq = spec.find('='); eq != std::string::npos && spec.find_first_of(": ") > eq) {
    name = spec.substr(0, eq);
    rest = spec.substr(eq + 1);
    if (name.empty()) return absl::InvalidArgumentError(StrCat("system \"", spec, "\": empty name before '='"));
  }
  const size_t colon = rest.find(':');
  const std::string kind = rest.substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : rest.substr(colon + 1);
  if (colon != std::string::npos && argument.empty()) {
    return absl::InvalidArgumentError(StrCat("system \"", spec, "\": nothing after ':'"));
  }

  if (kind == "needle") {
    const size_t colon = argument.find(':');
    const std::string engine = argument.empty() ? defaults.engine : argument.substr(0, colon);
    EngineOptions options{colon == std::string::npos ? defaults.precision : argument.substr(colon + 1),
                          defaults.threads, defaults.numerics};
    absl::StatusOr<std::unique_ptr<ToolCaller>> caller =
        ToolCaller::Load(defaults.model_path, defaults.tokenizer_path, engine, options);
    if (!caller.ok()) return caller.status();
    // "auto" is left out of the name: the name says what was asked for.
    const std::string suffix = options.precision == kAutoPrecision ? "" : "-" + options.precision;
    return MakeNeedleSystem(name.empty() ? "needle-" + engine + suffix : name,
                            std::shared_ptr<const ToolCaller>(*std::move(caller)), defaults.constrained,
                            defaults.max_new_tokens);
  }
  if (kind == "keyword") {
    if (!argument.empty())
      return absl::InvalidArgumentError(StrCat("system \"", spec, "\": keyword takes no argument"));
    return MakeKeywordSystem(name.empty() ? "keyword" : name);
  }
  if (kind == "openai") {
    if (argument.empty()) return absl::InvalidArgumentError(StrCat("system \"", spec, "\": openai needs a URL"));
    OpenAiOptions options;
    const size_t hash = argument.find('#');
    options.base_url = argument.substr(0, hash);
    options.model = hash == std::string::npos ? "" : argument.substr(hash + 1);
    options.name = name.empty() ? "openai-" + (options.model.empty() ? options.base_url : options.model) : name;
    options.stream = defaults.stream;
    options.timeout_seconds = defaults.timeout_seconds;
    options.max_tokens = defaults.max_new_tokens;  // the same generation limit Needle gets
    return MakeOpenAiSystem(options);
  }
  if (kind == "command") {
    CommandOptions options;
    std::istringstream words(argument);
    for (std::string word; words >> word;) options.argv.push_back(word);
    if (options.argv.empty())
      return absl::InvalidArgumentError(StrCat("system \"", spec, "\": command needs a program"));
    options.name = name.empty() ? "command-" + options.argv.front().substr(options.argv.front().rfind('/') + 1) : name;
    options.processes = defaults.processes;
    options.timeout_seconds = defaults.timeout_seconds;
    return MakeCommandSystem(options);
  }
  return absl::InvalidArgumentError(
      StrCat("system \"", spec, "\": unknown kind \"", kind, "\" (expected needle, keyword, openai or command)"));
}

}  // namespace needle::evals
