#include "loupe/explain/hirescam.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor HiResCam::channel_weights(const torch::Tensor&, const torch::Tensor& grads) { return grads.mean({2, 3}); }

torch::Tensor HiResCam::weighted_map(const torch::Tensor& activations, const torch::Tensor& grads,
                                     const torch::Tensor&) {
  return (grads * activations).sum(1);
}

}  // namespace loupe
