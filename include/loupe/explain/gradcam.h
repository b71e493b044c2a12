// Grad-CAM (Selvaraju et al., ICCV 2017): channel weights are the spatial mean of the
// target's gradient w.r.t. the tap's activations, w_k = mean_ij dY/dA_kij.
#pragma once

#include "loupe/explain/cam_base.h"

namespace loupe {

class GradCam : public CamExplainer {
 public:
  using CamExplainer::CamExplainer;
  std::string name() const override { return "gradcam"; }

 protected:
  torch::Tensor channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) override;
};

}  // namespace loupe
