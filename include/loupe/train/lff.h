// Learning from Failure (Nam et al., NeurIPS 2020): a debiasing procedure that needs no
// bias labels. Two models of one architecture train together on the one training loop:
//   the biased model f_B with the generalised cross-entropy GCE = (1 − p_y^q)/q, q = 0.7,
//   which amplifies its reliance on the easy shortcut;
//   the debiased model f_D with cross-entropy weighted per sample by the relative
//   difficulty W = CE_B / (CE_B + CE_D), where each CE is the sample's exponential moving
//   average over the epochs it was seen (α = 0.7), divided by the largest average of its
//   class (as the authors' code), so images the biased model fails on weigh most.
// The debiased model is the result. The moving averages are not checkpointed: a resumed
// run restarts them.
#pragma once

#include <torch/types.h>

#include <memory>

#include "loupe/data/dataset.h"
#include "loupe/models/zoo.h"
#include "loupe/train/trainer.h"

namespace loupe {

struct LffOptions {
  double q = 0.7;          // GCE's exponent, in (0,1]
  double ema_alpha = 0.7;  // weight of the old average, in [0,1)
  // clang-format off
  LffOptions& set_q(double v) { q = v; return *this; }
  LffOptions& set_ema_alpha(double v) { ema_alpha = v; return *this; }
  // clang-format on
};
void check_lff_options(const LffOptions& options);

// Per-sample generalised cross-entropy (1 − p_y^q)/q of logits [N,K] and labels [N]: [N].
torch::Tensor generalized_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double q);

// The moving averages of per-sample losses: ema[i] ← α·ema[i] + (1 − α)·loss for the
// samples at `indices`; a sample seen for the first time takes its loss (no bias to 0).
class LossAverages {
 public:
  LossAverages(int64_t size, double alpha, torch::Device device = torch::kCPU);
  void update(const torch::Tensor& indices, const torch::Tensor& losses);
  // The averages at `indices`, each divided by the largest average of its class among the
  // samples seen so far (labels [N] of the whole dataset, num_classes K).
  torch::Tensor normalised(const torch::Tensor& indices, const torch::Tensor& all_labels, int64_t num_classes) const;
  const torch::Tensor& values() const { return ema_; }

 private:
  torch::Tensor ema_, seen_;
  double alpha_;
};

// W = b / (b + d) per sample (b, d the normalised averages; 0/0 gives 0.5).
torch::Tensor relative_difficulty(const torch::Tensor& biased, const torch::Tensor& debiased);

struct LffResult {
  std::shared_ptr<TappedModel> biased;  // f_B (eval mode)
  TrainResult run;                      // logs "loss", "accuracy" (of f_D), "gce", "weight" (mean W)
};

// Trains `model` (f_D, built from `spec`) by LfF on `train`; the checkpoint holds modules
// "model" (f_D, so loupe eval/explain read it as a classifier) and "biased" with both
// optimisers. Validation loss and accuracy after each epoch are f_D's.
LffResult train_lff(TappedModel& model, const ModelSpec& spec, const TensorDataset& train, const Dataset* val,
                    const TrainOptions& options, torch::Device device, const LffOptions& lff = {});

}  // namespace loupe
