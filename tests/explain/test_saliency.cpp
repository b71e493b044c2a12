#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/explain/saliency.h"

namespace loupe {
using namespace testing;

namespace {
const auto kRaw = ExplainOptions().set_normalize(false);
}

TEST(Saliency, LinearModelGivesMaxOverChannelsOfAbsoluteWeights) {
  torch::manual_seed(10);
  const auto w = torch::randn({2, 3, 5, 4});
  LinearNet net(w, torch::tensor({0.5f, -1.f}));
  const auto x = torch::rand({3, 3, 5, 4});
  const auto attr = Saliency(kRaw).explain(net, x, class_logit(1));
  const auto expected = std::get<0>(w[1].abs().max(0));
  for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(attr.maps[i], expected)) << i;
  // Signed: the channel sum of the gradient.
  const auto sgn = Saliency(ExplainOptions(kRaw).set_signed(true)).explain(net, x, class_logit(1));
  EXPECT_TRUE(torch::allclose(sgn.maps[0], w[1].sum(0), 1e-5, 1e-6));
  // Scores are the target at x.
  const auto y = (x.flatten(1) * w[1].flatten()).sum(1) - 1.f;
  EXPECT_TRUE(torch::allclose(attr.scores, y, 1e-5, 1e-5));
  EXPECT_EQ(attr.model_evaluations, 3);
}

TEST(Saliency, QuadraticModelGradientIsTwiceTheInput) {
  LambdaNet net([](const torch::Tensor& x) { return x.pow(2).flatten(1).sum(1, true); });
  auto x = torch::zeros({1, 2, 1, 2});
  x[0][0][0][0] = 0.5;  // channel max |2x| per pixel: max(1.0, 0.6) and max(0.2, 0.8)
  x[0][1][0][0] = 0.3;
  x[0][0][0][1] = 0.1;
  x[0][1][0][1] = 0.4;
  const auto attr = Saliency(kRaw).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::tensor({{1.0f, 0.8f}})));
  const auto scaled = Saliency(ExplainOptions()).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(scaled.maps[0], torch::tensor({{1.0f, 0.0f}}), 1e-5, 1e-6));
}

TEST(Saliency, SameResultAtAnyBatchSize) {
  TanhNet net;
  torch::manual_seed(11);
  const auto x = torch::rand({5, 3, 9, 9});
  const auto a = Saliency(ExplainOptions().set_batch_size(5)).explain(net, x, top1_logit());
  const auto b = Saliency(ExplainOptions().set_batch_size(2)).explain(net, x, top1_logit());
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-5, 1e-6));
  EXPECT_EQ(a.maps.sizes(), (std::vector<int64_t>{5, 9, 9}));
  EXPECT_FALSE(a.weights.defined());
}

TEST(Saliency, BadInputsNameTheInput) {
  TanhNet net;
  auto nan_images = torch::rand({1, 3, 6, 6});
  nan_images[0][1][2][3] = std::nanf("");
  EXPECT_LOUPE_ERROR(Saliency(ExplainOptions()).explain(net, nan_images, top1_logit()), "images");
  EXPECT_LOUPE_ERROR(Saliency(ExplainOptions()).explain(net, torch::rand({3, 6, 6}), top1_logit()), "images");
  EXPECT_LOUPE_ERROR(Saliency(ExplainOptions().set_batch_size(0)).explain(net, torch::rand({1, 3, 6, 6}), top1_logit()),
                     "batch size");
  // A target that does not give one value per image.
  const Target whole = [](const torch::Tensor& out, const torch::Tensor&) { return out.sum(); };
  EXPECT_LOUPE_ERROR(Saliency(ExplainOptions()).explain(net, torch::rand({2, 3, 6, 6}), whole), "target");
  EXPECT_LOUPE_ERROR(Saliency(ExplainOptions()).explain(net, torch::rand({1, 3, 6, 6}), class_logit(3)), "class 3");
}

}  // namespace loupe
