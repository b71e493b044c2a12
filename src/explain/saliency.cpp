#include "loupe/explain/saliency.h"

#include <torch/torch.h>

namespace loupe {

PixelExplainer::Batch Saliency::attribute(TappedModel& model, const torch::Tensor& x, int64_t first,
                                          const Target& target) {
  auto gradient = input_gradient(model, x, target, first);
  return {gradient.grads, gradient.scores, x.size(0), {}};
}

}  // namespace loupe
