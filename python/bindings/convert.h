// What every binding file shares: absl errors as Python exceptions, JSON as
// Python objects, tool lists given either as JSON text or as Python objects.
#ifndef NEEDLE_PYTHON_BINDINGS_CONVERT_H_
#define NEEDLE_PYTHON_BINDINGS_CONVERT_H_

#include <pybind11/pybind11.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace needle::python {

namespace py = pybind11;

// Raises ValueError (InvalidArgument, OutOfRange), FileNotFoundError (NotFound)
// or RuntimeError (anything else) carrying the status message. Needs the GIL.
[[noreturn]] void RaiseStatus(const absl::Status& status);

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) RaiseStatus(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) RaiseStatus(value.status());
  return *std::move(value);
}

// dicts, lists, str, int, float, bool and None.
py::object JsonToPython(const nlohmann::ordered_json& json);
py::object JsonToPython(const nlohmann::json& json);

// A tool list as JSON text: a str is passed through, anything else goes
// through json.dumps (key order kept, so the prompt sees the caller's order).
std::string ToolsToJson(const py::handle& tools);

void RegisterEngine(py::module_& module);
void RegisterEvals(py::module_& module);
void RegisterBench(py::module_& module);

}  // namespace needle::python

#endif  // NEEDLE_PYTHON_BINDINGS_CONVERT_H_
