#include "loupe/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/progress.h"

namespace loupe {
namespace {

using Clock = std::chrono::steady_clock;

// The global generator's seed for an epoch; the constant keeps this stream apart from
// the shuffling generator seeded with seed + epoch.
uint64_t global_epoch_seed(uint64_t seed, uint64_t epoch) { return seed * 0x9E3779B97F4A7C15ULL + epoch; }

double first_lr(const Optimizers& optimizers) {
  for (const auto& [name, o] : optimizers.all())
    if (!o->param_groups().empty()) return o->param_groups().front().options().get_lr();
  return std::nan("");
}

}  // namespace

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "adam") return OptimizerKind::kAdam;
  if (name == "sgd") return OptimizerKind::kSgd;
  fail("optimizer '", name, "' is unknown; expected adam or sgd");
}

std::string optimizer_name(OptimizerKind kind) { return kind == OptimizerKind::kAdam ? "adam" : "sgd"; }

void check_optimizer_options(const OptimizerOptions& o) {
  LOUPE_CHECK(std::isfinite(o.lr) && o.lr > 0, "learning rate ", o.lr, ": expected a positive number");
  LOUPE_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight decay ", o.weight_decay,
              ": expected a number >= 0");
  LOUPE_CHECK(std::isfinite(o.momentum) && o.momentum >= 0 && o.momentum < 1, "momentum ", o.momentum,
              ": expected a number in [0, 1)");
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters,
                                                        const OptimizerOptions& o) {
  check_optimizer_options(o);
  switch (o.kind) {
    case OptimizerKind::kAdam:
      return std::make_unique<torch::optim::Adam>(parameters,
                                                  torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
    case OptimizerKind::kSgd:
      return std::make_unique<torch::optim::SGD>(
          parameters, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  }
  fail("optimizer kind ", static_cast<int>(o.kind), " is unknown");
}

void check_train_options(const TrainOptions& o) {
  check_optimizer_options(o.optimizer);
  LOUPE_CHECK(o.epochs >= 1, "epochs ", o.epochs, ": expected at least 1");
  LOUPE_CHECK(o.max_steps >= 0, "max steps ", o.max_steps, ": expected >= 0 (0 = all epochs)");
  LOUPE_CHECK(o.steps_per_epoch >= 0, "steps per epoch ", o.steps_per_epoch, ": expected >= 0 (0 = all)");
  LOUPE_CHECK(o.batch_size >= 1, "batch size ", o.batch_size, ": expected at least 1");
  LOUPE_CHECK(o.min_batch >= 1 && o.min_batch <= o.batch_size, "minimum batch ", o.min_batch,
              ": expected a number in [1, batch size ", o.batch_size, "]");
  LOUPE_CHECK(o.log_every >= 0, "log_every ", o.log_every, ": expected >= 0 (0 = once per epoch)");
  LOUPE_CHECK(!o.resume || !o.checkpoint.empty(), "resume needs a checkpoint path to resume from");
}

TrainResult train(const TrainSetup& setup, const Dataset& data, Objective& objective, const TrainOptions& o,
                  torch::Device device) {
  check_train_options(o);
  LOUPE_CHECK(!setup.modules.empty(), "train: expected at least one module to train");
  const int64_t n = data.size(), bs = o.batch_size;
  LOUPE_CHECK(n >= o.min_batch, "training data has ", n, " image(s); expected at least ", o.min_batch);
  Optimizers optimizers;
  for (const auto& opt : setup.optimizers) optimizers.add(opt.name, opt.optimizer);
  for (const auto& m : setup.modules) m.module->to(device);

  TrainResult result;
  int64_t first_step = 0;
  std::error_code ec;
  if (o.resume && fs::exists(o.checkpoint, ec)) {
    const CheckpointInfo info = load_checkpoint(o.checkpoint, setup.modules, setup.optimizers);
    LOUPE_CHECK(info.resumable, "checkpoint ", o.checkpoint.string(),
                " was written by loupe 0.1 and does not record its step count; it loads for eval and explain but "
                "cannot be resumed (train again without --resume)");
    try {
      result.history = history_from_json(info.state.history_json);
    } catch (const Error& e) {
      fail("checkpoint ", o.checkpoint.string(), ": cannot resume, its training history is unreadable (", e.what(),
           ")");
    }
    first_step = info.state.step;
  }

  // A last batch too small to train on (BatchNorm on 1x1 maps, a TC estimate within a
  // batch) waits for the next epoch's shuffle.
  int64_t per_epoch = (n + bs - 1) / bs;
  if (per_epoch > 1 && n % bs != 0 && n % bs < o.min_batch) --per_epoch;
  if (o.steps_per_epoch > 0) per_epoch = std::min(per_epoch, o.steps_per_epoch);
  const int64_t total = o.max_steps > 0 ? o.max_steps : per_epoch * o.epochs;
  const int64_t epochs = (total + per_epoch - 1) / per_epoch;

  const auto start = Clock::now();
  auto epoch_start = start;
  Progress bar(o.label, std::max<int64_t>(0, total - first_step), "step");
  RecordAccumulator record;
  torch::Tensor order;
  for (int64_t step = first_step; step < total; ++step) {
    const int64_t epoch = step / per_epoch, within = step % per_epoch;
    if (within == 0 || step == first_step) {
      // Reseeded per epoch (not once per call) so a run resumed at an epoch boundary
      // draws what an uninterrupted one would.
      const uint64_t e = static_cast<uint64_t>(epoch) + o.epoch_seed_offset;
      seed_everything(global_epoch_seed(o.seed, e));
      order = torch::randperm(n, make_generator(o.seed + e), torch::kLong);
      epoch_start = Clock::now();
      for (const auto& m : setup.modules) m.module->train();
    }
    const auto step_start = Clock::now();
    const auto indices = order.slice(0, within * bs, std::min(n, (within + 1) * bs));
    const Batch cpu = data.get(indices);
    const Batch batch{cpu.images.to(device), cpu.labels.to(device), indices.to(device)};
    TrainContext ctx{device, step, epoch + 1, epochs, 0};
    StepLog log;
    objective.step(batch, ctx, optimizers, log);
    const double loss = log.value("loss");
    LOUPE_CHECK(std::isfinite(loss), o.label, ": training diverged: loss is ", loss, " at step ", step + 1, " (epoch ",
                epoch + 1, "); try a lower learning rate (now ", first_lr(optimizers), ") or check the data for NaNs");
    result.train_seconds += seconds_since(step_start);
    result.images_seen += batch.images.size(0);
    record.add(log);
    if (o.log_steps) {
      RecordAccumulator one;
      one.add(log);
      result.steps.push_back(one.record(step + 1, epoch + 1));
    }
    // The postfix is text for a terminal only: no formatting per step when nothing draws.
    bar.advance(1, Progress::enabled() ? "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) + " " +
                                             objective.progress(record)
                                       : std::string());

    const bool last = step + 1 == total, epoch_end = within + 1 == per_epoch;
    if ((o.log_every > 0 && record.steps() == o.log_every) || last || epoch_end) {
      HistoryRecord r = record.record(step + 1, epoch + 1);
      if (epoch_end) {
        ctx.epoch_seconds = seconds_since(epoch_start);
        objective.end_epoch(ctx, r);
      }
      result.history.push_back(std::move(r));
      record = RecordAccumulator();
    }
    if (!o.checkpoint.empty() && (last || epoch_end))
      save_checkpoint(o.checkpoint, setup.modules, setup.optimizers,
                      {step + 1, epoch_end ? epoch + 1 : epoch, history_to_json(result.history), "{}"});
  }
  bar.finish();
  for (const auto& m : setup.modules) m.module->eval();
  result.step = std::max(first_step, total);
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace loupe
