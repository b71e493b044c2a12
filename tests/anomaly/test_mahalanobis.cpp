#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/anomaly/mahalanobis.h"
#include "loupe/core/error.h"

namespace loupe {

TEST(Mahalanobis, EuclideanUnderIdentityCovariance) {
  // +-sqrt(L) e_i: mean 0 and maximum-likelihood covariance exactly I.
  const int64_t l = 3;
  const auto e = torch::eye(l, torch::kDouble) * std::sqrt(3.0);
  const auto fit = fit_gaussian(torch::cat({e, -e}));
  EXPECT_TRUE(torch::allclose(fit.covariance, torch::eye(l, torch::kDouble), 0, 1e-12));
  const auto x = torch::tensor({{1.0, 2.0, 2.0}, {0.0, 0.0, 0.0}, {-3.0, 0.0, 4.0}});
  EXPECT_TRUE(torch::allclose(mahalanobis_distance(fit, x), torch::tensor({3.0, 0.0, 5.0}, torch::kDouble)));
}

TEST(Mahalanobis, InvariantToInvertibleLinearMaps) {
  torch::manual_seed(0);
  const auto normals = torch::randn({200, 4}, torch::kDouble), x = torch::randn({10, 4}, torch::kDouble) * 3;
  const auto a = torch::randn({4, 4}, torch::kDouble) + 2 * torch::eye(4, torch::kDouble);
  const auto shift = torch::randn({4}, torch::kDouble);
  const auto d = mahalanobis_distance(fit_gaussian(normals), x);
  const auto d_mapped = mahalanobis_distance(fit_gaussian(normals.mm(a.t()) + shift), x.mm(a.t()) + shift);
  EXPECT_TRUE(torch::allclose(d, d_mapped, 1e-7, 1e-9));
  // Fitting on the batch itself: the mean squared distance is L (= tr(S^-1 S)).
  EXPECT_NEAR(mahalanobis_to_batch(normals).pow(2).mean().item<double>(), 4.0, 1e-9);
}

TEST(Mahalanobis, ShrinkageHandValues) {
  // S = diag(2, 0.5): Ledoit-Wolf weight 17/18 (sklearn's formula by hand), target 1.25 I.
  const auto normals = torch::tensor({{2.0, 0.0}, {0.0, 1.0}, {-2.0, 0.0}, {0.0, -1.0}});
  const auto lw = fit_gaussian(normals, GaussianFitOptions().set_shrinkage(Shrinkage::kLedoitWolf));
  EXPECT_NEAR(lw.shrinkage, 17.0 / 18.0, 1e-12);
  const auto s = torch::diag(torch::tensor({2.0, 0.5}, torch::kDouble));
  const auto target = 1.25 * torch::eye(2, torch::kDouble);
  EXPECT_TRUE(torch::allclose(lw.covariance, s / 18 + target * 17 / 18));
  const auto fixed = fit_gaussian(normals, GaussianFitOptions().set_shrinkage(Shrinkage::kFixed).set_lambda(0.5));
  EXPECT_TRUE(torch::allclose(fixed.covariance, 0.5 * s + 0.5 * target));
}

TEST(Mahalanobis, SingularCovarianceNeedsShrinkage) {
  // Two normals in 3-D: rank-1 covariance.
  const auto normals = torch::tensor({{1.0, 2.0, 3.0}, {2.0, 4.0, 6.0}});
  try {
    fit_gaussian(normals);
    FAIL() << "expected a singular-covariance error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("singular (rank 1 of 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("shrinkage"), std::string::npos) << msg;
  }
  const auto fit = fit_gaussian(normals, GaussianFitOptions().set_shrinkage(Shrinkage::kFixed).set_lambda(0.2));
  EXPECT_TRUE(torch::isfinite(mahalanobis_distance(fit, normals)).all().item<bool>());
}

TEST(Mahalanobis, ZScoresDeviantDimensionAndCounterfactual) {
  // Normals with mean (1, 0) and variances (2, 0.5).
  const auto normals = torch::tensor({{3.0, 0.0}, {-1.0, 0.0}, {1.0, 1.0}, {1.0, -1.0}});
  const auto fit = fit_gaussian(normals);
  EXPECT_TRUE(torch::allclose(fit.covariance, torch::diag(torch::tensor({2.0, 0.5}, torch::kDouble))));
  const auto x = torch::tensor({{1.0 + 2.0 * std::sqrt(2.0), 0.5}, {1.0, -3.0}});
  const auto z = latent_z_scores(fit, x);
  EXPECT_TRUE(
      torch::allclose(z, torch::tensor({{2.0, 0.5 / std::sqrt(0.5)}, {0.0, -3.0 / std::sqrt(0.5)}}, torch::kDouble)));
  const auto dims = most_deviant_dimension(z);
  EXPECT_TRUE(torch::equal(dims, torch::tensor({0, 1}, torch::kLong)));
  const auto cf = counterfactual_latents(fit, x.to(torch::kFloat), dims);
  EXPECT_TRUE(torch::allclose(cf, torch::tensor({{1.0f, 0.5f}, {1.0f, 0.0f}})));
}

// 200 standard normals in 3-D followed by 20 outliers clustered near (6, 6, 6).
torch::Tensor contaminated_sample() {
  torch::manual_seed(3);
  return torch::cat({torch::randn({200, 3}, torch::kDouble), 6 + 0.3 * torch::randn({20, 3}, torch::kDouble)});
}

TEST(Mahalanobis, RobustFitIgnoresAContaminatingCluster) {
  const auto x = contaminated_sample();
  const auto classical = fit_gaussian(x);
  const auto robust = fit_gaussian(x, GaussianFitOptions().set_robust(true));
  // The cluster drags the classical mean ~0.55 along every axis and adds ~3 to every
  // covariance entry; the robust fit drops it. (The MCD's half-sample start is noisy, so
  // the reweighted fit is near, not at, the 200 normals' own fit.)
  EXPECT_GT(classical.mean.min().item<double>(), 0.4);
  EXPECT_GT(classical.covariance.min().item<double>(), 2.5);
  EXPECT_LT(robust.mean.abs().max().item<double>(), 0.2);
  EXPECT_LT((robust.covariance - torch::eye(3, torch::kDouble)).abs().max().item<double>(), 0.45);
  ASSERT_EQ(robust.support.sizes(), torch::IntArrayRef({220}));
  EXPECT_GE(robust.support.slice(0, 0, 200).sum().item<int64_t>(), 180);  // keeps most normals
  EXPECT_EQ(robust.support.slice(0, 200, 220).sum().item<int64_t>(), 0);  // and no outlier
  EXPECT_TRUE(classical.support.all().item<bool>());
  // Every outlier lies farther than every normal from the robust fit.
  const auto d = mahalanobis_distance(robust, x);
  EXPECT_LT(d.slice(0, 0, 200).max().item<double>(), d.slice(0, 200).min().item<double>());
}

TEST(Mahalanobis, RobustFitKeepsTheChiSquaredShareOfCleanData) {
  // Consistency correction plus reweighting at chi2_2(0.975): about 97.5% of clean
  // Gaussian samples are kept (a wrong quantile or a missing correction is far off).
  torch::manual_seed(4);
  const auto x = torch::randn({4000, 2}, torch::kDouble).mm(torch::tensor({{2.0, 0.0}, {1.0, 0.5}}, torch::kDouble));
  const auto robust = fit_gaussian(x, GaussianFitOptions().set_robust(true));
  const double kept = robust.support.to(torch::kDouble).mean().item<double>();
  EXPECT_GT(kept, 0.965);
  EXPECT_LT(kept, 0.985);
}

TEST(Mahalanobis, RobustFitIsAffineEquivariantAndDeterministic) {
  const auto x = contaminated_sample();
  const auto a = torch::tensor({{2.0, 1.0, 0.0}, {0.0, 1.0, -1.0}, {0.5, 0.0, 3.0}}, torch::kDouble);
  const auto shift = torch::tensor({1.0, -2.0, 5.0}, torch::kDouble);
  const auto options = GaussianFitOptions().set_robust(true).set_seed(7);
  const auto fit = fit_gaussian(x, options), mapped = fit_gaussian(x.mm(a.t()) + shift, options);
  EXPECT_TRUE(torch::equal(fit.support, mapped.support));
  EXPECT_TRUE(
      torch::allclose(mahalanobis_distance(fit, x), mahalanobis_distance(mapped, x.mm(a.t()) + shift), 1e-7, 1e-9));
  EXPECT_TRUE(torch::equal(fit_gaussian(x, options).precision, fit.precision));
}

TEST(Mahalanobis, RobustFitBadInputIsNamed) {
  const auto x = contaminated_sample();
  EXPECT_THROW(fit_gaussian(x, GaussianFitOptions().set_robust(true).set_support_fraction(1.5)), Error);
  EXPECT_THROW(fit_gaussian(x, GaussianFitOptions().set_robust(true).set_support_fraction(0.01)), Error);
  try {
    fit_gaussian(x.slice(0, 0, 4), GaussianFitOptions().set_robust(true));
    FAIL() << "expected a too-few-samples error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs more than 4 samples; got 4"), std::string::npos) << e.what();
  }
}

TEST(Mahalanobis, BadInputIsNamed) {
  auto normals = torch::randn({10, 2});
  const auto fit = fit_gaussian(normals);
  try {
    mahalanobis_distance(fit, torch::randn({3, 3}));
    FAIL() << "expected a dimension error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scored latents have 3 latent dimensions; the fit has 2"), std::string::npos)
        << e.what();
  }
  normals[4][1] = NAN;
  try {
    fit_gaussian(normals);
    FAIL() << "expected a NaN error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("normal latents: found NaN"), std::string::npos) << e.what();
  }
  EXPECT_THROW(counterfactual_latents(fit, torch::zeros({2, 2}), torch::tensor({0, 2})), Error);
}

}  // namespace loupe
