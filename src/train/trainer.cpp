#include "loupe/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/progress.h"

namespace loupe {
namespace {

using Clock = std::chrono::steady_clock;

// The global generator's seed for an epoch; the constant keeps this stream apart from
// the shuffling generator seeded with seed + epoch.
uint64_t global_epoch_seed(uint64_t seed, uint64_t epoch) { return seed * 0x9E3779B97F4A7C15ULL + epoch; }

// A rank's own stream for the global generator (dropout, augmentation, random objectives);
// rank 0's is the one-process stream.
uint64_t rank_seed(uint64_t seed, int rank) { return seed ^ (static_cast<uint64_t>(rank) * 0xD1B54A32D192ED03ULL); }

// How a run's steps relate to images: recorded in each checkpoint's extras.
struct StepShape {
  int64_t world_size = 1, batch_size = 0, steps_per_epoch = 0;
  int64_t global_batch() const { return world_size * batch_size; }
};

std::string step_shape_json(const StepShape& shape, int64_t images) {
  return nlohmann::json{{"world_size", shape.world_size},
                        {"batch_size", shape.batch_size},
                        {"steps_per_epoch", shape.steps_per_epoch},
                        {"images", images}}
      .dump();
}

// The shape a checkpoint's extras record; nullopt for checkpoints that predate them.
std::optional<StepShape> recorded_step_shape(const std::string& extra_json) {
  const auto extra = nlohmann::json::parse(extra_json, nullptr, /*allow_exceptions=*/false);
  if (!extra.is_object() || !extra.contains("world_size") || !extra.contains("batch_size") ||
      !extra.contains("steps_per_epoch"))
    return std::nullopt;
  StepShape shape;
  for (auto [key, field] : {std::pair{"world_size", &shape.world_size}, std::pair{"batch_size", &shape.batch_size},
                            std::pair{"steps_per_epoch", &shape.steps_per_epoch}}) {
    const auto& v = extra.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 1) return std::nullopt;
    *field = v.get<int64_t>();
  }
  return shape;
}

// The step a resumed run starts at. Checkpoints are written at epoch ends (and at the last
// step), so the completed epochs carry over exactly; steps into an unfinished epoch become
// the images they consumed, rounded down to whole steps of the new shape.
int64_t resumed_step(const TrainingState& state, const std::optional<StepShape>& old, const StepShape& now) {
  if (!old || (old->global_batch() == now.global_batch() && old->steps_per_epoch == now.steps_per_epoch))
    return state.step;
  const int64_t within = std::max<int64_t>(0, state.step - state.epoch * old->steps_per_epoch);
  return state.epoch * now.steps_per_epoch +
         std::min(now.steps_per_epoch, within * old->global_batch() / now.global_batch());
}

// One step's logs over every rank: sums and counts added, so each value is its mean over
// the global batch, as one process training on it would log.
StepLog sum_over_ranks(const StepLog& log, ProcessGroup& group) {
  std::vector<double> totals;
  for (const auto& [name, part] : log.parts()) totals.insert(totals.end(), {part.sum, part.count});
  const auto all = torch::tensor(totals, torch::kDouble);
  group.all_reduce_sum(all);
  const double* v = all.data_ptr<double>();
  StepLog out;
  size_t i = 0;
  for (const auto& [name, part] : log.parts()) {
    out.add(name, v[i], v[i + 1]);
    i += 2;
  }
  return out;
}

std::vector<torch::Tensor> module_buffers(const TrainSetup& setup) {
  std::vector<torch::Tensor> out;
  for (const auto& m : setup.modules)
    for (const auto& b : m.module->buffers()) out.push_back(b);
  return out;
}

// Every rank must resume from the same step, or their collectives would not pair up.
void check_same_start(ProcessGroup& group, int64_t first_step, const TrainOptions& o) {
  const auto steps = group.all_gather(torch::tensor({first_step}, torch::kLong));
  const auto* s = steps.data_ptr<int64_t>();
  std::string seen;
  bool same = true;
  for (int r = 0; r < group.world_size(); ++r) {
    same = same && s[r] == s[0];
    seen += (r ? ", " : "") + std::string("rank ") + std::to_string(r) + " step " + std::to_string(s[r]);
  }
  LOUPE_CHECK(same, "distributed training: the ranks would start at different steps (", seen,
              "); --resume needs the checkpoint ", o.checkpoint.string(), " on a filesystem that every rank reads");
}

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
  ProcessGroup* const group = o.group.get();
  const int world = group ? group->world_size() : 1, rank = group ? group->rank() : 0;
  const bool main_rank = rank == 0;
  const int64_t n = data.size(), bs = o.batch_size;
  LOUPE_CHECK(n >= o.min_batch, "training data has ", n, " image(s); expected at least ", o.min_batch);
  // Each rank's share of an epoch (train/distributed.h): the whole epoch for one process.
  const int64_t share = (n + world - 1) / world;
  LOUPE_CHECK(share >= o.min_batch, "training data has ", n, " image(s), ", share, " per rank over ", world,
              " ranks; expected at least ", o.min_batch, " per rank");
  Optimizers optimizers;
  for (const auto& opt : setup.optimizers) optimizers.add(opt.name, opt.optimizer);
  optimizers.set_group(group);
  for (const auto& m : setup.modules) m.module->to(device);

  // A last batch too small to train on (BatchNorm on 1x1 maps, a TC estimate within a
  // batch) waits for the next epoch's shuffle.
  int64_t per_epoch = (share + bs - 1) / bs;
  if (per_epoch > 1 && share % bs != 0 && share % bs < o.min_batch) --per_epoch;
  if (o.steps_per_epoch > 0) per_epoch = std::min(per_epoch, o.steps_per_epoch);
  const StepShape shape{world, bs, per_epoch};

  TrainResult result;
  int64_t first_step = 0, images_before = 0;
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
    const auto old_shape = recorded_step_shape(info.state.extra_json);
    first_step = resumed_step(info.state, old_shape, shape);
    const auto extra = nlohmann::json::parse(info.state.extra_json, nullptr, /*allow_exceptions=*/false);
    images_before = extra.is_object() && extra.contains("images") && extra["images"].is_number_integer()
                        ? extra["images"].get<int64_t>()
                        : info.state.step * (old_shape ? old_shape->global_batch() : shape.global_batch());
  }
  if (group) {
    check_same_start(*group, first_step, o);
    // DDP's start: every rank holds rank 0's weights and buffers.
    std::vector<torch::Tensor> state = module_buffers(setup);
    for (const auto& m : setup.modules)
      for (const auto& p : m.module->parameters()) state.push_back(p);
    group->broadcast(state);
  }

  const int64_t total = o.max_steps > 0 ? o.max_steps : per_epoch * o.epochs;
  const int64_t epochs = (total + per_epoch - 1) / per_epoch;

  const auto start = Clock::now();
  auto epoch_start = start;
  std::optional<Progress> bar;  // rank 0 draws for the group
  if (main_rank) bar.emplace(o.label, std::max<int64_t>(0, total - first_step), "step");
  RecordAccumulator record;
  torch::Tensor order;
  for (int64_t step = first_step; step < total; ++step) {
    const int64_t epoch = step / per_epoch, within = step % per_epoch;
    if (within == 0 || step == first_step) {
      // Reseeded per epoch (not once per call) so a run resumed at an epoch boundary
      // draws what an uninterrupted one would. Every rank draws the same order.
      const uint64_t e = static_cast<uint64_t>(epoch) + o.epoch_seed_offset;
      seed_everything(rank_seed(global_epoch_seed(o.seed, e), rank));
      order = torch::randperm(n, make_generator(o.seed + e), torch::kLong);
      if (group) order = distributed_share(order, rank, world);
      epoch_start = Clock::now();
      for (const auto& m : setup.modules) m.module->train();
    }
    const auto step_start = Clock::now();
    const auto indices = order.slice(0, within * bs, std::min(share, (within + 1) * bs));
    const Batch cpu = data.get(indices);
    const Batch batch{cpu.images.to(device), cpu.labels.to(device), indices.to(device)};
    TrainContext ctx{device, step, epoch + 1, epochs, 0, group};
    StepLog log;
    objective.step(batch, ctx, optimizers, log);
    const double loss = log.value("loss");
    LOUPE_CHECK(std::isfinite(loss), o.label, ": training diverged: loss is ", loss, " at step ", step + 1, " (epoch ",
                epoch + 1, "); try a lower learning rate (now ", first_lr(optimizers), ") or check the data for NaNs");
    if (group) log = sum_over_ranks(log, *group);
    result.train_seconds += seconds_since(step_start);
    // Every rank's batch has this many images (equal shares, equal slicing).
    result.images_seen += batch.images.size(0) * world;
    record.add(log);
    if (o.log_steps) {
      RecordAccumulator one;
      one.add(log);
      result.steps.push_back(one.record(step + 1, epoch + 1));
    }
    // The postfix is text for a terminal only: no formatting per step when nothing draws.
    if (bar)
      bar->advance(1, Progress::enabled() ? "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) + " " +
                                                objective.progress(record)
                                          : std::string());

    const bool last = step + 1 == total, epoch_end = within + 1 == per_epoch;
    // DDP's broadcast_buffers, at the points where buffers are read: rank 0's BatchNorm
    // statistics for validation and for the checkpoint.
    if (group && (last || epoch_end)) group->broadcast(module_buffers(setup));
    if ((o.log_every > 0 && record.steps() == o.log_every) || last || epoch_end) {
      HistoryRecord r = record.record(step + 1, epoch + 1);
      if (epoch_end) {
        ctx.epoch_seconds = seconds_since(epoch_start);
        objective.end_epoch(ctx, r);
      }
      result.history.push_back(std::move(r));
      record = RecordAccumulator();
    }
    if (main_rank && !o.checkpoint.empty() && (last || epoch_end))
      save_checkpoint(o.checkpoint, setup.modules, setup.optimizers,
                      {step + 1, epoch_end ? epoch + 1 : epoch, history_to_json(result.history),
                       step_shape_json(shape, images_before + result.images_seen)});
  }
  if (bar) bar->finish();
  // Ranks leave together: none exits while rank 0 still writes the last checkpoint.
  if (group) group->barrier();
  for (const auto& m : setup.modules) m.module->eval();
  result.step = std::max(first_step, total);
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace loupe
