#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "explain/perturbation_test_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/scorecam.h"

namespace loupe {

TEST(ScoreCam, HandComputedTwoChannelCase) {
  // A0 = [[1,0],[0,0]], A1 = [[0,0],[0,4]]. Normalised masks: A0 and A1/4. x·mask0 keeps
  // A0 only → logit0 = 2·1/4 = 0.5; x·mask1 keeps A1 only → logit0 = −4/4 = −1.
  testing::TwoChannelNet net;
  auto x = torch::zeros({1, 2, 2, 2});
  x[0][0][0][0] = 1;
  x[0][1][1][1] = 4;
  const auto attr = ScoreCam(ExplainOptions().set_normalize(false).set_signed(true)).explain(net, x, class_logit(0));
  const double e0 = std::exp(0.5), e1 = std::exp(-1.0);
  const float w0 = float(e0 / (e0 + e1)), w1 = float(e1 / (e0 + e1));
  EXPECT_TRUE(torch::allclose(attr.weights[0], torch::tensor({w0, w1}), 1e-5, 1e-6)) << attr.weights;
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::tensor({{w0, 0.f}, {0.f, 4 * w1}}), 1e-5, 1e-6)) << attr.maps;
  EXPECT_NEAR(attr.scores[0].item<float>(), 2 * 0.25 - 1, 1e-6);
  EXPECT_EQ(attr.model_evaluations, 3);
  // Default: ReLU then min-max → the larger of the two peaks is 1.
  const auto scaled = ScoreCam(ExplainOptions()).explain(net, x, class_logit(0));
  EXPECT_NEAR(scaled.maps[0].max().item<float>(), 1.f, 1e-5);
}

TEST(ScoreCam, UnknownTapIsAnError) {
  testing::TwoChannelNet net;
  try {
    ScoreCam(ExplainOptions().set_tap("layer9")).explain(net, torch::rand({1, 2, 4, 4}), class_logit(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer9"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ScoreCam(ExplainOptions().set_tap("pool")).explain(net, torch::rand({1, 2, 4, 4}), class_logit(0)),
               Error);
}

}  // namespace loupe
