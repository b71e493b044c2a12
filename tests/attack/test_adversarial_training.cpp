#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "explain/toy_models.h"
#include "loupe/attack/attack.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier.h"
#include "loupe/train/classifier_losses.h"
#include "train/noise_classes.h"

namespace loupe {

TEST(AdversarialTraining, TrainsOnTheWorstCornerOfALinearModel) {
  // Two classes, logit_1 − logit_0 = Δw·x: for label 1 the L∞ PGD example (every step taken,
  // 7 steps of 2.5ε/7 from any random start) is x − ε·sign(Δw), so the loss is the CE there.
  const auto delta_w = torch::tensor({1.0, -2.0, 0.5, 3.0}, torch::kDouble).view({1, 2, 2});
  const auto w = torch::stack({torch::zeros_like(delta_w), delta_w});
  testing::LinearNet net(w, torch::zeros({2}, torch::kDouble));
  const auto x = torch::full({1, 1, 2, 2}, 0.5, torch::kDouble);
  const double eps = 0.1;
  const auto options =
      ClassifierLossOptions().set_loss(ClassifierLoss::kAdversarial).set_adversary(pgd_adversary(eps, 7));
  torch::manual_seed(3);
  const auto terms = classifier_loss(net, {x, torch::tensor({int64_t{1}})}, options);
  const double d = (delta_w * (x[0] - eps * delta_w.sign())).sum().item<double>();
  EXPECT_NEAR(terms.loss.item<double>(), std::log1p(std::exp(-d)), 1e-6);
  EXPECT_EQ(terms.penalty.item<double>(), 0.0);
}

TEST(AdversarialTraining, TrainsASmallCnnOnTheLoop) {
  const auto data = test::dark_and_bright_noise(32, 6);
  const ModelSpec spec{"small_cnn", 1, 2};
  torch::manual_seed(0);
  auto model = make_model(spec);
  const auto loss = ClassifierLossOptions().set_loss(ClassifierLoss::kAdversarial).set_adversary(pgd_adversary(0.03, 3));
  const auto r =
      train_classifier(*model, spec, data, &data, TrainOptions().set_epochs(1).set_batch_size(8), torch::kCPU, loss);
  EXPECT_TRUE(std::isfinite(r.history.back().value("loss")));
  EXPECT_TRUE(model->is_training() == false);  // the adversary restored the mode the loop left
}

}  // namespace loupe
