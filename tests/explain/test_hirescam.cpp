#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/cam_toy.h"
#include "loupe/explain/hirescam.h"

namespace loupe {
using namespace testing;

TEST(HiResCam, HandComputedTwoChannelToy) {
  // Σ_k V_k ⊙ A_k = [[1·1 − 1·3, −1·2 + 0], [0.5·0 + 2·1, 2·1 + 1·0]]; it sums to Y = 0.
  const auto attr = raw_toy_attribution("hirescam");
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::tensor({{-2.f, -2.f}, {2.f, 2.f}}))) << attr.maps;
  // Grad-CAM's spatial mean differs here: 0.625 A0 + 0.5 A1.
  const auto gradcam = raw_toy_attribution("gradcam");
  EXPECT_TRUE(torch::allclose(gradcam.maps[0], torch::tensor({{2.125f, 1.25f}, {0.5f, 0.625f}})));
  EXPECT_TRUE(torch::allclose(attr.weights, gradcam.weights));
}

TEST(HiResCam, EqualsGradCamAndCamAfterGlobalAveragePooling) {
  torch::manual_seed(4);
  GapLinearNet net(6, 4);
  const auto x = torch::rand({3, 3, 16, 16});
  const auto classes = torch::tensor({0, 2, 3}, torch::kLong);
  const auto raw = ExplainOptions().set_signed(true).set_normalize(false);
  const auto hires = HiResCam(raw).explain(net, x, class_logits(classes));
  const auto gradcam = make_explainer("gradcam", raw)->explain(net, x, class_logits(classes));
  EXPECT_TRUE(torch::allclose(hires.maps, gradcam.maps, 1e-5, 1e-6));

  // CAM (Zhou et al. 2016): Σ_k W_ck A_k; HiResCAM carries the pooling's 1/(h·w).
  torch::NoGradGuard no_grad;
  const auto features = net.conv(x);  // [3,6,8,8]
  const auto w = net.fc->weight.index_select(0, classes);
  const auto cam = (w.view({3, 6, 1, 1}) * features).sum(1);
  EXPECT_TRUE(torch::allclose(hires.maps, upsample_maps(cam, 16, 16) / 64.0, 1e-5, 1e-6));
  // Default output: ReLU, upsample, min-max.
  const auto scaled = HiResCam(ExplainOptions()).explain(net, x, class_logits(classes));
  const auto expected = scale_maps(upsample_maps(torch::relu(cam / 64.0), 16, 16), false);
  EXPECT_TRUE(torch::allclose(scaled.maps, expected, 1e-4, 1e-5)) << (scaled.maps - expected).abs().max();
}

TEST(HiResCam, UnknownTapNamesTheTap) {
  auto net = toy_net();
  EXPECT_LOUPE_ERROR(HiResCam(ExplainOptions().set_tap("layer9")).explain(net, toy_activations(), class_logit(0)),
                     "layer9");
}

}  // namespace loupe
