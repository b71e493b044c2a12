#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/explain/faithfulness.h"

namespace loupe {
using namespace testing;

namespace {
// f(x) = Σ W ⊙ x on one 2x2 channel: per-pixel contributions 2, −0.5, 1, 1 (f = 3.5).
struct Toy {
  LinearNet net{torch::tensor({2.f, -1.f, 4.f, 1.f}).view({1, 1, 2, 2})};
  torch::Tensor x = torch::tensor({1.f, 0.5f, 0.25f, 1.f}).view({1, 1, 2, 2});
  // Order (0,0), (1,1), (1,0), (0,1).
  torch::Tensor map = torch::tensor({0.9f, 0.1f, 0.5f, 0.7f}).view({1, 2, 2});
};
const auto kBlack = FaithfulnessOptions().set_steps(4).set_insertion_baseline(Baseline::Black);
}  // namespace

TEST(Faithfulness, DeletionCurveOfALinearModelByHand) {
  Toy t;
  const auto curve = deletion_curve(t.net, t.x, t.map, class_logit(0), kBlack);
  EXPECT_TRUE(torch::allclose(curve.fractions, torch::tensor({0., 0.25, 0.5, 0.75, 1.}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(curve.scores, torch::tensor({{3.5, 1.5, 0.5, -0.5, 0.}}, torch::kDouble), 1e-6, 1e-6))
      << curve.scores;
  // 0.25 · ((3.5+1.5) + (1.5+0.5) + (0.5−0.5) + (−0.5+0))/2 = 0.8125.
  EXPECT_NEAR(curve.auc[0].item<double>(), 0.8125, 1e-6);
}

TEST(Faithfulness, InsertionCurveOfALinearModelByHand) {
  Toy t;
  const auto curve = insertion_curve(t.net, t.x, t.map, class_logit(0), kBlack);
  EXPECT_TRUE(torch::allclose(curve.scores, torch::tensor({{0., 2., 3., 4., 3.5}}, torch::kDouble), 1e-6, 1e-6));
  EXPECT_NEAR(curve.auc[0].item<double>(), 2.6875, 1e-6);
  // Three chunks of four pixels: floor(k·4/3) = 0, 1, 2, 4 pixels.
  const auto thirds = insertion_curve(t.net, t.x, t.map, class_logit(0), FaithfulnessOptions(kBlack).set_steps(3));
  EXPECT_TRUE(torch::allclose(thirds.scores, torch::tensor({{0., 2., 3., 3.5}}, torch::kDouble), 1e-6, 1e-6));
  // By default insertion starts from the blurred image.
  const auto blurred = insertion_curve(t.net, t.x, t.map, class_logit(0), FaithfulnessOptions().set_steps(4));
  const double f_blur =
      (gaussian_blur(t.x, 5.0) * torch::tensor({2.f, -1.f, 4.f, 1.f}).view({1, 1, 2, 2})).sum().item<double>();
  EXPECT_NEAR(blurred.scores[0][0].item<double>(), f_blur, 1e-5);
  EXPECT_NEAR(blurred.scores[0][4].item<double>(), 3.5, 1e-5);
}

TEST(Faithfulness, AllChannelsOfAPixelGoTogetherAndTiesGoByIndex) {
  // Pixel weights 1, 2, 4 in each of 3 channels: f(ones) = 21.
  LinearNet net(torch::tensor({1.f, 2.f, 4.f}).view({1, 1, 1, 3}).expand({1, 3, 1, 3}).contiguous());
  const auto x = torch::ones({1, 3, 1, 3});
  // Equal attributions everywhere: pixels leave in index order, all 3 channels at once.
  const auto curve =
      deletion_curve(net, x, torch::zeros({1, 1, 3}), class_logit(0), FaithfulnessOptions().set_steps(3));
  EXPECT_TRUE(torch::allclose(curve.scores, torch::tensor({{21., 18., 12., 0.}}, torch::kDouble)));
}

TEST(Faithfulness, SameCurvesAtAnyBatchSize) {
  TanhNet net;
  torch::manual_seed(40);
  const auto x = torch::rand({3, 3, 6, 6});
  const auto maps = torch::rand({3, 6, 6});
  const auto o = FaithfulnessOptions().set_steps(9);
  const auto a = deletion_curve(net, x, maps, top1_logit(), FaithfulnessOptions(o).set_batch_size(1));
  const auto b = deletion_curve(net, x, maps, top1_logit(), FaithfulnessOptions(o).set_batch_size(64));
  EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.auc, b.auc, 1e-5, 1e-6));
  EXPECT_EQ(a.scores.sizes(), (std::vector<int64_t>{3, 10}));
}

TEST(Faithfulness, BadInputsNameTheInput) {
  Toy t;
  EXPECT_LOUPE_ERROR(deletion_curve(t.net, t.x, t.map, class_logit(0), FaithfulnessOptions().set_steps(0)),
                     "deletion curve steps 0");
  EXPECT_LOUPE_ERROR(insertion_curve(t.net, t.x, torch::zeros({1, 3, 2}), class_logit(0)), "insertion curve maps");
  auto nan_map = t.map.clone();
  nan_map[0][0][0] = std::nanf("");
  EXPECT_LOUPE_ERROR(deletion_curve(t.net, t.x, nan_map, class_logit(0)), "deletion curve maps");
  auto nan_x = t.x.clone();
  nan_x[0][0][1][1] = std::nanf("");
  EXPECT_LOUPE_ERROR(deletion_curve(t.net, nan_x, t.map, class_logit(0)), "deletion curve images");
}

}  // namespace loupe
