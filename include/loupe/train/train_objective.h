// Every way loupe trains a classifier, by one name each (`loupe train --objective` and
// the robustness study): the per-batch losses of train/classifier_losses.h (ce, focal,
// input-grad, edge-saliency, occlusion, adversarial) and the two-model procedures
// Just Train Twice (train/jtt.h) and Learning from Failure (train/lff.h).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/data/dataset.h"
#include "loupe/models/zoo.h"
#include "loupe/train/classifier_losses.h"
#include "loupe/train/jtt.h"
#include "loupe/train/lff.h"
#include "loupe/train/trainer.h"

namespace loupe {

enum class TrainObjective {
  kCrossEntropy,
  kFocal,
  kInputGradient,
  kEdgeSaliency,
  kOcclusion,
  kAdversarial,
  kJtt,
  kLff
};
// "ce", "focal", "input-grad", "edge-saliency", "occlusion", "adversarial", "jtt", "lff"
std::vector<std::string> train_objective_names();
std::string train_objective_name(TrainObjective objective);
TrainObjective parse_train_objective(const std::string& text, const std::string& what);

struct TrainObjectiveOptions {
  TrainObjective objective = TrainObjective::kCrossEntropy;
  // The per-batch objectives' parameters; its `loss` is set from `objective` (JTT and LfF
  // train with plain cross-entropy inside). kAdversarial needs loss.adversary.
  ClassifierLossOptions loss;
  JttOptions jtt;
  LffOptions lff;
  // clang-format off
  TrainObjectiveOptions& set_objective(TrainObjective v) { objective = v; return *this; }
  // clang-format on
};
// A loupe::Error naming the first option out of range.
void check_train_objective_options(const TrainObjectiveOptions& options);

// Trains `model` (built from `spec`, moved to `device`) with `objective` on the one
// training loop; the checkpoint at options.checkpoint holds the trained classifier as
// module "model" whatever the objective. Returns the run of the model that is kept (JTT's
// final stage, LfF's debiased model).
TrainResult train_with_objective(TappedModel& model, const ModelSpec& spec, const TensorDataset& train,
                                 const Dataset* val, const TrainOptions& options, torch::Device device,
                                 const TrainObjectiveOptions& objective);

}  // namespace loupe
