// One name per way to train a classifier: the names round-trip, and each dispatches to
// the training it names (checked through identities, not by inspecting calls).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier.h"
#include "loupe/train/train_objective.h"
#include "train/noise_classes.h"

namespace loupe {

TEST(TrainObjective, NamesRoundTripAndUnknownOnesAreRefused) {
  const auto names = train_objective_names();
  EXPECT_EQ(names, (std::vector<std::string>{"ce", "focal", "input-grad", "edge-saliency", "occlusion", "adversarial",
                                             "jtt", "lff"}));
  for (const auto& n : names) EXPECT_EQ(train_objective_name(parse_train_objective(n, "--objective")), n);
  EXPECT_LOUPE_ERROR(parse_train_objective("wizardry", "--objective"), "--objective");
  // Adversarial training needs an adversary, which the attack layer provides.
  EXPECT_LOUPE_ERROR(check_train_objective_options(TrainObjectiveOptions().set_objective(TrainObjective::kAdversarial)),
                     "no adversary");
}

namespace {

torch::Tensor train_and_flatten(const TrainObjectiveOptions& objective) {
  const auto data = test::dark_and_bright_noise(32, 5);
  const ModelSpec spec{"small_cnn", 1, 2};
  torch::manual_seed(0);
  auto model = make_model(spec);
  const auto options = TrainOptions().set_epochs(1).set_batch_size(8).set_lr(1e-3).set_seed(2);
  train_with_objective(*model, spec, data, nullptr, options, torch::kCPU, objective);
  std::vector<torch::Tensor> flat;
  for (const auto& p : model->parameters()) flat.push_back(p.detach().flatten());
  return torch::cat(flat);
}

}  // namespace

TEST(TrainObjective, FocalWithGammaZeroTrainsExactlyAsCrossEntropy) {
  auto focal = TrainObjectiveOptions().set_objective(TrainObjective::kFocal);
  focal.loss.set_focal_gamma(0.0);
  const auto a = train_and_flatten(TrainObjectiveOptions());
  const auto b = train_and_flatten(focal);
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-7));
  // γ = 2 trains differently, so the objective is really passed on.
  EXPECT_FALSE(
      torch::allclose(a, train_and_flatten(TrainObjectiveOptions().set_objective(TrainObjective::kFocal)), 1e-6, 1e-7));
}

TEST(TrainObjective, JttAndLffRunTheirProcedures) {
  // JTT with λ_up = 1 adds no copies of the error set: its final stage is plain
  // cross-entropy on the same data, so the kept model equals plain training. LfF's
  // weighted loss differs.
  const auto plain = train_and_flatten(TrainObjectiveOptions());
  auto jtt = TrainObjectiveOptions().set_objective(TrainObjective::kJtt);
  jtt.jtt.set_upweight(1);
  EXPECT_TRUE(torch::allclose(plain, train_and_flatten(jtt), 1e-6, 1e-7));
  EXPECT_FALSE(torch::allclose(plain, train_and_flatten(TrainObjectiveOptions().set_objective(TrainObjective::kLff)),
                               1e-6, 1e-7));
}

}  // namespace loupe
