#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/core/device.h"
#include "loupe/probe/feature_vis.h"

namespace loupe {

namespace {

// Two logits, each Σ w_k ⊙ x with signs known: the optimum in [0,1] is x = [w_k > 0].
testing::LinearNet signed_linear_net() {
  auto gen = make_generator(4);
  auto w = torch::randn({2, 3, 8, 8}, gen);
  w = torch::where(w.abs() < 0.05, torch::full_like(w, 0.1), w);  // no weight near 0
  return testing::LinearNet(w);
}

}  // namespace

TEST(FeatureVis, PixelMethodReachesTheKnownOptimumOfALinearUnit) {
  auto net = signed_linear_net();
  const auto vis = visualize_units(net, "fc", {},
                                   FeatureVisOptions().set_size(3, 8, 8).set_steps(200).set_blur_every(0).set_seed(1));
  ASSERT_EQ(vis.images.sizes(), torch::IntArrayRef({2, 3, 8, 8}));
  const auto w = net.forward_until("fc", torch::eye(192).view({192, 3, 8, 8})).t().reshape({2, 3, 8, 8});
  EXPECT_TRUE(torch::equal(vis.images, w.gt(0).to(torch::kFloat)));
  // The final activation is the optimum Σ max(w, 0), and the objective climbed to it.
  EXPECT_TRUE(torch::allclose(vis.activation, w.clamp_min(0).flatten(1).sum(1) / 1.0, 1e-4));
  EXPECT_GT(vis.objective.back(), vis.objective.front());
}

TEST(FeatureVis, FourierMethodMovesEveryPixelTowardItsOptimum) {
  // A smooth unit (the 1/f prior slows high frequencies down by design): + on the left
  // half, − on the right half, in every channel.
  auto w = torch::ones({1, 3, 8, 8});
  w.narrow(3, 4, 4).fill_(-1.0f);
  testing::LinearNet net(w);
  const auto o = FeatureVisOptions()
                     .set_method(FeatureVisMethod::kFourier)
                     .set_size(3, 8, 8)
                     .set_steps(150)
                     .set_transforms(false)
                     .set_seed(1);
  const auto vis = visualize_units(net, "fc", {0}, o);
  // Adam moves every spectral coefficient at the same rate, so a few pixels can overshoot
  // into saturation; nearly all end on the optimum's side, the means well inside.
  const auto image = vis.images[0];
  const auto right_side = (image.gt(0.5) == w[0].gt(0)).to(torch::kFloat).mean().item<float>();
  EXPECT_GT(right_side, 0.9f);  // a sign error gives ~0, a broken transform ~0.5
  EXPECT_GT(image.masked_select(w[0].gt(0)).mean().item<float>(), 0.8f);
  EXPECT_LT(image.masked_select(w[0].lt(0)).mean().item<float>(), 0.2f);
  EXPECT_GT(vis.objective.back(), 0.6 * 96);  // the optimum: 96 pixels at 1
  // With transformation robustness (jitter, scale, rotation) the same holds for most pixels.
  const auto robust = visualize_units(net, "fc", {0}, FeatureVisOptions(o).set_transforms(true).set_steps(300));
  const auto agree = (robust.images[0].gt(0.5) == w[0].gt(0)).to(torch::kFloat).mean().item<float>();
  EXPECT_GT(agree, 0.8f);
}

TEST(FeatureVis, ABatchOfUnitsEqualsEachUnitAlone) {
  auto net = signed_linear_net();
  for (const auto method : {FeatureVisMethod::kPixel, FeatureVisMethod::kFourier}) {
    const auto o = FeatureVisOptions().set_method(method).set_size(3, 8, 8).set_steps(20).set_jitter(1).set_seed(2);
    const auto both = visualize_units(net, "fc", {0, 1}, o);
    const auto first = visualize_units(net, "fc", {0}, o);
    EXPECT_TRUE(torch::allclose(both.images[0], first.images[0], 1e-5, 1e-6));
  }
}

TEST(FeatureVis, GaussianBlurMatchesTheKernelByHand) {
  auto delta = torch::zeros({1, 1, 5, 5});
  delta[0][0][2][2] = 1.0f;
  const auto b = gaussian_blur(delta, 3, 0.8);
  const double e = std::exp(-1.0 / (2 * 0.64)), side = e / (1 + 2 * e), centre = 1 / (1 + 2 * e);
  EXPECT_NEAR(b[0][0][2][2].item<float>(), centre * centre, 1e-6);
  EXPECT_NEAR(b[0][0][1][2].item<float>(), side * centre, 1e-6);
  EXPECT_NEAR(b[0][0][1][1].item<float>(), side * side, 1e-6);
  EXPECT_NEAR(b.sum().item<float>(), 1.0f, 1e-6);
  EXPECT_TRUE(torch::allclose(gaussian_blur(torch::full({1, 2, 4, 4}, 0.3f), 3, 0.8), torch::full({1, 2, 4, 4}, 0.3f)));
}

TEST(FeatureVis, BadOptionsAndUnits) {
  auto net = signed_linear_net();
  EXPECT_LOUPE_ERROR(visualize_units(net, "fc", {2}, FeatureVisOptions().set_size(3, 8, 8)), "unit 2 of tap 'fc'");
  EXPECT_LOUPE_ERROR(visualize_units(net, "conv9", {}, FeatureVisOptions().set_size(3, 8, 8)), "tap 'conv9'");
  EXPECT_LOUPE_ERROR(visualize_units(net, "fc", {}, FeatureVisOptions().set_size(3, 8, 8).set_steps(0)), "steps 0");
  EXPECT_LOUPE_ERROR(parse_feature_vis_method("lucid", "--method"), "--method");
}

}  // namespace loupe
