#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/cam_toy.h"
#include "loupe/explain/layercam.h"

namespace loupe {
using namespace testing;

TEST(LayerCam, HandComputedTwoChannelToy) {
  // Σ_k ReLU(V_k) ⊙ A_k = [[1·1 + 0·3, 0·2 + 0·0], [0.5·0 + 2·1, 2·1 + 1·0]].
  const auto attr = raw_toy_attribution("layercam");
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::tensor({{1.f, 0.f}, {2.f, 2.f}}))) << attr.maps;
  // Weights: spatial means of ReLU(V): (1 + 0.5 + 2)/4, (2 + 1)/4.
  EXPECT_TRUE(torch::allclose(attr.weights, torch::tensor({{0.875f, 0.75f}})));
  // Default output: min-max scaled to [[0.5,0],[1,1]].
  auto net = toy_net();
  const auto scaled = LayerCam(ExplainOptions()).explain(net, toy_activations(), class_logit(0));
  EXPECT_TRUE(torch::allclose(scaled.maps[0], torch::tensor({{0.5f, 0.f}, {1.f, 1.f}}), 1e-5, 1e-6));
}

TEST(LayerCam, EqualsGradCamWhenGradientsArePositiveAndUniform) {
  torch::manual_seed(5);
  GapLinearNet net(4, 2);
  {
    torch::NoGradGuard no_grad;
    net.fc->weight.abs_();
  }
  const auto x = torch::rand({2, 3, 10, 10});
  const auto raw = ExplainOptions().set_signed(true).set_normalize(false);
  const auto layer = LayerCam(raw).explain(net, x, class_logit(1));
  const auto grad = make_explainer("gradcam", raw)->explain(net, x, class_logit(1));
  EXPECT_TRUE(torch::allclose(layer.maps, grad.maps, 1e-5, 1e-6));
}

}  // namespace loupe
