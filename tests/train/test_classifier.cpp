#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/history.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::message_of;
namespace {

// Class 0: dark noise in [0,100]; class 1: bright noise in [155,255]. 1 channel, 10x10.
TensorDataset bright_vs_dark(int64_t n, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto labels = torch::arange(n, torch::kLong) % 2;
  auto noise = at::randint(0, 101, {n, 1, 10, 10}, gen, torch::kLong);
  auto images = (noise + 155 * labels.view({n, 1, 1, 1})).to(torch::kUInt8);
  return TensorDataset(images, labels, {"dark", "bright"});
}

const ModelSpec kSpec{"small_cnn", 1, 2};

struct Run {
  TrainResult result;
  std::vector<torch::Tensor> weights;
};

std::vector<torch::Tensor> weights_of(TappedModel& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : model.buffers()) out.push_back(b.clone());
  return out;
}

Run train_once(const TensorDataset& data, const TrainOptions& options, uint64_t init_seed = 0) {
  torch::manual_seed(init_seed);
  auto model = make_model(kSpec);
  Run run;
  run.result = train_classifier(*model, kSpec, data, &data, options, torch::kCPU);
  run.weights = weights_of(*model);
  return run;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, (a[i].to(torch::kDouble) - b[i].to(torch::kDouble)).abs().max().item<double>());
  return worst;
}

void expect_same_records(const HistoryRecord& a, const HistoryRecord& b) {
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step, b.step);
  for (const char* name : {"loss", "accuracy", "val_loss", "val_accuracy"}) EXPECT_EQ(a.value(name), b.value(name));
}

// logits = (10 (mean - 0.5), -10 (mean - 0.5)): class 0 when the image is bright. Hand-checkable.
class MeanThreshold : public TappedModel {
 public:
  MeanThreshold() {
    add_stage("mean", [](const torch::Tensor& x) { return x.mean({1, 2, 3}); });
    add_stage("fc", [](const torch::Tensor& m) { return torch::stack({10 * (m - 0.5), -10 * (m - 0.5)}, 1); });
  }
  std::string default_cam_tap() const override { return "mean"; }
  std::string arch() const override { return "mean_threshold"; }
};

}  // namespace

TEST(Classifier, LearnsSeparableDataToPerfectAccuracy) {
  const auto data = bright_vs_dark(64, 1);
  const auto run = train_once(data, TrainOptions().set_epochs(4).set_batch_size(16).set_lr(1e-2).set_seed(3));
  ASSERT_EQ(run.result.history.size(), 4u);
  const auto& last = run.result.history.back();
  EXPECT_EQ(last.epoch, 4);
  EXPECT_EQ(last.step, 4 * 4);
  EXPECT_EQ(last.value("val_accuracy"), 1.0);
  EXPECT_EQ(last.value("accuracy"), 1.0);
  EXPECT_LT(last.value("loss"), run.result.history.front().value("loss"));
  EXPECT_LT(last.value("val_loss"), 0.2);
  EXPECT_GT(last.value("seconds"), 0.0);
  EXPECT_EQ(run.result.images_seen, 4 * 64);
}

TEST(Classifier, SgdWithMomentumAlsoLearns) {
  const auto data = bright_vs_dark(64, 2);
  const auto run = train_once(data, TrainOptions().set_optimizer("sgd").set_epochs(4).set_batch_size(16).set_lr(0.05));
  EXPECT_EQ(run.result.history.back().value("val_accuracy"), 1.0);
}

TEST(Classifier, SameSeedGivesSameHistoryAndWeights) {
  const auto data = bright_vs_dark(48, 3);
  const auto options = TrainOptions().set_epochs(2).set_batch_size(8).set_seed(5);
  const auto a = train_once(data, options), b = train_once(data, options);
  ASSERT_EQ(a.result.history.size(), 2u);
  for (size_t i = 0; i < 2; ++i) expect_same_records(a.result.history[i], b.result.history[i]);
  EXPECT_EQ(max_difference(a.weights, b.weights), 0.0);
  // The seed drives the shuffling: another one gives other batches, so other weights.
  const auto c = train_once(data, TrainOptions(options).set_seed(6));
  EXPECT_GT(max_difference(a.weights, c.weights), 1e-4);
}

TEST(Classifier, ResumeEqualsUninterruptedTraining) {
  TempDir dir;
  const auto data = bright_vs_dark(40, 4);
  auto options = TrainOptions().set_epochs(2).set_batch_size(8).set_seed(9).set_weight_decay(1e-4).set_checkpoint(
      dir.path() / "straight.pt");
  const auto straight = train_once(data, options);

  options.set_checkpoint(dir.path() / "interrupted.pt");
  const auto first = train_once(data, TrainOptions(options).set_epochs(1));
  ASSERT_EQ(read_checkpoint_info(options.checkpoint).state.epoch, 1);
  ASSERT_EQ(read_checkpoint_info(options.checkpoint).state.step, 5);
  options.set_resume(true);
  // Another initialisation: everything must come from the checkpoint.
  const auto resumed = train_once(data, options, /*init_seed=*/123);

  EXPECT_LE(max_difference(straight.weights, resumed.weights), 1e-6);
  EXPECT_EQ(resumed.result.images_seen, 40);  // only the second epoch ran
  ASSERT_EQ(resumed.result.history.size(), 2u);
  expect_same_records(resumed.result.history[0], first.result.history[0]);
  expect_same_records(resumed.result.history[1], straight.result.history[1]);
  const auto info = read_checkpoint_info(options.checkpoint);
  EXPECT_EQ(info.state.epoch, 2);
  EXPECT_EQ(info.state.step, 10);
  EXPECT_EQ(history_from_json(info.state.history_json).size(), 2u);

  // Resuming a finished run trains nothing and returns the stored history.
  const auto again = train_once(data, options, 7);
  EXPECT_EQ(again.result.images_seen, 0);
  EXPECT_EQ(again.result.history.size(), 2u);
  EXPECT_EQ(max_difference(again.weights, resumed.weights), 0.0);
}

TEST(Classifier, StepsPerEpochLimitsBatches) {
  const auto data = bright_vs_dark(64, 5);
  const auto run = train_once(data, TrainOptions().set_epochs(2).set_batch_size(8).set_seed(1).set_log_steps(true), 0);
  EXPECT_EQ(run.result.images_seen, 2 * 64);
  // One record per step; batch losses average (all batches equal-sized) to the epoch's loss.
  ASSERT_EQ(run.result.steps.size(), 2u * 8u);
  for (int64_t e = 1; e <= 2; ++e) {
    double sum = 0, acc = 0;
    for (const auto& s : run.result.steps)
      if (s.epoch == e) sum += s.value("loss"), acc += s.value("accuracy");
    EXPECT_NEAR(sum / 8, run.result.history[e - 1].value("loss"), 1e-9);
    EXPECT_NEAR(acc / 8, run.result.history[e - 1].value("accuracy"), 1e-9);
  }
  EXPECT_EQ(
      train_once(data, TrainOptions().set_epochs(2).set_batch_size(8).set_steps_per_epoch(3)).result.images_seen,
      2 * 3 * 8);
  // 17 = 2 batches of 8 and a lone image, which BatchNorm could not normalise: skipped.
  EXPECT_EQ(train_once(bright_vs_dark(17, 5), TrainOptions().set_batch_size(8)).result.images_seen, 16);
  EXPECT_EQ(train_once(bright_vs_dark(18, 5), TrainOptions().set_batch_size(8)).result.images_seen, 18);
}

TEST(Classifier, RefusesBadOptionsAndMismatchedData) {
  const auto data = bright_vs_dark(16, 6);
  auto model = make_model(kSpec);
  auto msg = error_of(
      [&] { train_classifier(*model, kSpec, data, nullptr, TrainOptions().set_optimizer("adagrad"), torch::kCPU); });
  EXPECT_TRUE(contains(msg, "'adagrad'") && contains(msg, "adam or sgd")) << msg;
  msg = error_of([&] { train_classifier(*model, kSpec, data, nullptr, TrainOptions().set_lr(-1), torch::kCPU); });
  EXPECT_TRUE(contains(msg, "learning rate -1")) << msg;

  const ModelSpec rgb{"small_cnn", 3, 2};
  auto rgb_model = make_model(rgb);
  msg = error_of([&] { train_classifier(*rgb_model, rgb, data, nullptr, TrainOptions(), torch::kCPU); });
  EXPECT_TRUE(contains(msg, "1 channel(s)") && contains(msg, "built for 3")) << msg;
  const ModelSpec five{"small_cnn", 1, 5};
  auto five_model = make_model(five);
  msg = error_of([&] { train_classifier(*five_model, five, data, nullptr, TrainOptions(), torch::kCPU); });
  EXPECT_TRUE(contains(msg, "2 classes") && contains(msg, "built for 5")) << msg;
  msg = error_of([&] { train_classifier(*model, kSpec, data, nullptr, TrainOptions().set_resume(true), torch::kCPU); });
  EXPECT_TRUE(contains(msg, "resume needs a checkpoint")) << msg;
}

TEST(Classifier, EvaluateGivesHandComputedNumbersAtAnyBatchSize) {
  // Means 0.9, 0.2, 0.6, 0.4 with labels 0, 0, 1, 1: predictions 0, 1, 0, 1.
  const std::vector<int> values = {230, 51, 153, 102};
  auto images = torch::empty({4, 1, 2, 2}, torch::kUInt8);
  for (int i = 0; i < 4; ++i) images[i].fill_(values[i]);
  const TensorDataset data(images, torch::tensor({0, 0, 1, 1}, torch::kLong), {"bright", "dark"});
  MeanThreshold model;
  model.train();

  double expected_loss = 0;
  for (int i = 0; i < 4; ++i) {
    const double z = 10 * (values[i] / 255.0 - 0.5);  // logit gap, class 0 minus class 1
    const double gap = i < 2 ? 2 * z : -2 * z;        // true minus other
    expected_loss += std::log1p(std::exp(-gap)) / 4;
  }
  for (int64_t batch : {1, 3, 256}) {
    const auto e = evaluate_classifier(model, data, torch::kCPU, batch);
    EXPECT_DOUBLE_EQ(e.accuracy, 0.5);
    EXPECT_NEAR(e.loss, expected_loss, 1e-5);
    EXPECT_TRUE(torch::equal(e.predictions, torch::tensor({0, 1, 0, 1}, torch::kLong)));
    EXPECT_TRUE(torch::equal(e.confusion, torch::tensor({1, 1, 1, 1}, torch::kLong).view({2, 2})));
  }
  EXPECT_TRUE(model.is_training()) << "evaluation must restore the caller's mode";
}

}  // namespace loupe
