// Interval estimates and paired tests for accuracy figures.
#ifndef NEEDLE_EVALS_STATS_H_
#define NEEDLE_EVALS_STATS_H_

#include <vector>

namespace needle::evals {

struct Proportion {
  int successes = 0;
  int total = 0;
  double value = 0;  // successes / total, 0 when total == 0
  double low = 0;    // 95% Wilson score interval
  double high = 0;
};
// The q-quantile (0..1) by linear interpolation between closest ranks, as
// numpy.percentile does by default; 0 for no values.
double Quantile(std::vector<double> values, double q);

Proportion WilsonInterval(int successes, int total, double z = 1.959963984540054);

// Paired comparison of two systems on the same items (a[i], b[i]: item i right).
struct PairedTest {
  int both = 0, only_a = 0, only_b = 0, neither = 0;
  double difference = 0;  // accuracy(a) - accuracy(b)
  double p_value = 1;     // exact two-sided McNemar (binomial on the discordant pairs)
  double diff_low = 0;    // 95% paired bootstrap interval of the difference
  double diff_high = 0;
};
// Sizes must match. The bootstrap is seeded, so the result is reproducible.
PairedTest McNemar(const std::vector<bool>& a, const std::vector<bool>& b, int bootstrap_samples = 2000,
                   unsigned seed = 1234);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_STATS_H_
