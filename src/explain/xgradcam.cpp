#include "loupe/explain/xgradcam.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor XGradCam::channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) {
  constexpr double eps = 1e-7;  // as pytorch-grad-cam
  return (grads * activations).sum({2, 3}) / (activations.sum({2, 3}) + eps);
}

}  // namespace loupe
