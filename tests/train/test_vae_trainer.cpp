#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/data/dataset.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/vae_trainer.h"

namespace loupe {
namespace {

// n 64x64 images, each a bright 16x16 square at one of 4x4 positions.
TensorDataset squares(int64_t n, int64_t channels = 1) {
  auto images = torch::zeros({n, channels, 64, 64}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = (i % 4) * 12, c = ((i / 4) % 4) * 12;
    images[i].slice(1, r, r + 16).slice(2, c, c + 16).fill_(255);
  }
  return TensorDataset(images, torch::zeros({n}, torch::kLong), {"square"});
}

double mean_loss(const History& h, size_t first, size_t count) {
  double s = 0;
  for (size_t i = first; i < first + count; ++i) s += h[i].value("loss");
  return s / static_cast<double>(count);
}

}  // namespace

TEST(VaeTrainer, FewHundredStepsLowerTheLoss) {
  torch::manual_seed(0);
  Vae vae(VaeSpec().set_channels(1).set_latents(4));
  const auto data = squares(16);
  const auto objective = VaeObjectiveOptions().set_kind(VaeObjectiveKind::kBetaTcVae).set_beta(2);
  const auto options = vae_train_options().set_lr(1e-3).set_epochs(100).set_max_steps(200).set_batch_size(8);
  const auto result = train_vae(*vae, data, objective, options, torch::kCPU);
  ASSERT_EQ(result.step, 200);
  ASSERT_EQ(result.history.size(), 200u);
  EXPECT_EQ(result.history.back().step, 200);
  EXPECT_EQ(result.history.back().epoch, 100);
  EXPECT_TRUE(std::isfinite(result.history.back().value("total_correlation")));
  for (const char* term : {"reconstruction", "kl", "mutual_information", "dimension_kl", "weight", "capacity"})
    EXPECT_TRUE(result.history.back().values.count(term)) << term;
  // Bernoulli loss starts near 4096 log 2 = 2839 nats per image.
  EXPECT_LT(mean_loss(result.history, 190, 10), 0.5 * mean_loss(result.history, 0, 10));
  EXPECT_FALSE(vae->is_training());
}

TEST(VaeTrainer, MaxStepsIsTheCountWhateverTheEpochs) {
  // 16 images at batch 8 are 2 steps per epoch: 5 steps run into a third epoch, although
  // `epochs` says 1; without max_steps, `epochs` alone sets the count.
  const auto data = squares(16);
  const auto objective = VaeObjectiveOptions().set_kind(VaeObjectiveKind::kVae);
  const auto options = vae_train_options().set_batch_size(8);
  torch::manual_seed(1);
  Vae a(VaeSpec().set_channels(1).set_latents(2));
  const auto by_steps =
      train_vae(*a, data, objective, TrainOptions(options).set_epochs(1).set_max_steps(5), torch::kCPU);
  EXPECT_EQ(by_steps.step, 5);
  EXPECT_EQ(by_steps.history.back().epoch, 3);
  Vae b(VaeSpec().set_channels(1).set_latents(2));
  EXPECT_EQ(train_vae(*b, data, objective, TrainOptions(options).set_epochs(2), torch::kCPU).step, 4);
}

TEST(VaeTrainer, ResumeFromCheckpointRetracesAnUninterruptedRun) {
  const auto data = squares(16);
  const auto path = fs::temp_directory_path() / "loupe_test_vae_resume.pt";
  fs::remove(path);
  const auto objective = VaeObjectiveOptions().set_kind(VaeObjectiveKind::kVae);
  const auto options = vae_train_options().set_batch_size(8);
  torch::manual_seed(5);
  Vae straight(VaeSpec().set_channels(1).set_latents(3));
  const auto uninterrupted = train_vae(*straight, data, objective, TrainOptions(options).set_epochs(3), torch::kCPU);

  torch::manual_seed(5);
  Vae resumed(VaeSpec().set_channels(1).set_latents(3));
  train_vae(*resumed, data, objective, TrainOptions(options).set_epochs(1).set_checkpoint(path), torch::kCPU);
  EXPECT_EQ(read_checkpoint_info(path).state.step, 2);
  const auto result = train_vae(*resumed, data, objective,
                                TrainOptions(options).set_epochs(3).set_checkpoint(path).set_resume(true), torch::kCPU);
  EXPECT_EQ(result.step, 6);
  ASSERT_EQ(result.history.size(), 6u);
  const auto a = straight->parameters(), b = resumed->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << i;
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(result.history[i].value("loss"), uninterrupted.history[i].value("loss"), 1e-3);
  fs::remove(path);
}

TEST(VaeTrainer, PresetsAndBadInput) {
  const auto paper = vae_preset(Preset::kPaper);
  EXPECT_EQ(paper.spec.latents, 12);
  EXPECT_EQ(paper.objective.kind, VaeObjectiveKind::kBetaTcVae);
  EXPECT_DOUBLE_EQ(paper.objective.beta, 6.0);
  EXPECT_EQ(paper.objective.anneal_steps, 5000);
  EXPECT_DOUBLE_EQ(paper.train.optimizer.lr, 5e-4);
  EXPECT_EQ(paper.train.epochs, 50);
  EXPECT_EQ(paper.train.batch_size, 64);
  const auto quick = vae_preset(Preset::kQuick);
  EXPECT_EQ(quick.train.max_steps, 1200);
  EXPECT_EQ(quick.objective.anneal_steps, 400);
  EXPECT_THROW(parse_preset("huge"), Error);

  Vae vae(VaeSpec().set_channels(3).set_latents(2));
  try {
    train_vae(*vae, squares(4, 1), VaeObjectiveOptions(), vae_train_options(), torch::kCPU);
    FAIL() << "expected a channel error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1,64,64]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(
      train_vae(*vae, squares(4, 3), VaeObjectiveOptions(), vae_train_options().set_batch_size(1), torch::kCPU),
      Error);
}

}  // namespace loupe
