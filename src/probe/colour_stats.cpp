#include "loupe/probe/colour_stats.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {

namespace {

void check_rgb(const torch::Tensor& images, const char* what) {
  LOUPE_CHECK(images.dim() == 4 && images.size(1) == 3, what, ": expected RGB images [N,3,H,W], got ", images.sizes());
}

}  // namespace

torch::Tensor mean_saturation(const torch::Tensor& images) {
  check_rgb(images, "saturation");
  const auto x = images.to(torch::kDouble);
  const auto hi = std::get<0>(x.max(1)), lo = std::get<0>(x.min(1));
  const auto s = torch::where(hi > 0, (hi - lo) / hi.clamp_min(1e-12), torch::zeros_like(hi));
  return s.flatten(1).mean(1).cpu();
}

torch::Tensor palette_distances(const torch::Tensor& images, const std::vector<std::array<float, 3>>& palette) {
  check_rgb(images, "palette colour");
  LOUPE_CHECK(!palette.empty(), "palette colour: the palette is empty");
  const auto x = images.to(torch::kDouble).cpu();
  const auto hi = std::get<0>(x.max(1)), lo = std::get<0>(x.min(1));
  const auto weight = (hi - lo).unsqueeze(1);  // saturation × value
  const auto chroma = x / x.sum(1, true).clamp_min(1e-12);
  const auto mean = (chroma * weight).sum({2, 3}) / weight.sum({2, 3}).clamp_min(1e-12);  // [N,3]
  auto p = torch::empty({static_cast<int64_t>(palette.size()), 3}, torch::kDouble);
  for (size_t i = 0; i < palette.size(); ++i)
    for (int64_t c = 0; c < 3; ++c) p[static_cast<int64_t>(i)][c] = palette[i][static_cast<size_t>(c)];
  p = p / p.sum(1, true);
  return torch::cdist(mean, p);
}

torch::Tensor nearest_palette_colour(const torch::Tensor& images, const std::vector<std::array<float, 3>>& palette) {
  return palette_distances(images, palette).argmin(1);
}

}  // namespace loupe
