#include "loupe/explain/explainer.h"

#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/core/image.h"

namespace loupe {

torch::Device model_device(const torch::nn::Module& model) {
  const auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

void check_images(const torch::Tensor& images, const std::string& what) {
  LOUPE_CHECK(images.defined() && images.dim() == 4, what, ": expected images [N,C,H,W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(images.size(0) > 0, what, ": expected at least one image");
  LOUPE_CHECK(images.is_floating_point(), what, ": expected float images in [0,1], got ", images.scalar_type());
  check_finite(images, what);
}

}  // namespace loupe
