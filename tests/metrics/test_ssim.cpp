#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/metrics/ssim.h"

namespace loupe {

TEST(Ssim, ImageWithItselfIsOne) {
  torch::manual_seed(0);
  const auto x = torch::rand({2, 3, 20, 16});
  EXPECT_TRUE(torch::allclose(ssim(x, x), torch::ones({2}, torch::kDouble), 0, 1e-12));
  EXPECT_EQ(ssim_map(x, x).sizes(), (std::vector<int64_t>{2, 3, 10, 6}));
}

TEST(Ssim, ConstantImagesHaveClosedForm) {
  // Constant a vs b: no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1) with C1 = 1e-4.
  const double a = 0.2, b = 0.6, c1 = 1e-4;
  const double expected = (2 * a * b + c1) / (a * a + b * b + c1);
  const auto x = torch::full({1, 1, 12, 12}, a), y = torch::full({1, 1, 12, 12}, b);
  EXPECT_NEAR(ssim(x, y).item<double>(), expected, 1e-6);
  // Per channel, then averaged: one channel identical (1), one constant pair.
  auto x2 = torch::rand({1, 2, 12, 12}), y2 = x2.clone();
  x2[0][1].fill_(a);
  y2[0][1].fill_(b);
  EXPECT_NEAR(ssim(x2, y2).item<double>(), (1 + expected) / 2, 1e-6);
}

TEST(Ssim, BadInputIsNamed) {
  EXPECT_THROW(ssim(torch::rand({1, 1, 12, 12}), torch::rand({1, 1, 12, 13})), Error);
  try {
    ssim(torch::rand({1, 1, 8, 8}), torch::rand({1, 1, 8, 8}));
    FAIL() << "expected a size error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than the 11x11 window"), std::string::npos) << e.what();
  }
}

}  // namespace loupe
