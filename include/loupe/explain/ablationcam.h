// Ablation-CAM (Desai & Ramaswamy, WACV 2020, as pytorch-grad-cam's AblationCAM): each
// channel k of the tap is zeroed (the reference zeroes when the layer's minimum is 0,
// as after a ReLU, else uses min − 1e7; we always zero) and the model is run from the tap (the layers below
// it are not rerun), batched over channels; w_k = (y − y_k) / y where y is the
// unablated target score (y = 0 gives non-finite weights, as the reference).
#pragma once

#include "loupe/explain/perturbation.h"

namespace loupe {

class AblationCam : public PerturbationCam {
 public:
  using PerturbationCam::PerturbationCam;
  std::string name() const override { return "ablationcam"; }

 protected:
  torch::Tensor image_channel_weights(PerturbationEngine& engine, const std::string& tap, const torch::Tensor& image,
                                      const torch::Tensor& activations, const torch::Tensor& score,
                                      const Target& target) override;
};

}  // namespace loupe
