#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "train/noise_classes.h"
#include "loupe/core/device.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/zoo.h"
#include "loupe/train/history.h"
#include "loupe/train/lff.h"
#include "test_util.h"

namespace loupe {

TEST(Lff, GeneralizedCrossEntropyHandValue) {
  // p_y = 3/4 for logits (0, log 3) and label 1.
  const auto logits = torch::tensor({0.0, std::log(3.0)}, torch::kDouble).view({1, 2});
  const auto gce = generalized_cross_entropy(logits, torch::tensor({int64_t{1}}), 0.7);
  EXPECT_NEAR(gce[0].item<double>(), (1 - std::pow(0.75, 0.7)) / 0.7, 1e-12);
  // q → 1 is 1 − p.
  EXPECT_NEAR(generalized_cross_entropy(logits, torch::tensor({int64_t{1}}), 1.0)[0].item<double>(), 0.25, 1e-12);
}

TEST(Lff, MovingAveragesAndTheirClassNormalisation) {
  LossAverages ema(4, 0.5);
  ema.update(torch::tensor({int64_t{0}, int64_t{2}}), torch::tensor({1.0f, 2.0f}));  // first sight: the loss
  ema.update(torch::tensor({int64_t{0}}), torch::tensor({3.0f}));                      // 0.5·1 + 0.5·3
  ema.update(torch::tensor({int64_t{3}}), torch::tensor({4.0f}));
  EXPECT_TRUE(torch::allclose(ema.values(), torch::tensor({2.0f, 0.0f, 2.0f, 4.0f})));
  // Classes {0,1} → {0, 0, 1, 1}: class maxima 2 and 4.
  const auto labels = torch::tensor({int64_t{0}, int64_t{0}, int64_t{1}, int64_t{1}});
  const auto n = ema.normalised(torch::tensor({int64_t{0}, int64_t{2}, int64_t{3}}), labels, 2);
  EXPECT_TRUE(torch::allclose(n, torch::tensor({1.0f, 0.5f, 1.0f})));
}

TEST(Lff, RelativeDifficultyOnHandSetLosses) {
  const auto w = relative_difficulty(torch::tensor({0.9, 0.5, 0.0, 0.2}, torch::kDouble),
                                     torch::tensor({0.1, 0.5, 0.0, 0.6}, torch::kDouble));
  EXPECT_TRUE(torch::allclose(w, torch::tensor({0.9, 0.5, 0.5, 0.25}, torch::kDouble)));
}

TEST(Lff, TrainsTwoModelsAndCheckpointsTheDebiasedOneAsTheClassifier) {
  const auto data = test::dark_and_bright_noise(48, 4);
  const ModelSpec spec{"small_cnn", 1, 2};
  test::TempDir dir;
  torch::manual_seed(0);
  auto model = make_model(spec);
  const auto r = train_lff(*model, spec, data, &data, TrainOptions().set_epochs(2).set_batch_size(16).set_seed(2).set_checkpoint(dir.path() / "lff.pt"),
                           torch::kCPU);
  const auto& last = r.run.history.back();
  EXPECT_GT(last.value("weight"), 0.0);
  EXPECT_LT(last.value("weight"), 1.0);
  EXPECT_TRUE(std::isfinite(last.value("gce")));
  EXPECT_TRUE(std::isfinite(last.value("val_accuracy")));
  // The checkpoint reads back as the debiased classifier.
  const auto loaded = load_model(dir.path() / "lff.pt");
  const auto x = data.get(torch::arange(4, torch::kLong)).images;
  model->eval();
  loaded->eval();
  const auto a = loaded->forward(x), b = model->forward(x);
  EXPECT_TRUE(torch::allclose(a, b)) << a << b;
  EXPECT_LOUPE_ERROR(check_lff_options(LffOptions().set_q(0)), "LfF q 0");
}

}  // namespace loupe
