#include "loupe/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "models/format1_checkpoint.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
namespace {

// n 1x1 gray images of value 1 with label 1.
TensorDataset ones(int64_t n) {
  return TensorDataset(torch::full({n, 1, 1, 1}, 255, torch::kUInt8), torch::ones({n}, torch::kLong), {"a", "b"});
}

// loss = (w x - y)^2 averaged over the batch, for a 1x1 linear model without bias.
class SquaredError : public Objective {
 public:
  explicit SquaredError(torch::nn::Linear& model) : model_(model) {}
  torch::Tensor loss(const Batch& batch, const TrainContext&, StepLog&) override {
    const auto pred = model_(batch.images.flatten(1)).squeeze(1);
    return (pred - batch.labels.to(torch::kFloat)).pow(2).mean();
  }

 private:
  torch::nn::Linear& model_;
};

torch::nn::Linear scalar_model(double w) {
  torch::nn::Linear model(torch::nn::LinearOptions(1, 1).bias(false));
  torch::NoGradGuard no_grad;
  model->weight.fill_(w);
  return model;
}

// Two modules, each with its own optimiser, updated in turn (a GAN's pattern): a
// "critic" c fits the mean of the "generator" output g, and g moves towards 1 - c.
class TwoPlayer : public Objective {
 public:
  TwoPlayer(torch::nn::Linear& g, torch::nn::Linear& c) : g_(g), c_(c) {}
  void step(const Batch& batch, const TrainContext&, const Optimizers& optimizers, StepLog& log) override {
    const auto x = batch.images.flatten(1);
    auto& c_opt = optimizers.get("critic");
    c_opt.zero_grad();
    const auto c_loss = (c_(x) - g_(x).detach()).pow(2).mean();
    c_loss.backward();
    c_opt.step();
    auto& g_opt = optimizers.get("generator");
    g_opt.zero_grad();
    const auto g_loss = (g_(x) - (1 - c_(x).detach())).pow(2).mean();
    g_loss.backward();
    g_opt.step();
    log.add("loss", g_loss.item<double>());
    log.add("critic_loss", c_loss.item<double>());
  }

 private:
  torch::nn::Linear& g_;
  torch::nn::Linear& c_;
};

}  // namespace

TEST(Trainer, SgdStepsGiveHandComputedWeightsAndLosses) {
  // w0 = 0.5, x = 1, y = 1: loss (w - 1)^2, gradient 2 (w - 1); SGD lr 0.1 without
  // momentum: w1 = 0.6, w2 = 0.68; logged losses 0.25 and 0.16.
  auto model = scalar_model(0.5);
  auto sgd = make_optimizer(model->parameters(),
                            OptimizerOptions().set_kind(OptimizerKind::kSgd).set_lr(0.1).set_momentum(0));
  SquaredError objective(model);
  const auto result = train({{{"model", model.get(), R"({"arch":"scalar"})"}}, {{"model", sgd.get()}}}, ones(4),
                            objective, TrainOptions().set_batch_size(4).set_epochs(2).set_log_every(1), torch::kCPU);
  EXPECT_NEAR(model->weight.item<double>(), 0.68, 1e-6);
  ASSERT_EQ(result.history.size(), 2u);
  EXPECT_NEAR(result.history[0].value("loss"), 0.25, 1e-7);
  EXPECT_NEAR(result.history[1].value("loss"), 0.16, 1e-6);
  EXPECT_EQ(result.history[1].step, 2);
  EXPECT_EQ(result.history[1].epoch, 2);
  EXPECT_EQ(result.step, 2);
  EXPECT_EQ(result.images_seen, 8);
  EXPECT_FALSE(model->is_training());
}

TEST(Trainer, RecordsFollowLogEveryEpochEndsAndMaxSteps) {
  // 10 images at batch 4 with min_batch 3: batches of 4 and 4, the last 2 wait for the next
  // shuffle, so 2 steps per epoch. 7 steps with a record every 3: at steps 2 (epoch end),
  // 4 (epoch end), 6 (epoch end) and 7 (the last).
  auto model = scalar_model(0);
  auto adam = make_optimizer(model->parameters(), OptimizerOptions().set_lr(0.01));
  SquaredError objective(model);
  const auto result = train({{{"model", model.get(), R"({"arch":"scalar"})"}}, {{"model", adam.get()}}}, ones(10),
                            objective,
                            TrainOptions().set_batch_size(4).set_min_batch(3).set_max_steps(7).set_log_every(3).set_log_steps(true),
                            torch::kCPU);
  std::vector<int64_t> steps, epochs;
  for (const auto& r : result.history) steps.push_back(r.step), epochs.push_back(r.epoch);
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 4, 6, 7}));
  EXPECT_EQ(epochs, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(result.images_seen, 7 * 4);
  ASSERT_EQ(result.steps.size(), 7u);
  // A record's value is the mean of its steps' (all batches have 4 images).
  EXPECT_NEAR(result.history[0].value("loss"),
              (result.steps[0].value("loss") + result.steps[1].value("loss")) / 2, 1e-12);
}

TEST(Trainer, SeveralModulesAndOptimisersResumeExactly) {
  TempDir dir;
  const auto data = ones(6);
  auto run = [&](int64_t epochs, const fs::path& checkpoint, bool resume) {
    auto g = scalar_model(0.1), c = scalar_model(-0.3);
    auto g_opt = make_optimizer(g->parameters(), OptimizerOptions().set_lr(0.05));
    auto c_opt = make_optimizer(c->parameters(), OptimizerOptions().set_kind(OptimizerKind::kSgd).set_lr(0.2));
    TwoPlayer objective(g, c);
    const TrainSetup setup{{{"generator", g.get(), R"({"arch":"scalar"})"}, {"critic", c.get(), R"({"arch":"scalar"})"}},
                           {{"generator", g_opt.get()}, {"critic", c_opt.get()}}};
    const auto result = train(setup, data, objective,
                              TrainOptions().set_batch_size(2).set_epochs(epochs).set_checkpoint(checkpoint).set_resume(resume),
                              torch::kCPU);
    return std::make_tuple(g->weight.item<double>(), c->weight.item<double>(), result);
  };
  const auto [g_straight, c_straight, straight] = run(4, dir.path() / "straight.pt", false);
  run(2, dir.path() / "split.pt", false);
  const auto info = read_checkpoint_info(dir.path() / "split.pt");
  EXPECT_EQ(info.specs.size(), 2u);
  EXPECT_EQ(info.optimizers.at("critic"), "sgd");
  EXPECT_EQ(info.state.step, 6);
  EXPECT_EQ(info.state.epoch, 2);
  const auto [g_resumed, c_resumed, resumed] = run(4, dir.path() / "split.pt", true);
  EXPECT_EQ(g_resumed, g_straight);
  EXPECT_EQ(c_resumed, c_straight);
  ASSERT_EQ(resumed.history.size(), 4u);
  EXPECT_EQ(resumed.history[3].value("critic_loss"), straight.history[3].value("critic_loss"));
  EXPECT_EQ(resumed.images_seen, 2 * 6);
  // The critic moved: the comparison has teeth.
  EXPECT_NE(c_straight, -0.3);
}

TEST(Trainer, DivergedLossStopsBeforeTheUpdateAndSaysWhere) {
  class Exploding : public SquaredError {
   public:
    using SquaredError::SquaredError;
    torch::Tensor loss(const Batch& batch, const TrainContext& ctx, StepLog& log) override {
      auto l = SquaredError::loss(batch, ctx, log);
      return ctx.step == 2 ? l * std::nan("") : l;
    }
  };
  auto model = scalar_model(0.5);
  auto sgd = make_optimizer(model->parameters(), OptimizerOptions().set_kind(OptimizerKind::kSgd).set_lr(0.1).set_momentum(0));
  Exploding objective(model);
  const auto msg = error_of([&] {
    train({{{"model", model.get(), R"({"arch":"scalar"})"}}, {{"model", sgd.get()}}}, ones(2), objective,
          TrainOptions().set_batch_size(2).set_epochs(5).set_label("toy"), torch::kCPU);
  });
  EXPECT_TRUE(contains(msg, "toy: training diverged: loss is nan at step 3 (epoch 3)") && contains(msg, "0.1")) << msg;
  EXPECT_NEAR(model->weight.item<double>(), 0.68, 1e-6) << "two updates, not three";
}

TEST(Trainer, RefusesBadOptionsBeforeTraining) {
  auto model = scalar_model(0);
  auto adam = make_optimizer(model->parameters(), OptimizerOptions());
  SquaredError objective(model);
  const TrainSetup setup{{{"model", model.get(), R"({"arch":"scalar"})"}}, {{"model", adam.get()}}};
  auto bad = [&](const TrainOptions& o) { return error_of([&] { train(setup, ones(4), objective, o, torch::kCPU); }); };
  EXPECT_TRUE(contains(bad(TrainOptions().set_epochs(0)), "epochs 0"));
  EXPECT_TRUE(contains(bad(TrainOptions().set_batch_size(0)), "batch size 0"));
  EXPECT_TRUE(contains(bad(TrainOptions().set_max_steps(-1)), "max steps -1"));
  EXPECT_TRUE(contains(bad(TrainOptions().set_batch_size(4).set_min_batch(5)), "minimum batch 5"));
  EXPECT_TRUE(contains(bad(TrainOptions().set_lr(std::nan(""))), "learning rate nan"));
  EXPECT_TRUE(contains(bad(TrainOptions().set_resume(true)), "resume needs a checkpoint"));
  EXPECT_TRUE(contains(bad(TrainOptions().set_batch_size(8).set_min_batch(8)), "training data has 4 image(s)"));
  EXPECT_TRUE(contains(error_of([] { parse_optimizer("adagrad"); }), "'adagrad'"));
  EXPECT_EQ(model->weight.item<double>(), 0.0) << "nothing trained";
}

TEST(Trainer, Format1ClassifierCheckpointsCannotResume) {
  TempDir dir;
  auto model = scalar_model(0);
  const fs::path path = dir.path() / "old.pt";
  test::save_format1(path, *model, test::format1_classifier_header("scalar", 1, 2, 3));
  auto adam = make_optimizer(model->parameters(), OptimizerOptions());
  SquaredError objective(model);
  const auto msg = error_of([&] {
    train({{{kClassifierModule, model.get(), R"({"arch":"scalar","in_channels":1,"num_classes":2})"}},
           {{kClassifierModule, adam.get()}}},
          ones(4), objective, TrainOptions().set_checkpoint(path).set_resume(true), torch::kCPU);
  });
  EXPECT_TRUE(contains(msg, path.string()) && contains(msg, "cannot be resumed")) << msg;
}

}  // namespace loupe
