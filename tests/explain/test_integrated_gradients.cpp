#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/explain/integrated_gradients.h"

namespace loupe {
using namespace testing;

namespace {
ExplainOptions raw_signed(GradientOptions g = {}) {
  return ExplainOptions().set_signed(true).set_normalize(false).set_gradient(std::move(g));
}
}  // namespace

TEST(IntegrationPoints, GaussLegendreIsExactForPolynomialsUpToDegree2nMinus1) {
  const auto [alphas, weights] = integration_points(5, Integration::GaussLegendre);
  ASSERT_EQ(alphas.size(), 5u);
  for (int k = 0; k <= 9; ++k) {
    double sum = 0;
    for (size_t i = 0; i < alphas.size(); ++i) sum += weights[i] * std::pow(alphas[i], k);
    EXPECT_NEAR(sum, 1.0 / (k + 1), 1e-13) << "degree " << k;
  }
  // Two points: 1/2 ∓ 1/(2√3), weights 1/2 each.
  const auto two = integration_points(2, Integration::GaussLegendre);
  EXPECT_NEAR(two.first[0], 0.5 - 0.5 / std::sqrt(3.0), 1e-14);
  EXPECT_NEAR(two.first[1], 0.5 + 0.5 / std::sqrt(3.0), 1e-14);
  EXPECT_NEAR(two.second[0], 0.5, 1e-14);
  // 50 points (the default): still exact for degree 99.
  const auto fifty = integration_points(50, Integration::GaussLegendre);
  double sum = 0;
  for (size_t i = 0; i < 50; ++i) sum += fifty.second[i] * std::pow(fifty.first[i], 99);
  EXPECT_NEAR(sum, 0.01, 1e-12);
}

TEST(IntegrationPoints, RiemannRulesAsCaptum) {
  using V = std::vector<double>;
  EXPECT_EQ(integration_points(4, Integration::RiemannLeft).first, (V{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(integration_points(4, Integration::RiemannRight).first, (V{0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(integration_points(4, Integration::RiemannMiddle).first, (V{0.125, 0.375, 0.625, 0.875}));
  EXPECT_EQ(integration_points(4, Integration::RiemannMiddle).second, (V{0.25, 0.25, 0.25, 0.25}));
  const auto trapezoid = integration_points(3, Integration::RiemannTrapezoid);
  EXPECT_EQ(trapezoid.first, (V{0, 0.5, 1}));
  EXPECT_EQ(trapezoid.second, (V{0.25, 0.5, 0.25}));
  EXPECT_LOUPE_ERROR(integration_points(1, Integration::RiemannTrapezoid), "steps 1");
  EXPECT_LOUPE_ERROR(integration_points(0, Integration::GaussLegendre), "steps 0");
  EXPECT_EQ(parse_integration("riemann_middle"), Integration::RiemannMiddle);
  EXPECT_LOUPE_ERROR(parse_integration("simpson"), "simpson");
}

TEST(IntegratedGradients, LinearModelIsExactAndComplete) {
  torch::manual_seed(20);
  const auto w = torch::randn({3, 3, 6, 5});
  LinearNet net(w, torch::tensor({0.1f, 0.2f, 0.3f}));
  const auto x = torch::rand({4, 3, 6, 5});
  const auto attr = IntegratedGradients(raw_signed()).explain(net, x, class_logit(2));
  // a = x ⊙ W from a black baseline, summed over channels.
  EXPECT_TRUE(torch::allclose(attr.maps, (x * w[2]).sum(1), 1e-5, 1e-6));
  // Completeness: Σ a = f(x) − f(0).
  const auto fx = (x.flatten(1) * w[2].flatten()).sum(1) + 0.3f;
  EXPECT_TRUE(torch::allclose(attr.maps.sum({1, 2}), fx - 0.3f, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(attr.scores, fx, 1e-5, 1e-5));
  EXPECT_LT(attr.extras.at("convergence_delta").abs().max().item<float>(), 1e-4);
  EXPECT_EQ(attr.model_evaluations, 4 * (50 + 2));
  // Unsigned: |Σ_c a|.
  const auto abs_map = IntegratedGradients(ExplainOptions().set_normalize(false)).explain(net, x, class_logit(2));
  EXPECT_TRUE(torch::allclose(abs_map.maps, attr.maps.abs(), 1e-6, 1e-6));
}

TEST(IntegratedGradients, QuadraticModelSeesEachRulesPoints) {
  // f = Σ x²: a = x · ∫ 2αx dα = x² exactly for Gauss-Legendre; the left Riemann sum
  // with n points gives x² (n−1)/n.
  LambdaNet net([](const torch::Tensor& x) { return x.pow(2).flatten(1).sum(1, true); });
  const auto x = torch::rand({2, 1, 3, 3});
  const auto exact = IntegratedGradients(raw_signed(GradientOptions().set_steps(2))).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(exact.maps, x.pow(2).squeeze(1), 1e-5, 1e-6));
  const auto left =
      IntegratedGradients(raw_signed(GradientOptions().set_steps(4).set_integration(Integration::RiemannLeft)))
          .explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(left.maps, x.pow(2).squeeze(1) * 0.75, 1e-5, 1e-6));
}

TEST(IntegratedGradients, CompleteWithinOnePercentOnASmallNonlinearNet) {
  TanhNet net;
  torch::manual_seed(21);
  const auto x = torch::rand({3, 3, 8, 8});
  for (int64_t cls = 0; cls < 3; ++cls) {
    const auto attr = IntegratedGradients(raw_signed()).explain(net, x, class_logit(cls));
    const auto difference = attr.scores - target_scores(net, torch::zeros_like(x), class_logit(cls));
    const auto relative = (attr.maps.sum({1, 2}) - difference).abs() / difference.abs();
    EXPECT_LT(relative.max().item<float>(), 0.01) << "class " << cls << ": " << relative;
    EXPECT_TRUE(torch::allclose(attr.extras.at("convergence_delta"), attr.maps.sum({1, 2}) - difference, 1e-5, 1e-6));
  }
}

TEST(IntegratedGradients, BaselineChoices) {
  torch::manual_seed(22);
  const auto w = torch::randn({1, 2, 4, 4});
  LinearNet net(w);
  const auto x = torch::rand({2, 2, 4, 4});
  // A custom [C,H,W] baseline: a = (x − b) ⊙ W.
  const auto grey = torch::full({2, 4, 4}, 0.5f);
  const auto custom =
      IntegratedGradients(raw_signed(GradientOptions().set_baseline_image(grey))).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(custom.maps, ((x - 0.5f) * w[0]).sum(1), 1e-5, 1e-6));
  // White and blurred baselines.
  const auto white =
      IntegratedGradients(raw_signed(GradientOptions().set_baseline(Baseline::White))).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(white.maps, ((x - 1.f) * w[0]).sum(1), 1e-5, 1e-6));
  const auto blur = IntegratedGradients(raw_signed(GradientOptions().set_baseline(Baseline::Blur).set_blur_sigma(1)))
                        .explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(blur.maps, ((x - gaussian_blur(x, 1)) * w[0]).sum(1), 1e-5, 1e-6));
}

TEST(IntegratedGradients, SameResultAtAnyBatchSize) {
  TanhNet net;
  torch::manual_seed(23);
  const auto x = torch::rand({5, 3, 7, 7});
  const auto g = GradientOptions().set_steps(8);
  const auto a = IntegratedGradients(ExplainOptions().set_gradient(g).set_batch_size(5)).explain(net, x, top1_logit());
  const auto b = IntegratedGradients(ExplainOptions().set_gradient(g).set_batch_size(2)).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.extras.at("convergence_delta"), b.extras.at("convergence_delta"), 1e-5, 1e-6));
  // Per-image baseline images follow their images across batches.
  const auto baselines = torch::rand({5, 3, 7, 7});
  const auto gb = GradientOptions(g).set_baseline_image(baselines);
  const auto c = IntegratedGradients(ExplainOptions().set_gradient(gb).set_batch_size(5)).explain(net, x, top1_logit());
  const auto d = IntegratedGradients(ExplainOptions().set_gradient(gb).set_batch_size(2)).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(c.maps, d.maps, 1e-5, 1e-6));
}

TEST(IntegratedGradients, BadOptionsNameTheOption) {
  TanhNet net;
  const auto x = torch::rand({2, 3, 5, 5});
  EXPECT_LOUPE_ERROR(
      IntegratedGradients(ExplainOptions().set_gradient(GradientOptions().set_steps(0))).explain(net, x, top1_logit()),
      "steps 0");
  EXPECT_LOUPE_ERROR(
      IntegratedGradients(ExplainOptions().set_gradient(GradientOptions().set_baseline_image(torch::zeros({3, 4, 4}))))
          .explain(net, x, top1_logit()),
      "baseline image");
  auto nan_baseline = torch::zeros({3, 5, 5});
  nan_baseline[0][0][0] = std::nanf("");
  EXPECT_LOUPE_ERROR(
      IntegratedGradients(ExplainOptions().set_gradient(GradientOptions().set_baseline_image(nan_baseline)))
          .explain(net, x, top1_logit()),
      "baseline image");
}

}  // namespace loupe
