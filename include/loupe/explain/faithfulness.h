// Deletion and insertion curves (Petsiuk et al., "RISE", BMVC 2018): pixels ordered by
// attribution (highest first, ties by index) are removed from the image (deletion: set to
// the baseline) or revealed on the baseline (insertion) in `steps` equal chunks, and the
// target is scored after each; AUC is the trapezoid over the fraction 0..1. As RISE,
// deletion fills with black and insertion starts from a blurred copy by default.
#pragma once

#include <torch/types.h>

#include "loupe/explain/baseline.h"
#include "loupe/explain/target.h"
#include "loupe/models/taps.h"

namespace loupe {

struct FaithfulnessOptions {
  int64_t steps = 100;                           // chunks; step k changes floor(k·H·W/steps) pixels
  Baseline deletion_baseline = Baseline::Black;  // what removed pixels become
  Baseline insertion_baseline = Baseline::Blur;  // the image insertion starts from
  double blur_sigma = 5.0;                       // σ in pixels of the Blur baseline
  int64_t batch_size = 32;                       // perturbed images per forward pass

  // clang-format off
  FaithfulnessOptions& set_steps(int64_t v) { steps = v; return *this; }
  FaithfulnessOptions& set_deletion_baseline(Baseline v) { deletion_baseline = v; return *this; }
  FaithfulnessOptions& set_insertion_baseline(Baseline v) { insertion_baseline = v; return *this; }
  FaithfulnessOptions& set_blur_sigma(double v) { blur_sigma = v; return *this; }
  FaithfulnessOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  // clang-format on
};

struct FaithfulnessCurve {
  torch::Tensor fractions;  // [steps+1], fraction of pixels removed or inserted (0..1)
  torch::Tensor scores;     // [N, steps+1], the target after each step (CPU)
  torch::Tensor auc;        // [N], trapezoid area under scores over fractions
};

// images [N,C,H,W] in [0,1]; maps [N,H,W] (any real dtype, finite) at the images' size.
FaithfulnessCurve deletion_curve(TappedModel& model, const torch::Tensor& images, const torch::Tensor& maps,
                                 const Target& target, const FaithfulnessOptions& options = {});
FaithfulnessCurve insertion_curve(TappedModel& model, const torch::Tensor& images, const torch::Tensor& maps,
                                  const Target& target, const FaithfulnessOptions& options = {});

}  // namespace loupe
