#include "loupe/explain/layercam.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor LayerCam::channel_weights(const torch::Tensor&, const torch::Tensor& grads) {
  return torch::relu(grads).mean({2, 3});
}

torch::Tensor LayerCam::weighted_map(const torch::Tensor& activations, const torch::Tensor& grads,
                                     const torch::Tensor&) {
  return (torch::relu(grads) * activations).sum(1);
}

}  // namespace loupe
