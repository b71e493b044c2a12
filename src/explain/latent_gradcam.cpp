#include "loupe/explain/latent_gradcam.h"

#include <torch/torch.h>

#include "loupe/explain/explainer.h"

namespace loupe {

SignedLatentMaps latent_gradcam(TappedModel& encoder, const torch::Tensor& images, int64_t latent,
                                const LatentGradCamOptions& options) {
  const auto cam = make_explainer(
      "gradcam",
      ExplainOptions().set_tap(options.tap).set_signed(true).set_normalize(false).set_batch_size(options.batch_size));
  const auto attr = cam->explain(encoder, images, output_unit(latent));
  constexpr double eps = 1e-7;  // as scale_maps: an all-zero map stays zero
  const auto peak = std::get<0>(attr.maps.flatten(1).abs().max(1)).view({-1, 1, 1}) + eps;
  return {torch::relu(attr.maps) / peak, torch::relu(-attr.maps) / peak, attr.scores};
}

}  // namespace loupe
