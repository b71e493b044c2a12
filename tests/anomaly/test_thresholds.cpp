#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/anomaly/thresholds.h"
#include "loupe/core/error.h"

namespace loupe {

TEST(Thresholds, LargestGapAboveTheNormalFraction) {
  // Gaps above the 3rd score: 0.1, 3.7, 0.2 -> midpoint of 1.3 and 5.
  const auto scores = torch::tensor({5.2, 1.0, 1.2, 5.0, 1.1, 1.3});
  EXPECT_NEAR(largest_gap_threshold(scores, 0.5), 3.15, 1e-6);
  // A wide gap among the lowest scores is ignored: at least half stays normal.
  EXPECT_NEAR(largest_gap_threshold(torch::tensor({-100.0, 1.0, 1.1, 1.2, 1.3, 2.3}), 0.5), 1.8, 1e-6);
}

TEST(Thresholds, LargestGapIsWeightedByTheScoresAboveIt) {
  // Seven normals, four outliers and one extreme one. The widest plain gap, 4.6 -> 8.0 (3.4),
  // has one score above it (weight 3.4); 1.6 -> 4.0 (2.4) has five (weight 12): all five are flagged.
  const auto scores = torch::tensor({1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 4.0, 4.2, 4.4, 4.6, 8.0});
  const double t = largest_gap_threshold(scores, 0.5);
  EXPECT_NEAR(t, 2.8, 1e-6);
  EXPECT_EQ(scores.gt(t).sum().item<int64_t>(), 5);
}

TEST(Thresholds, PercentileInterpolatesLinearly) {
  const auto scores = torch::tensor({4.0, 1.0, 3.0, 2.0});
  EXPECT_DOUBLE_EQ(percentile_threshold(scores, 50), 2.5);
  EXPECT_NEAR(percentile_threshold(scores, 90), 3.7, 1e-6);
  EXPECT_DOUBLE_EQ(percentile_threshold(scores, 100), 4.0);
}

TEST(Thresholds, TargetFprOnReference) {
  const auto reference = torch::arange(1, 11, torch::kDouble);  // 1..10
  const double t = fpr_threshold(reference, 0.2);
  EXPECT_DOUBLE_EQ(t, 8.0);  // flags 9 and 10: FPR 0.2
  EXPECT_EQ(reference.gt(t).sum().item<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(fpr_threshold(reference, 0.0), 10.0);  // flags none
  EXPECT_DOUBLE_EQ(fpr_threshold(reference, 0.25), 8.0);  // floor(2.5) = 2 allowed
}

TEST(Thresholds, BadInputIsNamed) {
  try {
    fpr_threshold(torch::tensor({1.0, std::nan("")}), 0.1);
    FAIL() << "expected a NaN error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FPR threshold reference scores: found NaN"), std::string::npos) << e.what();
  }
  EXPECT_THROW(largest_gap_threshold(torch::tensor({1.0}), 0.5), Error);
  EXPECT_THROW(percentile_threshold(torch::tensor({1.0, 2.0}), 101), Error);
  EXPECT_THROW(fpr_threshold(torch::tensor({1.0, 2.0}), 1.0), Error);
}

}  // namespace loupe
