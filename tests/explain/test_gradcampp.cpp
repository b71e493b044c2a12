#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/cam_toy.h"
#include "loupe/explain/gradcampp.h"

namespace loupe {
using namespace testing;

TEST(GradCamPlusPlus, HandComputedTwoChannelToy) {
  // α = g²/(2g² + ΣA·g³) with ΣA = 4 in both channels, so α = 1/(2 + 4g) where g ≠ 0:
  // w0 = 1·1/6 + 0 + 0.5·1/4 + 2·1/10 = 59/120;  w1 = 0 + 0 + 2·1/10 + 1·1/6 = 44/120.
  const auto attr = raw_toy_attribution("gradcampp");
  EXPECT_TRUE(torch::allclose(attr.weights, torch::tensor({{59.f / 120, 44.f / 120}}), 1e-5, 1e-6)) << attr.weights;
  // map = w0 A0 + w1 A1.
  const auto expected = torch::tensor({{191.f, 118.f}, {44.f, 59.f}}) / 120;
  EXPECT_TRUE(torch::allclose(attr.maps[0], expected, 1e-5, 1e-6)) << attr.maps;
}

TEST(GradCamPlusPlus, NegativeAndZeroGradientsGetNoWeight) {
  // All gradients ≤ 0: every α·ReLU(g) is 0, so the map is empty (and stays 0 when scaled).
  auto net = LinearNet(-toy_gradients().abs());
  const auto attr = GradCamPlusPlus(ExplainOptions()).explain(net, toy_activations(), class_logit(0));
  EXPECT_EQ(attr.weights.abs().max().item<float>(), 0.f);
  EXPECT_EQ(attr.maps.abs().max().item<float>(), 0.f);
}

TEST(GradCamPlusPlus, SameResultAtAnyBatchSize) {
  torch::manual_seed(3);
  GapLinearNet net(4, 3);
  const auto x = torch::rand({5, 3, 12, 12});
  const auto a = GradCamPlusPlus(ExplainOptions().set_batch_size(5)).explain(net, x, top1_logit());
  const auto b = GradCamPlusPlus(ExplainOptions().set_batch_size(2)).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_EQ(a.maps.sizes(), (std::vector<int64_t>{5, 12, 12}));
}

}  // namespace loupe
