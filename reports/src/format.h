// Number formatting shared by the report renderers, so every format shows
// the same figure the same way.
#ifndef NEEDLE_REPORTS_SRC_FORMAT_H_
#define NEEDLE_REPORTS_SRC_FORMAT_H_

#include <string>

#include "fmt/format.h"
#include "needle/evals/stats.h"

namespace needle::reports {

inline std::string Percent(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

// "61.3% [56.4, 66.0]"
inline std::string PercentWithInterval(const evals::Proportion& p) {
  if (p.total == 0) return "n/a";
  return fmt::format("{:.1f}% [{:.1f}, {:.1f}]", 100.0 * p.value, 100.0 * p.low, 100.0 * p.high);
}

inline std::string Milliseconds(double ms) {
  if (ms < 0) return "n/a";
  return ms < 10 ? fmt::format("{:.2f}", ms) : fmt::format("{:.0f}", ms);
}

}  // namespace needle::reports

#endif  // NEEDLE_REPORTS_SRC_FORMAT_H_
