// Training objectives that fight a shortcut without changing the data (DESIGN.md
// workflow 1, second half): each is one named function of (model, batch) returning the
// loss to minimise, selected by ClassifierLoss and run by the one CrossEntropyObjective
// (train/classifier.h) on the one training loop.
//   ce:            mean cross-entropy (the plain model);
//   focal:         mean of CE·(1 − p_t)^γ (Lin et al. 2017), γ = 2;
//   input-grad:    CE + λ·mean_i ‖∇ₓ CE_i‖² (Ross et al. 2017's penalty without an
//                  annotation mask; double backward), λ = 1;
//   edge-saliency: CE + λ·mean(s·(1 − e)) with s = |∇ₓ logit_y| summed over channels and
//                  scaled to max 1 per image, e = the Sobel edge magnitude of the gray input
//                  scaled to max 1 per image: saliency must sit on edges (shape), not on flat
//                  colour, λ = 1;
//   occlusion:     CE on the batch with one random size×size square per image set to black
//                  (size 12);
//   adversarial:   CE on adversarial examples of the batch made by options.adversary; the
//                  attack layer, which sits above this one, provides Madry et al.'s L∞ PGD as
//                  pgd_adversary (attack/attack.h).
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "loupe/data/dataset.h"
#include "loupe/models/taps.h"

namespace loupe {

enum class ClassifierLoss { kCrossEntropy, kFocal, kInputGradient, kEdgeSaliency, kOcclusion, kAdversarial };
// "ce", "focal", "input-grad", "edge-saliency", "occlusion", "adversarial"
std::vector<std::string> classifier_loss_names();
std::string classifier_loss_name(ClassifierLoss loss);
ClassifierLoss parse_classifier_loss(const std::string& text, const std::string& what);

struct ClassifierLossOptions {
  ClassifierLoss loss = ClassifierLoss::kCrossEntropy;
  double focal_gamma = 2.0;     // focal: γ >= 0 (0 is plain CE)
  double lambda = 1.0;          // input-grad and edge-saliency: weight of the penalty, >= 0
  int64_t occlusion_size = 12;  // occlusion: side of the black square, in pixels (>= 1)
  // adversarial: makes the examples to train on, (model, images, labels) → images in [0,1]
  // (required for kAdversarial).
  std::function<torch::Tensor(TappedModel&, const torch::Tensor&, const torch::Tensor&)> adversary;
  // clang-format off
  ClassifierLossOptions& set_loss(ClassifierLoss v) { loss = v; return *this; }
  ClassifierLossOptions& set_focal_gamma(double v) { focal_gamma = v; return *this; }
  ClassifierLossOptions& set_lambda(double v) { lambda = v; return *this; }
  ClassifierLossOptions& set_occlusion_size(int64_t v) { occlusion_size = v; return *this; }
  ClassifierLossOptions& set_adversary(decltype(adversary) v) { adversary = std::move(v); return *this; }
  // clang-format on
};
// A loupe::Error naming the first option out of range.
void check_classifier_loss_options(const ClassifierLossOptions& options);

// The parts of one batch's loss: `loss` to minimise, with its cross-entropy and penalty
// (0 where the objective has none) and the logits it was computed from.
struct ClassifierLossTerms {
  torch::Tensor loss, cross_entropy, penalty, logits;
};

// logits [N,K], labels int64 [N]: mean over the batch of CE·(1 − p_t)^γ.
torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& labels, double gamma);
// Per-image Sobel edge magnitude of the gray (channel mean) image, replicate-padded, scaled
// to a maximum of 1 per image (an all-flat image gives zeros): images [N,C,H,W] → [N,H,W].
torch::Tensor sobel_edges(const torch::Tensor& images);
// A copy of images [N,C,H,W] with one size×size square per image (uniform position, fully
// inside; clipped to the image when it is smaller) set to 0, positions drawn from
// `generator` (null: the global generator, which the training loop reseeds every epoch).
torch::Tensor occlude_random_squares(const torch::Tensor& images, int64_t size,
                                     const torch::Generator* generator = nullptr);

// The loss of `options` on one batch (images and labels on the model's device).
ClassifierLossTerms classifier_loss(TappedModel& model, const Batch& batch, const ClassifierLossOptions& options);

}  // namespace loupe
