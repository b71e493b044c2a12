#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"
#include "loupe/metrics/disentanglement.h"

namespace loupe {
namespace {

// Every combination of factor 0 (5 values) and factor 1 (4 values), `repeats` times:
// the factors are exactly independent in the sample.
torch::Tensor factor_grid(int64_t repeats) {
  const auto a = torch::arange(5, torch::kLong).repeat_interleave(4).repeat(repeats);
  const auto b = torch::arange(4, torch::kLong).repeat(5 * repeats);
  return torch::stack({a, b}, 1);
}

}  // namespace

TEST(Disentanglement, DiscretiseUsesEqualWidthBinsPerColumn) {
  const auto z = torch::tensor({{0.0, 5.0}, {0.49, 5.0}, {0.5, 5.0}, {1.0, 5.0}});
  const auto d = discretize_latents(z, 2);
  EXPECT_TRUE(torch::equal(d, torch::tensor({{0, 0}, {0, 0}, {1, 0}, {1, 0}}, torch::kLong)));
}

TEST(Disentanglement, HandComputedMutualInformation2x2) {
  // p(z,v): (0,0) 1/4, (0,1) 1/4, (1,1) 1/2; p(z) = (1/2,1/2), p(v) = (1/4,3/4).
  const auto z = torch::tensor({0, 0, 1, 1}, torch::kLong).unsqueeze(1);
  const auto v = torch::tensor({0, 1, 1, 1}, torch::kLong).unsqueeze(1);
  const double expected = 0.25 * std::log(2.0) + 0.25 * std::log(2.0 / 3.0) + 0.5 * std::log(4.0 / 3.0);
  EXPECT_NEAR(mutual_information_matrix(z, v).item<double>(), expected, 1e-12);
  EXPECT_NEAR(factor_entropies(v).item<double>(), -(0.25 * std::log(0.25) + 0.75 * std::log(0.75)), 1e-12);
  // Factor values need not be 0..C-1.
  EXPECT_NEAR(mutual_information_matrix(z, v * 7 + 100).item<double>(), expected, 1e-12);
}

TEST(Disentanglement, PerfectCopyOfEachFactorGivesMigOne) {
  const auto v = factor_grid(10);
  const auto z = v.flip(1).to(torch::kFloat);  // latent 0 copies factor 1, latent 1 factor 0
  const auto r = mutual_information_gap(z, v);
  EXPECT_NEAR(r.mig, 1.0, 1e-9);
  EXPECT_NEAR(r.mutual_information[1][0].item<double>(), std::log(5.0), 1e-9);
  EXPECT_NEAR(r.mutual_information[0][1].item<double>(), std::log(4.0), 1e-9);
  EXPECT_NEAR(r.entropies[0].item<double>(), std::log(5.0), 1e-9);
  const auto d = dci(z, v);
  EXPECT_NEAR(d.disentanglement, 1.0, 1e-6);
  EXPECT_NEAR(d.completeness, 1.0, 1e-6);
  EXPECT_NEAR(sap_score(z, v), 1.0, 1e-9);
}

TEST(Disentanglement, IndependentNoiseGivesMigNearZero) {
  torch::manual_seed(0);
  const auto v = factor_grid(250);  // 5000 samples
  const auto r = mutual_information_gap(torch::randn({5000, 3}), v);
  EXPECT_LT(r.mig, 0.02);
  EXPECT_GE(r.mig, 0.0);
}

TEST(Disentanglement, MixedCodesHaveZeroDciDisentanglement) {
  // z0 = a + b, z1 = a - b for standardised, uncorrelated a and b: each code weighs both
  // factors equally, so its importance entropy is maximal.
  const auto v = factor_grid(4).to(torch::kDouble);
  const auto a = (v.select(1, 0) - v.select(1, 0).mean()) / v.select(1, 0).std(false);
  const auto b = (v.select(1, 1) - v.select(1, 1).mean()) / v.select(1, 1).std(false);
  const auto z = torch::stack({a + b, a - b}, 1);
  const auto d = dci(z, factor_grid(4), 1e-9);
  EXPECT_NEAR(d.disentanglement, 0.0, 1e-6);
  EXPECT_NEAR(d.completeness, 0.0, 1e-6);
}

TEST(Disentanglement, BadInputIsNamed) {
  auto z = torch::randn({4, 2});
  z[1][1] = NAN;
  try {
    mutual_information_gap(z, torch::zeros({4, 1}, torch::kLong));
    FAIL() << "expected a NaN error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("latents: found NaN"), std::string::npos) << e.what();
  }
  try {
    mutual_information_gap(torch::randn({4, 2}), torch::zeros({3, 1}, torch::kLong));
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("factors have 3 rows but the latents have 4"), std::string::npos) << e.what();
  }
  try {
    mutual_information_gap(torch::randn({4, 2}), torch::zeros({4, 1}, torch::kLong));
    FAIL() << "expected a constant-factor error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("factor 0 takes a single value"), std::string::npos) << e.what();
  }
  EXPECT_THROW(mutual_information_gap(torch::randn({4, 2}), torch::zeros({4, 1})), Error);  // float factors
}

}  // namespace loupe
