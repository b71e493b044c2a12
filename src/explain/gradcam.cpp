#include "loupe/explain/gradcam.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor GradCam::channel_weights(const torch::Tensor&, const torch::Tensor& grads) {
  return grads.mean({2, 3});
}

}  // namespace loupe
