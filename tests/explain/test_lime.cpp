#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/lime_detail.h"
#include "explain/perturbation_test_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/lime.h"

namespace loupe {
namespace {

// Four irregular segments on a 6x6 image.
torch::Tensor hand_labels() {
  return torch::tensor({0, 0, 0, 1, 1, 1,  //
                        0, 0, 1, 1, 1, 1,  //
                        0, 2, 2, 1, 3, 3,  //
                        2, 2, 2, 3, 3, 3,  //
                        2, 2, 3, 3, 3, 3,  //
                        2, 2, 2, 2, 3, 3},
                       torch::kLong)
      .view({6, 6});
}

}  // namespace

TEST(WeightedRidge, HandComputedFits) {
  const auto x = torch::tensor({0.f, 1.f, 2.f}).view({3, 1});
  const auto y = torch::tensor({1.f, 3.f, 5.f}).view({3, 1});
  const auto exact = weighted_ridge(x, y, torch::ones({3}), 0.0);
  EXPECT_NEAR(exact.coef.item<float>(), 2.f, 1e-6);
  EXPECT_NEAR(exact.intercept.item<float>(), 1.f, 1e-6);
  EXPECT_NEAR(exact.r2.item<float>(), 1.f, 1e-6);
  // Centred: Σxy / (Σx² + α) = 4 / (2 + 2) = 1; intercept = ȳ − x̄ = 2; R² = 1 − 2/8.
  const auto ridge = weighted_ridge(x, y, torch::ones({3}), 2.0);
  EXPECT_NEAR(ridge.coef.item<float>(), 1.f, 1e-6);
  EXPECT_NEAR(ridge.intercept.item<float>(), 2.f, 1e-6);
  EXPECT_NEAR(ridge.r2.item<float>(), 0.75f, 1e-6);
  // Weights (1,0,1): the middle point is ignored, the line through the others is exact.
  const auto weighted =
      weighted_ridge(x, torch::tensor({1.f, 100.f, 5.f}).view({3, 1}), torch::tensor({1.f, 0.f, 1.f}), 0);
  EXPECT_NEAR(weighted.coef.item<float>(), 2.f, 1e-5);
  EXPECT_NEAR(weighted.r2.item<float>(), 1.f, 1e-6);
}

TEST(Lime, RecoversAnAdditiveModelExactly) {
  torch::manual_seed(5);
  const auto labels = hand_labels();
  const auto c = torch::tensor({1.f, -2.f, 3.f, 0.5f});
  testing::SegmentNet net(labels, c);
  const auto x = torch::rand({1, 3, 6, 6});
  const auto o = ExplainOptions().set_normalize(false).set_signed(true).set_perturbation(
      PerturbationOptions().set_segments(labels).set_masker(Masker::kConstant).set_ridge_alpha(0).set_samples(300));
  const auto attr = Lime(o).explain(net, x, class_logit(0));
  // Hidden segments are 0, so f(z) = Σ_k c_k·mean_k·z_k: coefficient k = c_k·mean_k.
  const auto expected = c * testing::segment_means(x[0], labels, 4);
  EXPECT_TRUE(torch::allclose(attr.weights[0], expected, 1e-4, 1e-5)) << attr.weights << expected;
  EXPECT_TRUE(torch::allclose(attr.maps[0], expected.index_select(0, labels.flatten()).view({6, 6}), 1e-4, 1e-5));
  EXPECT_NEAR(attr.extras.at("intercept")[0].item<float>(), 0.f, 1e-4);
  EXPECT_NEAR(attr.extras.at("r2")[0].item<float>(), 1.f, 1e-5);
  EXPECT_NEAR(attr.extras.at("local_prediction")[0].item<float>(), attr.scores[0].item<float>(), 1e-4);
  EXPECT_NEAR(attr.scores[0].item<float>(), expected.sum().item<float>(), 1e-5);
  EXPECT_TRUE(torch::equal(attr.extras.at("segments")[0], labels));
  EXPECT_EQ(attr.model_evaluations, 300);
}

TEST(Lime, TopLabelsExplainSeveralClassesInOnePass) {
  torch::manual_seed(6);
  const auto labels = hand_labels();
  testing::SegmentNet net(labels, torch::tensor({1.f, 2.f, 3.f, 0.5f}));
  const auto x = torch::rand({2, 3, 6, 6});
  const auto o =
      ExplainOptions().set_normalize(false).set_signed(true).set_perturbation(PerturbationOptions()
                                                                                  .set_segments(labels)
                                                                                  .set_masker(Masker::kConstant)
                                                                                  .set_top_labels(2)
                                                                                  .set_samples(200)
                                                                                  .set_seed(3));
  const auto attr = Lime(o).explain(net, x, top1_logit());
  // Outputs are [g, −g] with g > 0: labels (0, 1) and opposite coefficients.
  EXPECT_TRUE(torch::equal(attr.extras.at("labels"), torch::tensor({{0, 1}, {0, 1}}, torch::kLong)));
  const auto w = attr.extras.at("label_weights");
  EXPECT_EQ(w.sizes(), (std::vector<int64_t>{2, 2, 4}));
  EXPECT_TRUE(torch::allclose(w.select(1, 1), -w.select(1, 0), 1e-4, 1e-5));
  EXPECT_EQ(attr.extras.at("r2").sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(attr.model_evaluations, 2 * 201);
}

TEST(Lime, DefaultSegmentMeanFillAndBadSegments) {
  // Filling a segment with its own mean leaves this model unchanged: every coefficient 0.
  const auto labels = hand_labels();
  testing::SegmentNet net(labels, torch::tensor({1.f, -2.f, 3.f, 0.5f}));
  const auto x = torch::rand({1, 3, 6, 6});
  const auto o = ExplainOptions().set_normalize(false).set_signed(true).set_perturbation(
      PerturbationOptions().set_segments(labels).set_samples(100));
  const auto attr = Lime(o).explain(net, x, class_logit(0));
  EXPECT_LT(attr.weights.abs().max().item<float>(), 1e-5);
  try {
    Lime(ExplainOptions().set_perturbation(PerturbationOptions().set_segments(torch::zeros({5, 6}, torch::kLong))))
        .explain(net, x, class_logit(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("segments"), std::string::npos) << e.what();
  }
}

}  // namespace loupe
