#include "loupe/explain/baseline.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {

Baseline parse_baseline(const std::string& text) {
  if (text == "black") return Baseline::Black;
  if (text == "white") return Baseline::White;
  if (text == "blur") return Baseline::Blur;
  fail("baseline '", text, "' is unknown; expected black, white or blur");
}

torch::Tensor gaussian_blur(const torch::Tensor& images, double sigma) {
  LOUPE_CHECK(std::isfinite(sigma) && sigma >= 0, "blur sigma ", sigma, ": expected a finite value >= 0 (pixels)");
  LOUPE_CHECK(images.dim() == 4, "blur: expected images [N,C,H,W], got ", images.sizes());
  if (sigma == 0) return images.clone();
  const auto radius = static_cast<int64_t>(std::ceil(3 * sigma));
  const auto opts = images.options();
  auto kernel = torch::arange(-radius, radius + 1, opts).pow(2).div(-2 * sigma * sigma).exp();
  kernel = kernel / kernel.sum();
  const int64_t channels = images.size(1);
  namespace F = torch::nn::functional;
  const auto padded = F::pad(images, F::PadFuncOptions({radius, radius, radius, radius}).mode(torch::kReplicate));
  const auto conv = F::Conv2dFuncOptions().groups(channels);
  const auto rows = F::conv2d(padded, kernel.view({1, 1, 1, -1}).repeat({channels, 1, 1, 1}), conv);
  return F::conv2d(rows, kernel.view({1, 1, -1, 1}).repeat({channels, 1, 1, 1}), conv);
}

torch::Tensor make_baseline(const torch::Tensor& images, Baseline kind, double blur_sigma) {
  switch (kind) {
    case Baseline::Black:
      return torch::zeros_like(images);
    case Baseline::White:
      return torch::ones_like(images);
    case Baseline::Blur:
      return gaussian_blur(images, blur_sigma);
  }
  fail("baseline: unknown kind ", static_cast<int>(kind));
}

}  // namespace loupe
