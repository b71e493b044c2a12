// gaussian_blur: hand-computed borders (replicate vs scipy's reflect vs 'valid'), constants
// kept, the OpenCV σ rule, and bad input.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "loupe/core/blur.h"

namespace loupe {

TEST(Blur, BordersMatchHandComputedSums) {
  // One row [0, 0, 1], σ = 1, radius 2: weights g(t) = exp(−t²/2) / Σ.
  const auto x = torch::tensor({0.0, 0.0, 1.0}, torch::kDouble).view({1, 3});
  double g[5], sum = 0;
  for (int t = -2; t <= 2; ++t) sum += (g[t + 2] = std::exp(-0.5 * t * t));
  for (double& v : g) v /= sum;
  // Replicate: the row extends as 0 0 | 0 0 1 | 1 1. Reflect (scipy): 0 0 | 0 0 1 | 1 0.
  const auto rep = gaussian_blur(x, 1.0, 2, BlurBorder::kReplicate);
  const auto ref = gaussian_blur(x, 1.0, 2, BlurBorder::kReflect);
  EXPECT_NEAR(rep[0][0].item<double>(), g[4], 1e-12);
  EXPECT_NEAR(rep[0][2].item<double>(), g[2] + g[3] + g[4], 1e-12);
  EXPECT_NEAR(ref[0][2].item<double>(), g[2] + g[3], 1e-12);
  EXPECT_NEAR(ref[0][1].item<double>(), g[3] + g[4], 1e-12);  // x[3] reflects to x[2]
  // A single row is unchanged by the vertical pass with either border.
  EXPECT_NEAR(rep.sum().item<double>(), g[4] + g[3] + g[4] + g[2] + g[3] + g[4], 1e-12);
}

TEST(Blur, KeepsConstantsShapeAndDefaultsToThreeSigma) {
  const auto c = torch::full({2, 3, 5, 7}, 0.25f);
  EXPECT_TRUE(torch::allclose(gaussian_blur(c, 2.0), c));
  EXPECT_EQ(gaussian_blur(c, 2.0).sizes(), c.sizes());
  torch::manual_seed(0);
  const auto x = torch::rand({1, 9, 9}, torch::kDouble);
  EXPECT_TRUE(torch::equal(gaussian_blur(x, 1.5), gaussian_blur(x, 1.5, 5)));  // ceil(3 · 1.5) = 5
  EXPECT_TRUE(torch::equal(gaussian_blur(x, 0.0), x));
  EXPECT_TRUE(torch::equal(gaussian_blur(x, 1.0, 0), x));
}

TEST(Blur, ValidKeepsOnlyWholeWindowsAndEqualsThePaddedInterior) {
  // One row [1, 2, 4, 8], σ = 1, radius 1: the two whole windows, by hand.
  const auto row = torch::tensor({1.0, 2.0, 4.0, 8.0}, torch::kDouble).view({1, 4});
  const double e = std::exp(-0.5), s = 1 + 2 * e;
  const auto valid = gaussian_blur(row.expand({3, 4}).contiguous(), 1.0, 1, BlurBorder::kValid);
  ASSERT_EQ(valid.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_NEAR(valid[0][0].item<double>(), (e * 1 + 2 + e * 4) / s, 1e-12);
  EXPECT_NEAR(valid[0][1].item<double>(), (e * 2 + 4 + e * 8) / s, 1e-12);
  // Away from the border every rule agrees: 'valid' is the padded result's interior.
  torch::manual_seed(0);
  const auto x = torch::rand({2, 3, 17, 12}, torch::kDouble);
  const auto inner = gaussian_blur(x, 1.5, 4, BlurBorder::kReflect).narrow(2, 4, 9).narrow(3, 4, 4);
  EXPECT_TRUE(torch::allclose(gaussian_blur(x, 1.5, 4, BlurBorder::kValid), inner, 1e-12, 1e-12));
  EXPECT_LOUPE_ERROR(gaussian_blur(x, 1.5, 6, BlurBorder::kValid), "smaller than the 13x13 window");
}

TEST(Blur, OpenCvSigmaRule) {
  EXPECT_DOUBLE_EQ(opencv_sigma(3), 0.8);
  EXPECT_DOUBLE_EQ(opencv_sigma(127), 0.3 * 62 + 0.8);
}

TEST(BoxBlur, MatchesOpenCvsBlurOnHandComputedRows) {
  // One row [1,2,3,4]; BORDER_REFLECT_101 pads it as ... 3 2 | 1 2 3 4 | 3 2 ...
  const auto row = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kDouble).view({1, 4});
  // k = 3, anchor 1: [2,1,2] [1,2,3] [2,3,4] [3,4,3].
  EXPECT_TRUE(torch::allclose(box_blur(row, 1, 3),
                              torch::tensor({5.0 / 3, 2.0, 3.0, 10.0 / 3}).view({1, 4}).to(torch::kDouble)));
  // k = 2 (even), anchor 1: the window is [i-1, i].
  EXPECT_TRUE(
      torch::allclose(box_blur(row, 1, 2), torch::tensor({1.5, 1.5, 2.5, 3.5}).view({1, 4}).to(torch::kDouble)));
  // A window wider than the row reflects again: [1,2,4], k = 7 at i = 0 reads
  // positions -3..3 = 2 4 2 | 1 2 4 | 2 → 17/7.
  const auto narrow = torch::tensor({1.0, 2.0, 4.0}, torch::kDouble).view({1, 3});
  EXPECT_NEAR(box_blur(narrow, 1, 7)[0][0].item<double>(), 17.0 / 7, 1e-12);
  // Separable: a k×k box is rows then columns; constants stay; shape and dtype kept.
  const auto image = torch::rand({3, 9, 7});
  const auto both = box_blur(image, 4, 5);
  EXPECT_TRUE(torch::allclose(both, box_blur(box_blur(image, 4, 1), 1, 5), 1e-6, 1e-6));
  EXPECT_EQ(both.sizes(), image.sizes());
  EXPECT_EQ(both.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(box_blur(torch::full({2, 5, 5}, 0.25), 128, 128), torch::full({2, 5, 5}, 0.25)));
  EXPECT_TRUE(torch::equal(box_blur(image, 1, 1), image));
  EXPECT_LOUPE_ERROR(box_blur(image, 0, 3), "kernel");
  EXPECT_LOUPE_ERROR(box_blur(torch::zeros({3}), 3, 3), "[..., H, W]");
}

TEST(Blur, BadInputIsAnError) {
  EXPECT_LOUPE_ERROR(gaussian_blur(torch::zeros({3, 3}), -1.0), "sigma");
  EXPECT_LOUPE_ERROR(gaussian_blur(torch::zeros({3, 3}), std::nan("")), "sigma");
  EXPECT_LOUPE_ERROR(gaussian_blur(torch::zeros({3}), 1.0), "[..., H, W]");
  EXPECT_LOUPE_ERROR(gaussian_blur(torch::zeros({3, 3}, torch::kLong), 1.0), "floating");
}

}  // namespace loupe
