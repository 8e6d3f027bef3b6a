// The floor: a keyword-matching heuristic that picks the tool whose name and
// description share the most words with the query and fills arguments from
// simple patterns (numbers, enum values, quoted or capitalised text).
#ifndef NEEDLE_EVALS_KEYWORD_SYSTEM_H_
#define NEEDLE_EVALS_KEYWORD_SYSTEM_H_

#include <memory>
#include <string>

#include "needle/evals/system.h"

namespace needle::evals {

std::unique_ptr<System> MakeKeywordSystem(std::string name = "keyword");

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_KEYWORD_SYSTEM_H_
