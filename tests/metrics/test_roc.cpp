#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"
#include "loupe/metrics/roc.h"

namespace loupe {

TEST(Roc, KnownRanking) {
  // Pairs (pos, neg): 0.35 > 0.1 only, 0.8 > both: 3 of 4 -> 0.75.
  const auto scores = torch::tensor({0.1, 0.4, 0.35, 0.8});
  const auto labels = torch::tensor({0, 0, 1, 1});
  EXPECT_DOUBLE_EQ(auroc(scores, labels), 0.75);
  EXPECT_DOUBLE_EQ(auroc(scores, 1 - labels), 0.25);
  const auto c = roc_curve(scores, labels);
  EXPECT_TRUE(torch::allclose(c.tpr, torch::tensor({0.0, 0.5, 0.5, 1.0, 1.0}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(c.fpr, torch::tensor({0.0, 0.0, 0.5, 0.5, 1.0}, torch::kDouble)));
  EXPECT_TRUE(std::isinf(c.thresholds[0].item<double>()));
}

TEST(Roc, TiesCountHalf) {
  // pos 0.5 ties both negatives (2 x 1/2), pos 0.9 beats both: (1 + 2) / 4.
  const auto scores = torch::tensor({0.5, 0.5, 0.5, 0.9});
  const auto labels = torch::tensor({false, true, false, true});
  EXPECT_DOUBLE_EQ(auroc(scores, labels), 0.75);
  const auto c = roc_curve(scores, labels);
  EXPECT_EQ(c.thresholds.size(0), 3);  // +inf, 0.9, 0.5: one point per distinct score
  // All scores equal: 1/2.
  EXPECT_DOUBLE_EQ(auroc(torch::ones({5}), torch::tensor({0, 1, 0, 1, 1})), 0.5);
}

TEST(Roc, BadInputIsNamed) {
  try {
    auroc(torch::tensor({0.1, 0.2}), torch::tensor({1, 1}));
    FAIL() << "expected a one-class error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("both classes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(auroc(torch::tensor({0.1, std::nan("")}), torch::tensor({0, 1})), Error);
  EXPECT_THROW(auroc(torch::tensor({0.1, 0.2}), torch::tensor({0, 2})), Error);
  EXPECT_THROW(auroc(torch::tensor({0.1, 0.2}), torch::tensor({0, 1, 1})), Error);
}

}  // namespace loupe
