// Just Train Twice (Liu et al., ICML 2021): a debiasing procedure that needs no bias
// labels. An identification model is trained with plain cross-entropy for a few epochs;
// the training images it misclassifies (the error set, mostly those that contradict the
// shortcut) are then up-sampled λ_up times (each appears λ_up times per epoch, as in the
// paper's up-sampling) to train the final model. Both run on the one training loop.
#pragma once

#include <torch/types.h>

#include <memory>

#include "loupe/data/dataset.h"
#include "loupe/models/zoo.h"
#include "loupe/train/trainer.h"

namespace loupe {

struct JttOptions {
  int64_t identification_epochs = 1;  // T (the paper's CelebA setting)
  int64_t upweight = 20;              // λ_up: copies of each error-set image per epoch (>= 1)
  // clang-format off
  JttOptions& set_identification_epochs(int64_t v) { identification_epochs = v; return *this; }
  JttOptions& set_upweight(int64_t v) { upweight = v; return *this; }
  // clang-format on
};
// A loupe::Error naming the first option out of range.
void check_jtt_options(const JttOptions& options);

struct JttResult {
  std::shared_ptr<TappedModel> identification;  // the ERM model of the first stage (eval mode)
  TrainResult identification_run, final_run;
  torch::Tensor error_set;  // int64 [E]: training images the identification model misclassifies, ascending
};

// Trains `model` (built from `spec`) by JTT on `train`. `options` are the final stage's
// (its checkpoint is the final model's; the identification model is checkpointed beside
// it as <checkpoint>.identify.pt); the identification stage uses the same options with
// identification_epochs epochs and is seeded alike.
JttResult train_jtt(TappedModel& model, const ModelSpec& spec, const TensorDataset& train, const Dataset* val,
                    const TrainOptions& options, torch::Device device, const JttOptions& jtt = {});

}  // namespace loupe
