// SmoothGrad (Smilkov et al., 2017): the gradient averaged over `samples` noisy copies
// x + N(0, σ²), σ = noise_level · (max x − min x) per image (paper: 15%, n = 50), then
// collapsed as saliency (max_c |.|, or Σ_c signed). Every image draws its noise from the
// seed afresh, so its map does not depend on the batch or its position in it; noise is
// not clipped.
#pragma once

#include "loupe/explain/pixel_base.h"

namespace loupe {

class SmoothGrad : public PixelExplainer {
 public:
  using PixelExplainer::PixelExplainer;
  std::string name() const override { return "smoothgrad"; }

 protected:
  void validate(const torch::Tensor& images) const override;
  Batch attribute(TappedModel& model, const torch::Tensor& x, int64_t first, const Target& target) override;
};

}  // namespace loupe
