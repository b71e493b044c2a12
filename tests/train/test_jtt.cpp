#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "train/noise_classes.h"
#include "loupe/core/device.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier.h"
#include "loupe/train/jtt.h"

namespace loupe {

TEST(Jtt, TheErrorSetIsWhatTheFirstModelMissesAndIsUpsampled) {
  // Dark vs bright noise with a quarter of the labels flipped: an identification model
  // trained one epoch misclassifies (at least) many of the flipped images.
  const int64_t n = 64;
  const auto noise = test::dark_and_bright_noise(n, 3);
  auto labels = noise.labels().clone();
  labels.slice(0, 0, 16) = 1 - labels.slice(0, 0, 16);
  const TensorDataset data(noise.images_u8(), labels, {"dark", "bright"});
  const ModelSpec spec{"small_cnn", 1, 2};
  torch::manual_seed(0);
  auto model = make_model(spec);
  const auto options = TrainOptions().set_epochs(2).set_batch_size(16).set_lr(3e-3).set_seed(1);
  const auto r = train_jtt(*model, spec, data, nullptr, options, torch::kCPU,
                           JttOptions().set_identification_epochs(2).set_upweight(5));
  // The error set is exactly what the identification model gets wrong on the training set.
  const auto predicted = evaluate_classifier(*r.identification, data, torch::kCPU).predictions;
  EXPECT_TRUE(torch::equal(r.error_set, predicted.ne(labels).nonzero().view(-1)));
  ASSERT_GT(r.error_set.size(0), 0);
  // The final model sees every image once and the error set five times per epoch.
  EXPECT_EQ(r.final_run.images_seen, 2 * (n + 4 * r.error_set.size(0)));
  EXPECT_EQ(r.identification_run.images_seen, 2 * n);
  EXPECT_LOUPE_ERROR(train_jtt(*model, spec, data, nullptr, options, torch::kCPU, JttOptions().set_upweight(0)),
                     "up-weight 0");
}

}  // namespace loupe
