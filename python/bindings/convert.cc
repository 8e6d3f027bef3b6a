#include "convert.h"

#include <Python.h>

namespace needle::python {

void RaiseStatus(const absl::Status& status) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      throw py::value_error(message);
    case absl::StatusCode::kNotFound:
      PyErr_SetString(PyExc_FileNotFoundError, message.c_str());
      throw py::error_already_set();
    default:
      throw std::runtime_error(message);
  }
}

namespace {

template <typename Json>
py::object ToPython(const Json& json) {
  switch (json.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(json.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(json.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(json.template get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(json.template get<double>());
    case nlohmann::json::value_t::string:
      return py::str(json.template get_ref<const std::string&>());
    case nlohmann::json::value_t::binary:
      return py::bytes(std::string(json.get_binary().begin(), json.get_binary().end()));
    case nlohmann::json::value_t::array: {
      py::list list;
      for (const Json& element : json) list.append(ToPython(element));
      return std::move(list);
    }
    case nlohmann::json::value_t::object: {
      py::dict dict;
      for (const auto& [key, value] : json.items()) dict[py::str(key)] = ToPython(value);
      return std::move(dict);
    }
  }
  return py::none();
}

}  // namespace

py::object JsonToPython(const nlohmann::ordered_json& json) { return ToPython(json); }
py::object JsonToPython(const nlohmann::json& json) { return ToPython(json); }

std::string ToolsToJson(const py::handle& tools) {
  if (py::isinstance<py::str>(tools)) return tools.cast<std::string>();
  return py::module_::import("json").attr("dumps")(tools).cast<std::string>();
}

}  // namespace needle::python
