#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/toy_models.h"
#include "loupe/explain/pixel_base.h"

namespace loupe {
using namespace testing;

TEST(PixelBase, InputGradientIsPerSampleAndTargetsIgnoringTheInputGetZero) {
  // f(x) = Σ x³ per sample: the gradient 3x² must not mix samples.
  LambdaNet net([](const torch::Tensor& x) { return x.pow(3).flatten(1).sum(1, true); });
  const auto x = torch::rand({3, 1, 2, 2});
  const auto g = input_gradient(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(g.grads, 3 * x.pow(2), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(g.scores, x.pow(3).flatten(1).sum(1), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(target_scores(net, x, class_logit(0)), g.scores));
  const Target constant = [](const torch::Tensor& out, const torch::Tensor&) { return torch::ones({out.size(0)}); };
  EXPECT_EQ(input_gradient(net, x, constant).grads.abs().sum().item<float>(), 0.f);
}

TEST(PixelBase, RestoresTrainingModeAndUsesEvalModeInside) {
  TanhNet net;
  net.train();
  const Target checks_mode = [&](const torch::Tensor& out, const torch::Tensor&) {
    EXPECT_FALSE(net.is_training());
    return out.select(1, 0);
  };
  make_explainer("saliency")->explain(net, torch::rand({1, 3, 5, 5}), checks_mode);
  EXPECT_TRUE(net.is_training());
}

}  // namespace loupe
