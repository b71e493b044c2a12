#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "loupe/explain/baseline.h"

namespace loupe {

TEST(Baseline, GaussianBlurOfAnImpulseIsTheNormalisedKernel) {
  auto x = torch::zeros({1, 2, 11, 11});
  x[0][1][5][5] = 1;
  const auto y = gaussian_blur(x, 1.0);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(y[0][0].abs().sum().item<float>(), 0.f);  // channels stay apart
  // Separable kernel over radius 3: k(d) = exp(−d²/2) / Σ_{|e|≤3} exp(−e²/2).
  double norm = 0;
  for (int e = -3; e <= 3; ++e) norm += std::exp(-e * e / 2.0);
  const auto k = [&](int d) { return std::exp(-d * d / 2.0) / norm; };
  EXPECT_NEAR(y[0][1][5][5].item<double>(), k(0) * k(0), 1e-6);
  EXPECT_NEAR(y[0][1][6][4].item<double>(), k(1) * k(1), 1e-6);
  EXPECT_NEAR(y[0][1][5][8].item<double>(), k(3) * k(0), 1e-6);
  EXPECT_NEAR(y[0][1][5][9].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(y.sum().item<double>(), 1.0, 1e-5);
}

TEST(Baseline, KindsAndEdges) {
  const auto x = torch::rand({2, 3, 4, 5});
  EXPECT_TRUE(torch::equal(make_baseline(x, Baseline::Black, 1), torch::zeros_like(x)));
  EXPECT_TRUE(torch::equal(make_baseline(x, Baseline::White, 1), torch::ones_like(x)));
  // Replicated borders keep a constant image constant, even with a kernel wider than it.
  const auto flat = torch::full({1, 1, 3, 3}, 0.25f);
  EXPECT_TRUE(torch::allclose(make_baseline(flat, Baseline::Blur, 4), flat));
  EXPECT_TRUE(torch::equal(gaussian_blur(x, 0), x));
  EXPECT_EQ(parse_baseline("blur"), Baseline::Blur);
  EXPECT_LOUPE_ERROR(parse_baseline("grey"), "grey");
  EXPECT_LOUPE_ERROR(gaussian_blur(x, -1), "sigma");
}

}  // namespace loupe
