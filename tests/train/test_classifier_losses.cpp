#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "train/noise_classes.h"
#include "explain/toy_models.h"
#include "loupe/core/device.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier.h"
#include "loupe/train/classifier_losses.h"
#include "loupe/train/history.h"

namespace loupe {
namespace {

// A 4x4 square of ones in an 8x8 image (rows and columns 2..5), in channel 0 at 3 so that
// the gray (channel mean) image is the square of ones.
torch::Tensor square_image() {
  auto image = torch::zeros({1, 3, 8, 8}, torch::kDouble);
  image[0][0].slice(0, 2, 6).slice(1, 2, 6).fill_(3.0);
  return image;
}

}  // namespace

TEST(FocalLoss, HandExample) {
  const auto logits = torch::tensor({2.0, 0.0, 0.0, 1.0}, torch::kDouble).view({2, 2});
  const auto labels = torch::tensor({int64_t{0}, int64_t{0}});
  const double p0 = std::exp(2.0) / (std::exp(2.0) + 1), p1 = 1 / (1 + std::exp(1.0));
  const double expected = 0.5 * (-std::log(p0) * std::pow(1 - p0, 2) - std::log(p1) * std::pow(1 - p1, 2));
  EXPECT_NEAR(focal_loss(logits, labels, 2.0).item<double>(), expected, 1e-12);
  // γ = 0 is the plain mean cross-entropy.
  EXPECT_NEAR(focal_loss(logits, labels, 0.0).item<double>(), 0.5 * (-std::log(p0) - std::log(p1)), 1e-12);
}

TEST(InputGradientPenalty, EqualsTheClosedFormOnALinearModel) {
  // logits = W x + b, so ∇ₓ CE_i = Σ_k (p_ik − y_ik) W_k.
  torch::manual_seed(1);
  const auto w = torch::randn({3, 1, 2, 2}, torch::kDouble), b = torch::randn({3}, torch::kDouble);
  testing::LinearNet net(w, b);
  const auto x = torch::rand({2, 1, 2, 2}, torch::kDouble);
  const auto y = torch::tensor({int64_t{2}, int64_t{0}});
  const auto terms =
      classifier_loss(net, {x, y}, ClassifierLossOptions().set_loss(ClassifierLoss::kInputGradient).set_lambda(0.5));
  double penalty = 0, ce = 0;
  for (int64_t i = 0; i < 2; ++i) {
    const auto z = (w.flatten(1).matmul(x[i].flatten()) + b);
    const auto p = torch::softmax(z, 0);
    ce += -std::log(p[y[i].item<int64_t>()].item<double>());
    auto g = torch::zeros({4}, torch::kDouble);
    for (int64_t k = 0; k < 3; ++k)
      g += (p[k].item<double>() - (k == y[i].item<int64_t>() ? 1.0 : 0.0)) * w[k].flatten();
    penalty += g.square().sum().item<double>();
  }
  EXPECT_NEAR(terms.penalty.item<double>(), penalty / 2, 1e-12);
  EXPECT_NEAR(terms.cross_entropy.item<double>(), ce / 2, 1e-12);
  EXPECT_NEAR(terms.loss.item<double>(), ce / 2 + 0.5 * penalty / 2, 1e-12);
}

TEST(SobelEdges, HandDrawnSquare) {
  const auto e = sobel_edges(square_image())[0];
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{8, 8}));
  // Inner corners (2,2): gx = gy = 3, the largest magnitude √18, scaled to 1. The middle of
  // an edge (3,1) or (3,2): gx = 4, gy = 0.
  EXPECT_NEAR(e[2][2].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(e[3][1].item<double>(), 4 / std::sqrt(18.0), 1e-12);
  EXPECT_NEAR(e[3][2].item<double>(), 4 / std::sqrt(18.0), 1e-12);
  EXPECT_NEAR(e[2][1].item<double>(), std::sqrt(10.0 / 18.0), 1e-12);
  // Flat: inside the square, and away from it (replicate padding adds no border edge).
  EXPECT_EQ(e[3][3].item<double>(), 0.0);
  EXPECT_EQ(e[0][0].item<double>(), 0.0);
  EXPECT_EQ(e[7][7].item<double>(), 0.0);
  EXPECT_EQ(sobel_edges(torch::ones({1, 1, 5, 5})).abs().sum().item<double>(), 0.0);
}

TEST(EdgeSaliencyPenalty, CountsSaliencyOffTheEdges) {
  // A linear model's label saliency is |W_y| summed over channels, whatever the input.
  auto w = torch::zeros({2, 3, 8, 8}, torch::kDouble);
  w[1][0][0][0] = 2.0;   // flat (edge 0): counts fully
  w[1][1][7][7] = -2.0;  // flat: counts fully
  w[1][2][2][2] = 2.0;   // the strongest edge (1): does not count
  testing::LinearNet net(w, torch::zeros({2}, torch::kDouble));
  const auto options = ClassifierLossOptions().set_loss(ClassifierLoss::kEdgeSaliency).set_lambda(2.0);
  const auto terms = classifier_loss(net, {square_image(), torch::tensor({int64_t{1}})}, options);
  EXPECT_NEAR(terms.penalty.item<double>(), 2.0 / 64.0, 1e-12);
  EXPECT_NEAR(terms.loss.item<double>(), terms.cross_entropy.item<double>() + 2.0 * 2.0 / 64.0, 1e-12);
  // Saliency on the middle of an edge counts by 1 − 4/√18.
  auto on_edge = torch::zeros({2, 3, 8, 8}, torch::kDouble);
  on_edge[1][0][3][1] = 1.0;
  testing::LinearNet edge_net(on_edge, torch::zeros({2}, torch::kDouble));
  const auto t2 = classifier_loss(edge_net, {square_image(), torch::tensor({int64_t{1}})}, options);
  EXPECT_NEAR(t2.penalty.item<double>(), (1 - 4 / std::sqrt(18.0)) / 64.0, 1e-12);
}

TEST(OcclusionAugmentation, OneBlackSquarePerImageInside) {
  const auto images = torch::ones({4, 2, 20, 16});
  auto gen = make_generator(5);
  const auto out = occlude_random_squares(images, 12, &gen);
  for (int64_t i = 0; i < 4; ++i) {
    const auto zero = out[i][0].eq(0);
    EXPECT_EQ(zero.sum().item<int64_t>(), 144) << i;
    EXPECT_TRUE(torch::equal(out[i][0], out[i][1]));
    // Contiguous: the bounding box of the zeros is 12x12.
    const auto rows = zero.any(1).nonzero().view(-1), cols = zero.any(0).nonzero().view(-1);
    EXPECT_EQ(rows.size(0), 12);
    EXPECT_EQ(cols.size(0), 12);
    EXPECT_EQ(rows[11].item<int64_t>() - rows[0].item<int64_t>(), 11);
  }
  auto again = make_generator(5);
  EXPECT_TRUE(torch::equal(out, occlude_random_squares(images, 12, &again)));
  EXPECT_EQ(occlude_random_squares(images, 40, &again).sum().item<double>(), 0.0);  // larger than the image
}

TEST(ClassifierLosses, EveryObjectiveTrainsASmallCnnAndLogsItsPenalty) {
  // Dark vs bright noise, 1x10x10: each objective runs the one training loop for an epoch.
  const auto data = test::dark_and_bright_noise(32, 2);
  const ModelSpec spec{"small_cnn", 1, 2};
  for (const auto& name : classifier_loss_names()) {
    if (name == "adversarial") continue;  // needs the attack layer's adversary: tests/attack
    torch::manual_seed(0);
    auto model = make_model(spec);
    const auto loss = ClassifierLossOptions().set_loss(parse_classifier_loss(name, "--objective")).set_occlusion_size(4);
    const auto r = train_classifier(*model, spec, data, &data, TrainOptions().set_epochs(1).set_batch_size(8),
                                    torch::kCPU, loss);
    const auto& record = r.history.back();
    EXPECT_TRUE(std::isfinite(record.value("loss"))) << name;
    EXPECT_EQ(record.values.count("penalty") > 0, name != "ce") << name;
  }
  EXPECT_LOUPE_ERROR(parse_classifier_loss("jtt2", "--objective"), "--objective 'jtt2': expected one of ce, focal");
  EXPECT_LOUPE_ERROR(check_classifier_loss_options(ClassifierLossOptions().set_lambda(-1)), "lambda -1");
  EXPECT_LOUPE_ERROR(check_classifier_loss_options(ClassifierLossOptions().set_focal_gamma(-2)), "gamma -2");
  EXPECT_LOUPE_ERROR(check_classifier_loss_options(ClassifierLossOptions().set_loss(ClassifierLoss::kAdversarial)),
                     "no adversary");
}

}  // namespace loupe
