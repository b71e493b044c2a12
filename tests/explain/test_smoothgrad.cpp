#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/explain/saliency.h"
#include "loupe/explain/smoothgrad.h"

namespace loupe {
using namespace testing;

namespace {
ExplainOptions with(GradientOptions g) { return ExplainOptions().set_gradient(std::move(g)); }
}  // namespace

TEST(SmoothGrad, LinearModelEqualsSaliency) {
  torch::manual_seed(30);
  const auto w = torch::randn({2, 3, 6, 6});
  LinearNet net(w);
  const auto x = torch::rand({3, 3, 6, 6});
  for (const bool sign : {false, true}) {
    const auto o = with(GradientOptions().set_samples(10)).set_signed(sign).set_normalize(false);
    const auto smooth = SmoothGrad(o).explain(net, x, class_logit(1));
    const auto plain = Saliency(o).explain(net, x, class_logit(1));
    EXPECT_TRUE(torch::allclose(smooth.maps, plain.maps, 1e-6, 1e-6)) << "signed " << sign;
    EXPECT_TRUE(torch::allclose(smooth.scores, plain.scores));
    EXPECT_EQ(smooth.model_evaluations, 3 * 11);
  }
}

TEST(SmoothGrad, NoiseScaleIsAFractionOfEachImagesRange) {
  // f = Σ x³/3: the gradient at x+ε is (x+ε)², averaging to x² + σ². Pixels span
  // [0,0.5], so σ = 0.15 · 0.5 = 0.075 and σ² = 0.005625.
  LambdaNet net([](const torch::Tensor& x) { return (x.pow(3) / 3).flatten(1).sum(1, true); });
  auto x = torch::rand({1, 1, 8, 8}) * 0.5;
  x[0][0][0][0] = 0;
  x[0][0][0][1] = 0.5;
  const auto o = with(GradientOptions().set_samples(400)).set_signed(true).set_normalize(false);
  const auto attr = SmoothGrad(o).explain(net, x, class_logit(0));
  const double sigma2 = (attr.maps[0] - x[0][0].pow(2)).mean().item<double>();
  EXPECT_NEAR(sigma2, 0.005625, 0.001);
}

TEST(SmoothGrad, DeterministicForASeedAndIndependentOfBatchSize) {
  TanhNet net;
  torch::manual_seed(31);
  const auto x = torch::rand({5, 3, 7, 7});
  const auto g = GradientOptions().set_samples(6).set_seed(42);
  const auto a = SmoothGrad(with(g).set_batch_size(5)).explain(net, x, top1_logit());
  const auto b = SmoothGrad(with(g).set_batch_size(2)).explain(net, x, top1_logit());
  const auto c = SmoothGrad(with(g).set_batch_size(5)).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(a.maps, c.maps));
  const auto other = SmoothGrad(with(GradientOptions(g).set_seed(43))).explain(net, x, top1_logit());
  EXPECT_GT((other.maps - a.maps).abs().max().item<float>(), 1e-3);
  // Without noise it is saliency.
  const auto quiet = SmoothGrad(with(GradientOptions(g).set_noise_level(0))).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(quiet.maps, Saliency(ExplainOptions()).explain(net, x, top1_logit()).maps, 1e-5, 1e-6));
}

TEST(SmoothGrad, BadOptionsNameTheOption) {
  TanhNet net;
  const auto x = torch::rand({1, 3, 5, 5});
  EXPECT_LOUPE_ERROR(SmoothGrad(with(GradientOptions().set_samples(0))).explain(net, x, top1_logit()), "samples 0");
  EXPECT_LOUPE_ERROR(SmoothGrad(with(GradientOptions().set_noise_level(-0.1))).explain(net, x, top1_logit()),
                     "noise level");
}

}  // namespace loupe
