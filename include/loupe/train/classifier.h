// Supervised classification on the one training loop: the cross-entropy objective
// (logs the per-image mean loss and accuracy; validation loss and accuracy after every
// epoch), train_classifier for a zoo model, and evaluation with a confusion matrix.
#pragma once

#include <torch/types.h>

#include "loupe/data/dataset.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier_losses.h"
#include "loupe/train/objective.h"
#include "loupe/train/trainer.h"

namespace loupe {

// Cross-entropy of the model's logits, or one of the debiasing losses of
// train/classifier_losses.h. Logs "loss" and "accuracy" per image (and "cross_entropy" and
// "penalty" for the other losses); with a validation set, each epoch's record also gets
// "val_loss" and "val_accuracy" (plain cross-entropy), and "seconds" (the epoch's time,
// validation included).
class CrossEntropyObjective : public Objective {
 public:
  // validation may be null; it is scored in batches of eval_batch_size.
  CrossEntropyObjective(TappedModel& model, const Dataset* validation, int64_t eval_batch_size = 256,
                        ClassifierLossOptions loss = {})
      : model_(model), validation_(validation), eval_batch_size_(eval_batch_size), loss_(loss) {
    check_classifier_loss_options(loss_);
  }
  torch::Tensor loss(const Batch& batch, const TrainContext& ctx, StepLog& log) override;
  void end_epoch(const TrainContext& ctx, HistoryRecord& record) override;
  std::string progress(const RecordAccumulator& record) const override;

 private:
  TappedModel& model_;
  const Dataset* validation_;
  int64_t eval_batch_size_;
  ClassifierLossOptions loss_;
};

// Trains `model` (built from `spec`) with Adam or SGD (options.optimizer) on `train`,
// evaluating on `val` (may be null) after each epoch; the checkpoint holds the model as
// module "model". The model is moved to `device` and left in eval mode. `loss` picks the
// objective (plain cross-entropy by default).
TrainResult train_classifier(TappedModel& model, const ModelSpec& spec, const Dataset& train, const Dataset* val,
                             const TrainOptions& options, torch::Device device, const ClassifierLossOptions& loss = {});

struct Evaluation {
  double accuracy = 0;
  double loss = 0;
  torch::Tensor confusion;    // int64 [K,K]: rows = true class, columns = predicted
  torch::Tensor predictions;  // int64 [N]
};

// Runs the model over the dataset in eval mode without gradients (restoring the
// model's mode afterwards); loss is the mean cross-entropy. Batches are read from `data`
// one at a time (a StreamDataset streams them); `progress` draws a bar on a terminal.
Evaluation evaluate_classifier(TappedModel& model, const Dataset& data, torch::Device device, int64_t batch_size = 256,
                               bool progress = false);

}  // namespace loupe
