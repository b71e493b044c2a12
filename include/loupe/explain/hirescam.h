// HiResCAM (Draelos & Carin, 2020): map = Σ_k g_k ⊙ A_k, the elementwise product of the
// gradient and the activations summed over channels, with no spatial averaging; equals
// Grad-CAM when the gradient is spatially constant (e.g. GAP then linear).
// Choice: the reported channel weights are the spatial mean of g (Grad-CAM's weights).
#pragma once

#include "loupe/explain/cam_base.h"

namespace loupe {

class HiResCam : public CamExplainer {
 public:
  using CamExplainer::CamExplainer;
  std::string name() const override { return "hirescam"; }

 protected:
  torch::Tensor channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) override;
  torch::Tensor weighted_map(const torch::Tensor& activations, const torch::Tensor& grads,
                             const torch::Tensor& weights) override;
};

}  // namespace loupe
