// A system under evaluation: the Needle engines in process, an OpenAI-style
// HTTP server, a subprocess, or a heuristic. All run through the same loop.
#ifndef NEEDLE_EVALS_SYSTEM_H_
#define NEEDLE_EVALS_SYSTEM_H_

#include <string>

#include "absl/status/statusor.h"
#include "needle/evals/dataset.h"

namespace needle::evals {

struct Prediction {
  // The output as the system gave it, for toolcalls::ParseOutput. Systems that return
  // structured calls (OpenAI tool_calls) serialise them with toolcalls::CallsToJson.
  std::string text;
  double latency_ms = 0;   // whole request, as the caller waits for it
  double ttft_ms = -1;     // time to the first output token; -1 when unknown
  int output_tokens = -1;  // -1 when unknown
  // The system cut the input to fit its context (Needle: 1024 encoder tokens),
  // as far as it tells; the answer was given to a shorter prompt.
  bool input_truncated = false;
};

class System {
 public:
  virtual ~System() = default;
  virtual const std::string& name() const = 0;
  // Thread-safe: the runner calls it from several threads at once. A failed
  // request (transport error, crashed subprocess) is an error status; an
  // output that cannot be read is not, and is scored as unparsable.
  virtual absl::StatusOr<Prediction> Predict(const EvalItem& item) const = 0;
};

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_SYSTEM_H_
