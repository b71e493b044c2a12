#include "loupe/explain/gradcampp.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor GradCamPlusPlus::channel_weights(const torch::Tensor& activations, const torch::Tensor& grads) {
  constexpr double eps = 1e-6;  // as pytorch-grad-cam
  const auto g2 = grads.pow(2);
  const auto activation_sums = activations.sum({2, 3}, /*keepdim=*/true);
  auto alpha = g2 / (2 * g2 + activation_sums * g2 * grads + eps);
  alpha = torch::where(grads != 0, alpha, torch::zeros_like(alpha));
  return (alpha * torch::relu(grads)).sum({2, 3});
}

}  // namespace loupe
