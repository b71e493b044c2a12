#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/perturbation_test_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/ablationcam.h"

namespace loupe {

TEST(AblationCam, HandComputedTwoChannelCase) {
  // A0 = [[1,0],[0,0]], A1 = [[0,0],[0,1]]: y = 2/4 − 1/4 = 0.25; zeroing A0 → −0.25,
  // zeroing A1 → 0.5; w = (y − y_k)/y = (2, −1); map = 2·A0 − A1.
  testing::TwoChannelNet net;
  auto x = torch::zeros({1, 2, 2, 2});
  x[0][0][0][0] = 1;
  x[0][1][1][1] = 1;
  const auto attr = AblationCam(ExplainOptions().set_normalize(false).set_signed(true)).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(attr.weights[0], torch::tensor({2.f, -1.f}), 1e-5, 1e-6)) << attr.weights;
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::tensor({{2.f, 0.f}, {0.f, -1.f}}), 1e-5, 1e-6));
  EXPECT_NEAR(attr.scores[0].item<float>(), 0.25f, 1e-6);
  EXPECT_EQ(attr.model_evaluations, 3);
  EXPECT_EQ(net.below, 1);  // the ablated passes start at the tap
  const auto relu = AblationCam(ExplainOptions().set_normalize(false)).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(relu.maps[0], torch::tensor({{2.f, 0.f}, {0.f, 0.f}})));
}

TEST(AblationCam, SameAtAnyBatchSizeAndBadTap) {
  testing::TwoChannelNet net;
  const auto x = torch::rand({3, 2, 5, 5}) + 0.1;
  auto opts = ExplainOptions().set_perturbation(PerturbationOptions().set_batch_size(1));
  const auto a = AblationCam(opts).explain(net, x, class_logit(1));
  const auto b = AblationCam(ExplainOptions()).explain(net, x, class_logit(1));
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_THROW(AblationCam(ExplainOptions().set_tap("nope")).explain(net, x, class_logit(0)), Error);
}

}  // namespace loupe
