// Grad-CAM++ (Chattopadhay et al., WACV 2018, eq. 19): w_k = Σ_ij α_kij ReLU(g_kij) with
// α = g² / (2g² + Σ_ab A_kab · g³ + ε), g = dY/dA. As pytorch-grad-cam, g is the raw
// score's gradient (the paper's exp(S) closed form) and α = 0 where g = 0.
#pragma once

#include "loupe/explain/cam_base.h"

namespace loupe {

class GradCamPlusPlus : public CamExplainer {
 public:
  using CamExplainer::CamExplainer;
  std::string name() const override { return "gradcampp"; }

 protected:
  torch::Tensor channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) override;
};

}  // namespace loupe
