#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

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

namespace {

// The definition written out: at every position where the 11x11 window fits, Gaussian-weighted
// means, population variances and covariance, per channel; the map averaged.
double naive_ssim(const torch::Tensor& x, const torch::Tensor& y) {
  const double sigma = 1.5, c1 = 1e-4, c2 = 9e-4;
  double w[11][11], total = 0;
  for (int i = 0; i < 11; ++i)
    for (int j = 0; j < 11; ++j)
      total += w[i][j] = std::exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * sigma * sigma));
  const auto a = x.to(torch::kDouble).contiguous(), b = y.to(torch::kDouble).contiguous();
  const auto pa = a.accessor<double, 3>(), pb = b.accessor<double, 3>();
  double sum = 0;
  int64_t count = 0;
  for (int64_t c = 0; c < a.size(0); ++c)
    for (int64_t r = 0; r + 11 <= a.size(1); ++r)
      for (int64_t q = 0; q + 11 <= a.size(2); ++q) {
        double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
        for (int i = 0; i < 11; ++i)
          for (int j = 0; j < 11; ++j) {
            const double k = w[i][j] / total, u = pa[c][r + i][q + j], v = pb[c][r + i][q + j];
            mx += k * u, my += k * v, xx += k * u * u, yy += k * v * v, xy += k * u * v;
          }
        const double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
        sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        ++count;
      }
  return sum / static_cast<double>(count);
}

}  // namespace

TEST(Ssim, MatchesTheDefinitionWrittenOut) {
  torch::manual_seed(3);
  const auto x = torch::rand({2, 2, 13, 17});
  const auto y = (x + 0.2 * torch::randn({2, 2, 13, 17})).clamp(0, 1);
  const auto got = ssim(x, y);
  for (int64_t n = 0; n < 2; ++n) EXPECT_NEAR(got[n].item<double>(), naive_ssim(x[n], y[n]), 1e-10) << "image " << n;
}

TEST(Ssim, LargeBatchesAreScoredPerImage) {
  // More images than one internal chunk: each image's score is its own.
  torch::manual_seed(4);
  const auto x = torch::rand({600, 1, 12, 12}), y = torch::rand({600, 1, 12, 12});
  const auto all = ssim(x, y);
  ASSERT_EQ(all.size(0), 600);
  for (const int64_t n : {0, 255, 256, 599})
    EXPECT_NEAR(all[n].item<double>(), ssim(x.narrow(0, n, 1), y.narrow(0, n, 1)).item<double>(), 1e-12);
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
