#include "loupe/explain/scorecam.h"

#include <torch/torch.h>

namespace loupe {

torch::Tensor ScoreCam::image_channel_weights(PerturbationEngine& engine, const std::string&, const torch::Tensor& image,
                                        const torch::Tensor& activations, const torch::Tensor&, const Target& target) {
  namespace F = torch::nn::functional;
  const auto up = F::interpolate(activations.unsqueeze(0), F::InterpolateFuncOptions()
                                                               .size(std::vector<int64_t>{image.size(1), image.size(2)})
                                                               .mode(torch::kBilinear)
                                                               .align_corners(true))[0];  // [K,H,W]
  const auto flat = up.flatten(1);
  const auto lo = std::get<0>(flat.min(1)).view({-1, 1, 1}), hi = std::get<0>(flat.max(1)).view({-1, 1, 1});
  const auto masks = (up - lo) / (hi - lo + 1e-8);
  const auto scores = engine.evaluate(image, torch::zeros_like(image), masks.size(0),
                                      [&](int64_t b, int64_t e) { return masks.slice(0, b, e); }, {target});
  return torch::softmax(scores.select(1, 0), 0);
}

}  // namespace loupe
