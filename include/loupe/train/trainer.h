// Supervised training of a classifier with cross-entropy: Adam or SGD, fixed seed,
// progress bar with loss/accuracy/ETA, an atomic checkpoint after every epoch and
// resume from it, and the loss/accuracy history for the report.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"
#include "loupe/models/zoo.h"

namespace loupe {

struct EpochRecord {
  int64_t epoch = 0;      // 1-based
  double train_loss = 0;  // mean over the epoch's batches
  double train_accuracy = 0;
  double val_loss = 0;      // NaN when there is no validation set
  double val_accuracy = 0;  // NaN when there is no validation set
  double seconds = 0;
};

struct TrainOptions {
  std::string optimizer = "adam";  // "adam" | "sgd" (momentum 0.9)
  double lr = 1e-3;                // learning rate
  double weight_decay = 0.0;       // L2 penalty
  int64_t epochs = 1;
  int64_t batch_size = 128;
  uint64_t seed = 0;                // shuffling and the global generator, reseeded every epoch
  int64_t max_steps_per_epoch = 0;  // 0 = the whole training set every epoch
  fs::path checkpoint;              // empty = no checkpoints; written after every epoch
  bool resume = false;              // continue from `checkpoint` if it exists
  std::string label = "train";      // progress bar label
  // clang-format off
  TrainOptions& set_optimizer(std::string v) { optimizer = std::move(v); return *this; }
  TrainOptions& set_lr(double v) { lr = v; return *this; }
  TrainOptions& set_weight_decay(double v) { weight_decay = v; return *this; }
  TrainOptions& set_epochs(int64_t v) { epochs = v; return *this; }
  TrainOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  TrainOptions& set_seed(uint64_t v) { seed = v; return *this; }
  TrainOptions& set_max_steps_per_epoch(int64_t v) { max_steps_per_epoch = v; return *this; }
  TrainOptions& set_checkpoint(fs::path v) { checkpoint = std::move(v); return *this; }
  TrainOptions& set_resume(bool v) { resume = v; return *this; }
  TrainOptions& set_label(std::string v) { label = std::move(v); return *this; }
  // clang-format on
};

// One optimiser step: the loss and accuracy of its batch (before the update).
struct StepRecord {
  int64_t epoch = 0;  // 1-based
  double loss = 0;
  double accuracy = 0;
};

struct TrainResult {
  std::vector<EpochRecord> history;
  std::vector<StepRecord> steps;  // every step of this call (a resumed run starts empty)
  int64_t images_seen = 0;
  double seconds = 0;        // the whole call, validation included
  double train_seconds = 0;  // optimiser steps only (for throughput)
};

// Trains `model` (built from `spec`) on `train`, evaluating on `val` (may be null)
// after each epoch. The model is moved to `device` and left in eval mode. Epoch e
// visits the data in a permutation drawn from seed + e, so a run resumed from its
// checkpoint retraces an uninterrupted one; a last batch of a single image is skipped
// (BatchNorm cannot normalise it once maps are 1x1). With `resume` and an existing
// checkpoint, training continues after the checkpoint's epoch with its history.
TrainResult train_classifier(TappedModel& model, const ModelSpec& spec, const Dataset& train, const Dataset* val,
                             const TrainOptions& options, torch::Device device);

struct Evaluation {
  double accuracy = 0;
  double loss = 0;
  torch::Tensor confusion;    // int64 [K,K]: rows = true class, columns = predicted
  torch::Tensor predictions;  // int64 [N]
};

// Runs the model over the dataset in eval mode without gradients (restoring the
// model's mode afterwards); loss is the mean cross-entropy.
Evaluation evaluate_classifier(TappedModel& model, const Dataset& data, torch::Device device, int64_t batch_size = 256);

// History as JSON (an array of EpochRecord objects), for checkpoints and reports.
std::string history_to_json(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> history_from_json(const std::string& json);

}  // namespace loupe
