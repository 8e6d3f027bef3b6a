#include "needle/evals/stats.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace needle::evals {
namespace {

// Values from the closed forms, computed independently (Python, exact fractions).
TEST(Quantile, InterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile({10, 20, 30, 40}, 0.95), 38.5);
  EXPECT_DOUBLE_EQ(Quantile({7}, 0.95), 7);
  EXPECT_DOUBLE_EQ(Quantile({}, 0.5), 0);
}

TEST(Wilson, EndsAreExact) {
  EXPECT_EQ(WilsonInterval(0, 25).low, 0.0);
  EXPECT_EQ(WilsonInterval(25, 25).high, 1.0);
}

TEST(Wilson, EightOfTen) {
  Proportion p = WilsonInterval(8, 10);
  EXPECT_EQ(p.successes, 8);
  EXPECT_EQ(p.total, 10);
  EXPECT_DOUBLE_EQ(p.value, 0.8);
  EXPECT_NEAR(p.low, 0.4902, 5e-5);
  EXPECT_NEAR(p.high, 0.9433, 5e-5);
}

TEST(Wilson, HalfOfHundredIsSymmetric) {
  Proportion p = WilsonInterval(50, 100);
  EXPECT_NEAR(p.low, 0.403832, 1e-6);
  EXPECT_NEAR(p.high, 0.596168, 1e-6);
}

TEST(Wilson, ExtremesStayInsideZeroOne) {
  Proportion none = WilsonInterval(0, 10);
  EXPECT_DOUBLE_EQ(none.low, 0);
  EXPECT_NEAR(none.high, 0.277533, 1e-6);
  Proportion all = WilsonInterval(10, 10);
  EXPECT_NEAR(all.low, 0.722467, 1e-6);
  EXPECT_LE(all.high, 1.0);
  EXPECT_NEAR(all.high, 1.0, 1e-12);
}

TEST(Wilson, NothingObservedIsTheWholeRange) {
  Proportion p = WilsonInterval(0, 0);
  EXPECT_DOUBLE_EQ(p.value, 0);
  EXPECT_DOUBLE_EQ(p.low, 0);
  EXPECT_DOUBLE_EQ(p.high, 1);
}

TEST(Wilson, OtherZ) {
  // z = 1 narrows the interval.
  Proportion p95 = WilsonInterval(1, 3);
  Proportion p68 = WilsonInterval(1, 3, 1.0);
  EXPECT_NEAR(p95.low, 0.061492, 1e-6);
  EXPECT_NEAR(p95.high, 0.792340, 1e-6);
  EXPECT_GT(p68.low, p95.low);
  EXPECT_LT(p68.high, p95.high);
}

// a right on `only_a + both` items, b on `only_b + both`.
void Fill(int both, int only_a, int only_b, int neither, std::vector<bool>* a, std::vector<bool>* b) {
  auto add = [&](int count, bool x, bool y) {
    for (int i = 0; i < count; ++i) {
      a->push_back(x);
      b->push_back(y);
    }
  };
  add(both, true, true);
  add(only_a, true, false);
  add(only_b, false, true);
  add(neither, false, false);
}

TEST(McNemar, TenVersusTwo) {
  std::vector<bool> a, b;
  Fill(20, 10, 2, 8, &a, &b);
  PairedTest t = McNemar(a, b);
  EXPECT_EQ(t.both, 20);
  EXPECT_EQ(t.only_a, 10);
  EXPECT_EQ(t.only_b, 2);
  EXPECT_EQ(t.neither, 8);
  EXPECT_DOUBLE_EQ(t.difference, 8.0 / 40);
  EXPECT_NEAR(t.p_value, 0.0386, 5e-5);  // 2 * 79 / 4096
}

TEST(McNemar, IsSymmetric) {
  std::vector<bool> a, b;
  Fill(20, 10, 2, 8, &a, &b);
  PairedTest ab = McNemar(a, b), ba = McNemar(b, a);
  EXPECT_DOUBLE_EQ(ab.p_value, ba.p_value);
  EXPECT_DOUBLE_EQ(ab.difference, -ba.difference);
}

TEST(McNemar, NoDiscordantPairsGiveOne) {
  std::vector<bool> a, b;
  Fill(5, 0, 0, 5, &a, &b);
  PairedTest t = McNemar(a, b);
  EXPECT_DOUBLE_EQ(t.p_value, 1);
  EXPECT_DOUBLE_EQ(t.difference, 0);
  EXPECT_DOUBLE_EQ(t.diff_low, 0);
  EXPECT_DOUBLE_EQ(t.diff_high, 0);
}

TEST(McNemar, PValueIsCappedAtOne) {
  std::vector<bool> a, b;
  Fill(0, 3, 3, 0, &a, &b);  // 2 * 42 / 64 = 1.3125 before the cap
  EXPECT_DOUBLE_EQ(McNemar(a, b).p_value, 1);
}

TEST(McNemar, SmallExactValues) {
  std::vector<bool> a, b;
  Fill(0, 5, 0, 0, &a, &b);
  EXPECT_NEAR(McNemar(a, b).p_value, 0.0625, 1e-12);
  std::vector<bool> c, d;
  Fill(0, 1, 0, 0, &c, &d);
  EXPECT_DOUBLE_EQ(McNemar(c, d).p_value, 1);
}

TEST(McNemar, LargeCountsDoNotUnderflow) {
  std::vector<bool> a, b;
  Fill(0, 1000, 900, 100, &a, &b);
  EXPECT_NEAR(McNemar(a, b, 0).p_value, 0.0231088, 1e-6);
}

TEST(McNemar, MismatchedSizesGiveAnEmptyComparison) {
  PairedTest t = McNemar({true, false}, {true});
  EXPECT_EQ(t.both + t.only_a + t.only_b + t.neither, 0);
  EXPECT_DOUBLE_EQ(t.p_value, 1);
}

TEST(Bootstrap, SeededAndReproducible) {
  std::vector<bool> a, b;
  Fill(20, 10, 2, 8, &a, &b);
  PairedTest first = McNemar(a, b, 2000, 42), again = McNemar(a, b, 2000, 42), other = McNemar(a, b, 2000, 43);
  EXPECT_DOUBLE_EQ(first.diff_low, again.diff_low);
  EXPECT_DOUBLE_EQ(first.diff_high, again.diff_high);
  EXPECT_TRUE(first.diff_low != other.diff_low || first.diff_high != other.diff_high);
}

TEST(Bootstrap, IntervalIsPlausible) {
  std::vector<bool> a, b;
  Fill(20, 10, 2, 8, &a, &b);
  PairedTest t = McNemar(a, b, 4001, 7);
  // The difference is 0.2; its standard error is about
  // sqrt((0.3 - 0.04) / 40) = 0.081, so the 95% interval is near 0.2 +- 0.16.
  EXPECT_LT(t.diff_low, t.difference);
  EXPECT_GT(t.diff_high, t.difference);
  EXPECT_NEAR(t.diff_low, 0.04, 0.04);
  EXPECT_NEAR(t.diff_high, 0.36, 0.04);
  // With 4001 samples both quantiles fall on a sample, and every resampled
  // difference is a multiple of 1/40.
  EXPECT_NEAR(t.diff_low * 40, std::round(t.diff_low * 40), 1e-9);
}

TEST(Bootstrap, ZeroSamplesGiveAPointInterval) {
  std::vector<bool> a, b;
  Fill(1, 3, 1, 0, &a, &b);
  PairedTest t = McNemar(a, b, 0);
  EXPECT_DOUBLE_EQ(t.diff_low, 0.4);
  EXPECT_DOUBLE_EQ(t.diff_high, 0.4);
}

}  // namespace
}  // namespace needle::evals
