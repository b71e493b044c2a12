// The one training loop: any modules, one or more optimisers, a batch source and an
// Objective. Fixed seeds (the global generator and the shuffle are reseeded every
// epoch, so a resumed run retraces an uninterrupted one), a progress bar with the
// objective's running means and ETA, a history record per epoch or per log_every
// steps, an atomic checkpoint after every epoch (and at the end) and --resume from it.
// With a process group (train/distributed.h) it trains data-parallel: each rank takes its
// DistributedSampler share of every epoch, gradients are averaged before each step, logs
// are summed over the ranks, and only rank 0 draws progress and writes checkpoints.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/distributed.h"
#include "loupe/train/history.h"
#include "loupe/train/objective.h"

namespace loupe {

enum class OptimizerKind { kAdam, kSgd };
// "adam" / "sgd"; other text is a loupe::Error naming it.
OptimizerKind parse_optimizer(const std::string& name);
std::string optimizer_name(OptimizerKind kind);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdam;
  double lr = 1e-3;           // learning rate
  double weight_decay = 0.0;  // L2 penalty
  double momentum = 0.9;      // SGD only
  // clang-format off
  OptimizerOptions& set_kind(OptimizerKind v) { kind = v; return *this; }
  OptimizerOptions& set_lr(double v) { lr = v; return *this; }
  OptimizerOptions& set_weight_decay(double v) { weight_decay = v; return *this; }
  OptimizerOptions& set_momentum(double v) { momentum = v; return *this; }
  // clang-format on
};

// Errors name the first out-of-range option.
void check_optimizer_options(const OptimizerOptions& options);
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters,
                                                        const OptimizerOptions& options);

struct TrainOptions {
  OptimizerOptions optimizer;   // used by the train_* helpers that build one optimiser
  int64_t epochs = 1;           // passes over the data when max_steps is 0
  int64_t max_steps = 0;        // exactly this many optimiser steps in all; 0 = `epochs` full passes
  int64_t steps_per_epoch = 0;  // 0 = the whole dataset per epoch
  int64_t batch_size = 128;     // per rank when distributed (torch's convention)
  int64_t min_batch = 2;        // a last batch smaller than this waits for the next shuffle
  uint64_t seed = 0;            // shuffling and the global generator, reseeded every epoch
  // Added to the 0-based epoch index in the seeds: classifiers have used 1 and VAEs 0
  // since loupe 0.1; kept so that earlier runs reproduce digit for digit.
  uint64_t epoch_seed_offset = 1;
  int64_t log_every = 0;                // a history record per this many steps; 0 = one per epoch
  bool log_steps = false;               // also keep every step's log (TrainResult::steps)
  fs::path checkpoint;                  // empty = no checkpoints
  bool resume = false;                  // continue from `checkpoint` if it exists
  std::string label = "train";          // progress bar label
  std::shared_ptr<ProcessGroup> group;  // data-parallel across processes; null = this process alone
  // clang-format off
  TrainOptions& set_optimizer(OptimizerOptions v) { optimizer = v; return *this; }
  TrainOptions& set_optimizer(const std::string& v) { optimizer.kind = parse_optimizer(v); return *this; }
  TrainOptions& set_lr(double v) { optimizer.lr = v; return *this; }
  TrainOptions& set_weight_decay(double v) { optimizer.weight_decay = v; return *this; }
  TrainOptions& set_epochs(int64_t v) { epochs = v; return *this; }
  TrainOptions& set_max_steps(int64_t v) { max_steps = v; return *this; }
  TrainOptions& set_steps_per_epoch(int64_t v) { steps_per_epoch = v; return *this; }
  TrainOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  TrainOptions& set_min_batch(int64_t v) { min_batch = v; return *this; }
  TrainOptions& set_seed(uint64_t v) { seed = v; return *this; }
  TrainOptions& set_epoch_seed_offset(uint64_t v) { epoch_seed_offset = v; return *this; }
  TrainOptions& set_log_every(int64_t v) { log_every = v; return *this; }
  TrainOptions& set_log_steps(bool v) { log_steps = v; return *this; }
  TrainOptions& set_checkpoint(fs::path v) { checkpoint = std::move(v); return *this; }
  TrainOptions& set_resume(bool v) { resume = v; return *this; }
  TrainOptions& set_label(std::string v) { label = std::move(v); return *this; }
  TrainOptions& set_group(std::shared_ptr<ProcessGroup> v) { group = std::move(v); return *this; }
  // clang-format on
};

// Errors name the first out-of-range option.
void check_train_options(const TrainOptions& options);

struct TrainResult {
  History history;           // every record, those of a resumed run's earlier part included
  History steps;             // every step of this call when options.log_steps
  int64_t step = 0;          // optimiser steps completed, resumed ones included
  int64_t images_seen = 0;   // this call, over all ranks
  double seconds = 0;        // this call, end-of-epoch work included
  double train_seconds = 0;  // optimiser steps only (for throughput)
};

// What the loop trains and saves: every module is put in train mode for the steps and
// left in eval mode; every optimiser is checkpointed. A checkpoint's extras record the
// world size, per-rank batch and steps per epoch, so that --resume with other ones starts
// at the same epoch (exact at epoch ends; within an epoch, at the images consumed rounded
// down to whole steps).
struct TrainSetup {
  std::vector<CheckpointModule> modules;
  std::vector<CheckpointOptimizer> optimizers;
};

TrainResult train(const TrainSetup& setup, const Dataset& data, Objective& objective, const TrainOptions& options,
                  torch::Device device);

}  // namespace loupe
