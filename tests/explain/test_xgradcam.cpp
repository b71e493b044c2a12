#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/cam_toy.h"
#include "loupe/explain/xgradcam.h"

namespace loupe {
using namespace testing;

TEST(XGradCam, HandComputedTwoChannelToy) {
  // w_k = Σ V_k A_k / Σ A_k: (1 − 2 + 0 + 2)/4 = 1/4 and (−3 + 0 + 2 + 0)/4 = −1/4.
  const auto attr = raw_toy_attribution("xgradcam");
  EXPECT_TRUE(torch::allclose(attr.weights, torch::tensor({{0.25f, -0.25f}}), 1e-5, 1e-6)) << attr.weights;
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::tensor({{-0.5f, 0.5f}, {-0.25f, 0.25f}}), 1e-5, 1e-6));
  // Unsigned: ReLU then min-max → [[0,1],[0,0.5]].
  auto net = toy_net();
  const auto scaled = XGradCam(ExplainOptions()).explain(net, toy_activations(), class_logit(0));
  EXPECT_TRUE(torch::allclose(scaled.maps[0], torch::tensor({{0.f, 1.f}, {0.f, 0.5f}}), 1e-5, 1e-6));
}

TEST(XGradCam, WeightsEqualGradCamsWhenTheGradientIsSpatiallyConstant) {
  // Σ g A / Σ A = g for a constant g (Fu et al.: XGradCAM reduces to Grad-CAM after GAP).
  torch::manual_seed(6);
  GapLinearNet net(5, 3);
  const auto x = torch::rand({3, 3, 12, 12});
  const auto xgrad = XGradCam(ExplainOptions()).explain(net, x, top1_logit());
  const auto grad = make_explainer("gradcam")->explain(net, x, top1_logit());
  // Exactly: g · ΣA / (ΣA + ε), ε = 1e-7.
  const auto sums = net.conv(x).sum({2, 3}).detach();
  EXPECT_TRUE(torch::allclose(xgrad.weights, grad.weights * sums / (sums + 1e-7), 1e-5, 1e-7));
  EXPECT_TRUE(torch::allclose(xgrad.weights, grad.weights, 1e-3, 1e-6));
}

}  // namespace loupe
