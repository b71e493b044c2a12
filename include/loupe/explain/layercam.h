// LayerCAM (Jiang et al., IEEE TIP 2021): map = Σ_k ReLU(g_k) ⊙ A_k, each location
// weighted by its own positive gradient (as pytorch-grad-cam's LayerCAM).
// Choice: the reported channel weights are the spatial mean of ReLU(g).
#pragma once

#include "loupe/explain/cam_base.h"

namespace loupe {

class LayerCam : public CamExplainer {
 public:
  using CamExplainer::CamExplainer;
  std::string name() const override { return "layercam"; }

 protected:
  torch::Tensor channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) override;
  torch::Tensor weighted_map(const torch::Tensor& activations, const torch::Tensor& grads,
                             const torch::Tensor& weights) override;
};

}  // namespace loupe
