#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/anomaly/counterfactual.h"

namespace loupe {

TEST(Counterfactual, MorphFramesAreEvenlySpacedWithExactEnds) {
  // Ends chosen so that a + (b-a)*1 would not round back to b in float.
  const auto from = torch::tensor({{0.1f, -3.0f, 2.0f}, {1e8f, 0.3f, -0.7f}});
  const auto to = torch::tensor({{0.7f, 1.0f, 2.0f}, {-1e-8f, 0.2f, 5.0f}});
  const auto m = morph_latents(from, to, 5);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{2, 5, 3}));
  EXPECT_TRUE(torch::equal(m.select(1, 0), from));
  EXPECT_TRUE(torch::equal(m.select(1, 4), to));
  // Row 0, dim 1 goes -3 -> 1 in steps of 1; dim 2 stays 2.
  EXPECT_TRUE(torch::allclose(m[0].select(1, 1), torch::tensor({-3.f, -2.f, -1.f, 0.f, 1.f})));
  EXPECT_TRUE(torch::equal(m[0].select(1, 2), torch::full({5}, 2.f)));
  // Two frames are just the ends; double stays double.
  const auto two = morph_latents(from.to(torch::kDouble), to.to(torch::kDouble), 2);
  EXPECT_EQ(two.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(two.select(1, 1), to.to(torch::kDouble)));
}

TEST(Counterfactual, MorphRejectsBadInput) {
  const auto a = torch::zeros({2, 3});
  EXPECT_LOUPE_ERROR(morph_latents(a, a, 1), "morph steps 1");
  EXPECT_LOUPE_ERROR(morph_latents(a, torch::zeros({2, 4}), 3), "morph end codes");
  EXPECT_LOUPE_ERROR(morph_latents(torch::zeros({3}), torch::zeros({3}), 3), "morph start codes");
  EXPECT_LOUPE_ERROR(morph_latents(a, torch::full({2, 3}, NAN), 3), "NaN");
}

TEST(Counterfactual, OutliersPerDimensionCounts) {
  const auto counts = outliers_per_dimension(torch::tensor({3, 0, 3, 3, 1}, torch::kLong), 5);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({1, 1, 0, 3, 0}, torch::kLong)));
  EXPECT_TRUE(
      torch::equal(outliers_per_dimension(torch::zeros({0}, torch::kLong), 2), torch::zeros({2}, torch::kLong)));
  EXPECT_LOUPE_ERROR(outliers_per_dimension(torch::tensor({0, 5}, torch::kLong), 5), "[0,5)");
  EXPECT_LOUPE_ERROR(outliers_per_dimension(torch::tensor({0.5f}), 5), "integer");
}

}  // namespace loupe
