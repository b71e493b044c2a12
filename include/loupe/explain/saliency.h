// Input-gradient saliency (Simonyan et al., ICLR 2014 workshop): map = max_c |dY/dx_c|.
// Choice: the signed map is Σ_c dY/dx_c (the gradient with respect to a brightness
// change of the pixel), since a max of |.| has no sign.
#pragma once

#include "loupe/explain/pixel_base.h"

namespace loupe {

class Saliency : public PixelExplainer {
 public:
  using PixelExplainer::PixelExplainer;
  std::string name() const override { return "saliency"; }

 protected:
  Batch attribute(TappedModel& model, const torch::Tensor& x, int64_t first, const Target& target) override;
};

}  // namespace loupe
