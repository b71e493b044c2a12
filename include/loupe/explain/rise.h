// RISE (Petsiuk et al., BMVC 2018): N random masks, each an s×s grid of cells kept
// with probability p, upsampled bilinearly to (s+1)·cell pixels and cropped at a random
// shift in [0,cell) (edges clamp); map = Σ_i f(x ⊙ m_i)·m_i / (N·p). Hidden pixels get
// the masker's fill (default constant fill_value = 0, i.e. x ⊙ m). Defaults N = 4000,
// s = 7, p = 0.5 (the paper's ResNet-50 settings). Masks are drawn from `seed` on the
// CPU, so maps are reproducible on any device; every image uses the same masks, so a
// map does not depend on the batch the image came in.
#pragma once

#include "loupe/explain/perturbation.h"

namespace loupe {

class Rise : public Explainer {
 public:
  explicit Rise(ExplainOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "rise"; }
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 private:
  ExplainOptions options_;
};

}  // namespace loupe
