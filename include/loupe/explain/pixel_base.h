// The shared pipeline of the pixel-level gradient methods (saliency, Integrated
// Gradients, SmoothGrad): batch the images, let the method compute per-channel
// attributions [n,C,H,W], collapse the channels, then scale each map as cam_base does.
#pragma once

#include <map>
#include <string>

#include "loupe/explain/explainer.h"

namespace loupe {

class PixelExplainer : public Explainer {
 public:
  explicit PixelExplainer(ExplainOptions options) : options_(std::move(options)) {}
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 protected:
  struct Batch {
    torch::Tensor attributions;                   // [n,C,H,W]
    torch::Tensor scores;                         // the target at the images themselves [n]
    int64_t evaluations = 0;                      // images passed through the model
    std::map<std::string, torch::Tensor> extras;  // per-sample values, concatenated over batches
  };
  // Checks the method's options against the images before any work.
  virtual void validate(const torch::Tensor& /*images*/) const {}
  // x: one batch on the model's device; first: the index of x[0] among all images.
  virtual Batch attribute(TappedModel& model, const torch::Tensor& x, int64_t first, const Target& target) = 0;
  // [n,C,H,W] → [n,H,W]. Default (Simonyan et al.): max_c |a| unsigned, Σ_c a signed.
  virtual torch::Tensor reduce_channels(const torch::Tensor& attributions) const;
  const ExplainOptions& options() const { return options_; }

 private:
  ExplainOptions options_;
};

struct InputGradient {
  torch::Tensor grads;   // d target / d x, [n,C,H,W]
  torch::Tensor scores;  // the target [n], detached
};
// One forward and backward pass; samples are independent (the model is in eval mode),
// so the gradient of Σ_i target_i gives every sample's own gradient. Row i of x belongs
// to image first + i of the explain call (what the target sees as its sample).
InputGradient input_gradient(TappedModel& model, const torch::Tensor& x, const Target& target, int64_t first = 0);

// The target at x without gradients, [n]; rows as for input_gradient.
torch::Tensor target_scores(TappedModel& model, const torch::Tensor& x, const Target& target, int64_t first = 0);

}  // namespace loupe
