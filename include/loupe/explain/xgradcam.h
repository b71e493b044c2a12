// XGradCAM (Fu et al., BMVC 2020, "Axiom-based Grad-CAM"): w_k = Σ_ij g_kij A_kij /
// (Σ_ij A_kij + ε), ε = 1e-7 as pytorch-grad-cam; map = Σ_k w_k A_k.
#pragma once

#include "loupe/explain/cam_base.h"

namespace loupe {

class XGradCam : public CamExplainer {
 public:
  using CamExplainer::CamExplainer;
  std::string name() const override { return "xgradcam"; }

 protected:
  torch::Tensor channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) override;
};

}  // namespace loupe
