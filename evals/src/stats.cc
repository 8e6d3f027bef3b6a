#include "needle/evals/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace needle::evals {
namespace {

// P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so that large n
// does not underflow 0.5^n.
double BinomialHalfCdf(int k, int n) {
  double total = 0;
  for (int i = 0; i <= k; ++i) {
    total += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0));
  }
  return total;
}

}  // namespace

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = q * static_cast<double>(values.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = std::min(lower + 1, values.size() - 1);
  return values[lower] + (rank - static_cast<double>(lower)) * (values[upper] - values[lower]);
}

Proportion WilsonInterval(int successes, int total, double z) {
  Proportion p;
  p.successes = successes;
  p.total = total;
  if (total <= 0) {
    // Nothing observed: the proportion could be anything.
    p.high = 1;
    return p;
  }
  const double n = total;
  const double phat = successes / n;
  const double z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double centre = (phat + z2 / (2 * n)) / denominator;
  const double half_width = z * std::sqrt(phat * (1 - phat) / n + z2 / (4 * n * n)) / denominator;
  p.value = phat;
  // The bounds are exact at the ends; rounding would leave them a hair
  // inside (1e-17 above a 0% rate), and a reader expects [0, x] there.
  p.low = successes == 0 ? 0.0 : std::max(0.0, centre - half_width);
  p.high = successes == total ? 1.0 : std::min(1.0, centre + half_width);
  return p;
}

PairedTest McNemar(const std::vector<bool>& a, const std::vector<bool>& b, int bootstrap_samples, unsigned seed) {
  PairedTest test;
  // Without an error channel, mismatched inputs give an empty comparison
  // (all counts 0) that a report shows as such rather than a made-up figure.
  if (a.size() != b.size() || a.empty()) return test;
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] && b[i]) {
      ++test.both;
    } else if (a[i]) {
      ++test.only_a;
    } else if (b[i]) {
      ++test.only_b;
    } else {
      ++test.neither;
    }
  }
  test.difference = static_cast<double>(test.only_a - test.only_b) / static_cast<double>(n);
  const int discordant = test.only_a + test.only_b;
  if (discordant > 0) {
    test.p_value = std::min(1.0, 2 * BinomialHalfCdf(std::min(test.only_a, test.only_b), discordant));
  }

  test.diff_low = test.diff_high = test.difference;
  if (bootstrap_samples <= 0) return test;
  // mt19937's output sequence is fixed by the standard, and indices are drawn
  // from it directly (not through a distribution, whose algorithm is up to
  // the library), so a seed gives the same interval everywhere.
  std::mt19937 rng(seed);
  std::vector<double> differences;
  differences.reserve(bootstrap_samples);
  for (int s = 0; s < bootstrap_samples; ++s) {
    long delta = 0;
    for (size_t i = 0; i < n; ++i) {
      const size_t pick = static_cast<size_t>((static_cast<std::uint64_t>(rng()) * n) >> 32);
      delta += static_cast<long>(a[pick]) - static_cast<long>(b[pick]);
    }
    differences.push_back(static_cast<double>(delta) / static_cast<double>(n));
  }
  std::sort(differences.begin(), differences.end());
  test.diff_low = Quantile(differences, 0.025);
  test.diff_high = Quantile(differences, 0.975);
  return test;
}

}  // namespace needle::evals
