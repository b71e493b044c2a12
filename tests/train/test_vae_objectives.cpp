#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/train/vae_objectives.h"

namespace loupe {
namespace {

// Posterior means [M,L] with unit-variance, independent columns (or column 1 = column 0),
// posterior std sigma, and z sampled from the posteriors.
struct Codes {
  torch::Tensor z, mu, logvar;
};
Codes sample_codes(int64_t m, int64_t l, double sigma, bool correlated) {
  auto gen = make_generator(7);
  auto mu = at::randn({m, l}, gen, torch::kDouble);
  if (correlated) mu.select(1, 1).copy_(mu.select(1, 0));
  auto logvar = torch::full({m, l}, 2 * std::log(sigma), torch::kDouble);
  auto z = mu + sigma * at::randn({m, l}, gen, torch::kDouble);
  return {z, mu, logvar};
}

}  // namespace

TEST(VaeObjectives, KlPerDimensionHandValue) {
  // KL = 0.5 (mu^2 + s^2 - 1 - log s^2): (mu 1, s^2 1) -> 0.5; (mu 0, s^2 2) -> 0.5 (1 - log 2).
  const auto mu = torch::tensor({{1.0, 0.0}, {1.0, 0.0}});
  const auto logvar = torch::tensor({{0.0, std::log(2.0)}, {0.0, std::log(2.0)}});
  const auto kl = kl_per_dimension(mu, logvar);
  EXPECT_NEAR(kl[0].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(kl[1].item<double>(), 0.5 * (1 - std::log(2.0)), 1e-6);
}

TEST(VaeObjectives, ReconstructionHandValues) {
  const auto logits = torch::zeros({1, 1, 2, 2}), x = torch::ones({1, 1, 2, 2});
  // BCE(logit 0, 1) = log 2 per pixel; Gaussian: (sigmoid(0) - 1)^2 = 0.25 per pixel.
  EXPECT_NEAR(reconstruction_loss(logits, x, Likelihood::kBernoulli).item<double>(), 4 * std::log(2.0), 1e-6);
  EXPECT_NEAR(reconstruction_loss(logits, x, Likelihood::kGaussian).item<double>(), 1.0, 1e-6);
  try {
    reconstruction_loss(logits, torch::ones({1, 1, 3, 3}), Likelihood::kBernoulli);
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reconstruction loss"), std::string::npos) << e.what();
  }
}

TEST(VaeObjectives, TermsSumToTheSampledKl) {
  // MI + TC + dimKL telescopes to E[log q(z|x) - log p(z)] for any weights.
  const auto c = sample_codes(64, 3, 0.5, false);
  const auto direct = (-0.5 * ((c.z - c.mu).pow(2) / c.logvar.exp() + c.logvar) + 0.5 * c.z.pow(2)).sum(1).mean();
  for (auto estimator : {TcEstimator::kStratified, TcEstimator::kMinibatchWeighted}) {
    const auto t = tc_decomposition(c.z, c.mu, c.logvar, 1000, estimator);
    EXPECT_NEAR((t.mutual_information + t.total_correlation + t.dimension_kl).item<double>(), direct.item<double>(),
                1e-9);
  }
}

TEST(VaeObjectives, TotalCorrelationNearZeroForIndependentLatents) {
  // Aggregate posterior N(0, 1.25 I): factorised, TC = 0.
  const auto c = sample_codes(1500, 2, 0.5, false);
  const auto t = tc_decomposition(c.z, c.mu, c.logvar, 1500);
  EXPECT_NEAR(t.total_correlation.item<double>(), 0.0, 0.03);
}

TEST(VaeObjectives, TotalCorrelationOfCorrelatedLatentsMatchesGaussianValue) {
  // mu_1 = mu_0 ~ N(0,1), sigma 0.3: q(z) is Gaussian with correlation rho = 1 / 1.09,
  // so TC = -0.5 log(1 - rho^2) = 0.92.
  const auto c = sample_codes(1500, 2, 0.3, true);
  const double rho = 1 / 1.09;
  const auto t = tc_decomposition(c.z, c.mu, c.logvar, 1500);
  EXPECT_NEAR(t.total_correlation.item<double>(), -0.5 * std::log(1 - rho * rho), 0.1);
}

TEST(VaeObjectives, MutualInformationOfSeparatedPosteriorsIsLogN) {
  // Far-apart, narrow posteriors: q(z_i) = q(z_i|x_i) / N, so MI = log N.
  const auto mu = torch::arange(8, torch::kDouble).unsqueeze(1) * 10;
  const auto logvar = torch::full({8, 1}, 2 * std::log(0.01), torch::kDouble);
  const auto t = tc_decomposition(mu, mu, logvar, 8);
  EXPECT_NEAR(t.mutual_information.item<double>(), std::log(8.0), 1e-9);
  EXPECT_NEAR(t.total_correlation.item<double>(), 0.0, 1e-9);  // one latent: no correlation
}

TEST(VaeObjectives, MinibatchWeightedOffsetsWhenBatchIsDataset) {
  // With N = M the stratified weights are all 1/M, so MWS (1/(NM)) shifts MI by log N,
  // TC by (L-1) log N and dimKL by -L log N.
  const auto c = sample_codes(50, 3, 0.5, false);
  const auto s = tc_decomposition(c.z, c.mu, c.logvar, 50, TcEstimator::kStratified);
  const auto w = tc_decomposition(c.z, c.mu, c.logvar, 50, TcEstimator::kMinibatchWeighted);
  const double log_n = std::log(50.0);
  EXPECT_NEAR((w.mutual_information - s.mutual_information).item<double>(), log_n, 1e-9);
  EXPECT_NEAR((w.total_correlation - s.total_correlation).item<double>(), 2 * log_n, 1e-9);
  EXPECT_NEAR((w.dimension_kl - s.dimension_kl).item<double>(), -3 * log_n, 1e-9);
}

TEST(VaeObjectives, AnnealedWeight) {
  EXPECT_DOUBLE_EQ(annealed_weight(0, 5000, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(annealed_weight(2500, 5000, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(annealed_weight(9000, 5000, 2.0), 2.0);
  EXPECT_DOUBLE_EQ(annealed_weight(3, 0, 0.7), 0.7);
}

TEST(VaeObjectives, LossCombinesTheTermsAsDocumented) {
  const auto c = sample_codes(16, 3, 0.5, false);
  VaeOutput out{c.mu.to(torch::kFloat), c.logvar.to(torch::kFloat), c.z.to(torch::kFloat), torch::randn({16, 1, 4, 4})};
  const auto x = torch::rand({16, 1, 4, 4});
  auto o = VaeObjectiveOptions().set_beta(6).set_anneal_steps(100).set_dataset_size(400);
  const VaeLoss tc = vae_loss(out, x, o, 50);  // gamma = 0.5 on beta * TC
  EXPECT_DOUBLE_EQ(tc.weight, 0.5);
  EXPECT_NEAR(tc.loss, tc.reconstruction + tc.mutual_information + 0.5 * 6 * tc.total_correlation + tc.dimension_kl,
              1e-3);
  const VaeLoss dim = vae_loss(out, x, o.set_anneal_term(AnnealTerm::kDimensionKl), 50);
  EXPECT_NEAR(dim.loss,
              dim.reconstruction + dim.mutual_information + 6 * dim.total_correlation + 0.5 * dim.dimension_kl, 1e-3);
  const VaeLoss beta = vae_loss(out, x, o.set_kind(VaeObjectiveKind::kBetaVae), 50);
  EXPECT_NEAR(beta.loss, beta.reconstruction + 6 * beta.kl, 1e-3);
  EXPECT_TRUE(std::isnan(beta.total_correlation));
  const VaeLoss cap = vae_loss(
      out, x,
      o.set_kind(VaeObjectiveKind::kCapacity).set_capacity_max(20).set_capacity_steps(200).set_capacity_gamma(100), 50);
  EXPECT_DOUBLE_EQ(cap.capacity, 5.0);
  EXPECT_NEAR(cap.loss, cap.reconstruction + 100 * std::abs(cap.kl - 5.0), 1e-2);
}

TEST(VaeObjectives, BadInputIsNamed) {
  const auto mu = torch::zeros({4, 2});
  EXPECT_THROW(tc_decomposition(mu, mu, torch::zeros({4, 3}), 10), Error);
  try {
    tc_decomposition(mu, mu, mu, 2);
    FAIL() << "expected a dataset size error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dataset size 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_objective("factor_vae"), Error);
  EXPECT_THROW(check_objective_options(VaeObjectiveOptions().set_beta(-1)), Error);
  EXPECT_EQ(parse_objective("beta_tcvae"), VaeObjectiveKind::kBetaTcVae);
}

}  // namespace loupe
