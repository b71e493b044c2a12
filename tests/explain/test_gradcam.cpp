#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/toy_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/explainer.h"
#include "loupe/explain/gradcam.h"

namespace loupe {
using testing::GapLinearNet;

TEST(GradCam, EqualsCamOnGapLinearNet) {
  torch::manual_seed(0);
  GapLinearNet net(6, 4);
  const auto x = torch::rand({5, 3, 16, 16});
  const auto classes = torch::tensor({0, 1, 2, 3, 1}, torch::kLong);
  auto explainer = make_explainer("gradcam", ExplainOptions().set_normalize(false).set_signed(true));
  const auto attr = explainer->explain(net, x, class_logits(classes));

  torch::NoGradGuard guard;
  const auto features = net.conv(x);                                  // [5,6,8,8]
  const auto w = net.fc->weight.index_select(0, classes);             // [5,6]
  auto cam = (w.view({5, 6, 1, 1}) * features).sum(1) / 64.0;         // Grad-CAM weights carry 1/(hw)
  cam = torch::nn::functional::interpolate(
            cam.unsqueeze(1), torch::nn::functional::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{16, 16})
                                  .mode(torch::kBilinear)
                                  .align_corners(false))
            .squeeze(1);
  EXPECT_TRUE(torch::allclose(attr.maps, cam, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(attr.weights, w / 64.0, 1e-6, 1e-7));
  const auto logits = net.forward(x);
  EXPECT_TRUE(torch::allclose(attr.scores, logits.gather(1, classes.view({-1, 1})).squeeze(1), 1e-5, 1e-6));
}

TEST(GradCam, HandComputedTwoChannelCase) {
  // Identity "conv" so the tap holds the input; logit = 2*mean(A0) - 1*mean(A1).
  struct Net : TappedModel {
    Net() {
      add_stage("features", [](const torch::Tensor& x) { return x * 1.0; });
      add_stage("pool", [](const torch::Tensor& x) { return x.mean({2, 3}); });
      add_stage("fc", [](const torch::Tensor& x) {
        return torch::stack({2 * x.select(1, 0) - x.select(1, 1), x.select(1, 1)}, 1);
      });
    }
    std::string default_cam_tap() const override { return "features"; }
    std::string arch() const override { return "toy"; }
  } net;
  // A0 = [[1,0],[0,0]], A1 = [[0,0],[0,4]]; weights (2/4, -1/4) → map [[0.5,0],[0,-1]].
  auto x = torch::zeros({1, 2, 2, 2});
  x[0][0][0][0] = 1;
  x[0][1][1][1] = 4;
  auto raw = GradCam(ExplainOptions().set_normalize(false).set_signed(true)).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(raw.maps[0], torch::tensor({{0.5f, 0.f}, {0.f, -1.f}})));
  // ReLU then min-max: [[1,0],[0,0]].
  auto pos = GradCam(ExplainOptions()).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(pos.maps[0], torch::tensor({{1.f, 0.f}, {0.f, 0.f}}), 1e-5, 1e-6));
  // Signed and scaled by max |.|: [[0.5,0],[0,-1]].
  auto sgn = GradCam(ExplainOptions().set_signed(true)).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(sgn.maps[0], torch::tensor({{0.5f, 0.f}, {0.f, -1.f}}), 1e-5, 1e-6));
}

TEST(GradCam, SameResultAtAnyBatchSize) {
  torch::manual_seed(1);
  GapLinearNet net(4, 3);
  const auto x = torch::rand({7, 3, 12, 12});
  const auto a = GradCam(ExplainOptions().set_batch_size(7)).explain(net, x, top1_logit());
  const auto b = GradCam(ExplainOptions().set_batch_size(2)).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_EQ(a.maps.sizes(), (std::vector<int64_t>{7, 12, 12}));
  EXPECT_GE(a.maps.min().item<float>(), 0.f);
  EXPECT_LE(a.maps.max().item<float>(), 1.f + 1e-6);
}

TEST(GradCam, BadInputsAreClearErrors) {
  GapLinearNet net(4, 3);
  EXPECT_THROW(GradCam(ExplainOptions().set_tap("layer9")).explain(net, torch::rand({1, 3, 8, 8}), top1_logit()),
               Error);
  // "pool" is not spatial.
  EXPECT_THROW(GradCam(ExplainOptions().set_tap("pool")).explain(net, torch::rand({1, 3, 8, 8}), top1_logit()), Error);
  auto nan_images = torch::rand({1, 3, 8, 8});
  nan_images[0][0][0][0] = std::nanf("");
  EXPECT_THROW(GradCam(ExplainOptions()).explain(net, nan_images, top1_logit()), Error);
  EXPECT_THROW(GradCam(ExplainOptions()).explain(net, torch::rand({3, 8, 8}), top1_logit()), Error);
  EXPECT_THROW(GradCam(ExplainOptions()).explain(net, torch::rand({1, 3, 8, 8}), class_logit(3)), Error);
  EXPECT_THROW(make_explainer("gradcam++x"), Error);
  EXPECT_THROW(target_classes("7", torch::zeros({2}, torch::kLong), 3), Error);
  EXPECT_THROW(target_classes("abc", torch::zeros({2}, torch::kLong), 3), Error);
}

TEST(Explainers, EveryRegisteredMethodGivesFiniteMapsOfInputSize) {
  torch::manual_seed(2);
  GapLinearNet net(4, 3);
  const auto x = torch::rand({2, 3, 10, 10});
  for (const auto& name : explainer_names()) {
    SCOPED_TRACE(name);
    const auto attr = make_explainer(name)->explain(net, x, top1_logit());
    EXPECT_EQ(attr.maps.sizes(), (std::vector<int64_t>{2, 10, 10}));
    EXPECT_TRUE(torch::isfinite(attr.maps).all().item<bool>());
  }
}

}  // namespace loupe
