#include "loupe/explain/ablationcam.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor AblationCam::image_channel_weights(PerturbationEngine& engine, const std::string& tap, const torch::Tensor&,
                                           const torch::Tensor& activations, const torch::Tensor& score,
                                           const Target& target) {
  const int64_t k = activations.size(0);
  const auto opts = torch::TensorOptions().device(activations.device()).dtype(torch::kLong);
  const auto ablated = engine.evaluate_channels(
      tap, activations, k,
      [&](int64_t b, int64_t e) { return 1 - torch::one_hot(torch::arange(b, e, opts), k).to(torch::kFloat); },
      {target});
  return (score - ablated.select(1, 0)) / score;
}

}  // namespace loupe
