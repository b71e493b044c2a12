#include "loupe/core/components.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {

torch::Tensor flatten_forest(torch::Tensor parent) {
  while (true) {
    auto next = parent.index_select(0, parent);
    if (torch::equal(next, parent)) return parent;
    parent = std::move(next);
  }
}

std::pair<torch::Tensor, torch::Tensor> neighbour_pairs(int64_t height, int64_t width, Connectivity connectivity,
                                                        torch::Device device) {
  const auto index =
      torch::arange(height * width, torch::TensorOptions().dtype(torch::kLong).device(device)).view({height, width});
  const auto right = index.slice(1, 0, width - 1).reshape(-1);
  const auto down = index.slice(0, 0, height - 1).reshape(-1);
  if (connectivity == Connectivity::kFour) return {torch::cat({right, down}), torch::cat({right + 1, down + width})};
  const auto down_right = index.slice(0, 0, height - 1).slice(1, 0, width - 1).reshape(-1);
  const auto down_left = index.slice(0, 0, height - 1).slice(1, 1).reshape(-1);
  return {torch::cat({right, down, down_right, down_left}),
          torch::cat({right + 1, down + width, down_right + width + 1, down_left + width - 1})};
}

torch::Tensor component_roots(const torch::Tensor& labels, Connectivity connectivity) {
  const int64_t h = labels.size(0), w = labels.size(1);
  const auto flat = labels.reshape(-1);
  auto [from, to] = neighbour_pairs(h, w, connectivity, labels.device());
  const auto joined = flat.index_select(0, from) == flat.index_select(0, to);
  from = from.masked_select(joined);
  to = to.masked_select(joined);
  auto parent = torch::arange(h * w, labels.options().dtype(torch::kLong));
  while (true) {
    const auto a = parent.index_select(0, from), b = parent.index_select(0, to);
    const auto split = a != b;
    if (!split.any().item<bool>()) return parent;
    // Roots only ever point to smaller indices, so the forest stays acyclic.
    const auto lo = torch::minimum(a, b).masked_select(split), hi = torch::maximum(a, b).masked_select(split);
    parent = flatten_forest(parent.scatter_reduce(0, hi, lo, "amin"));
  }
}

torch::Tensor labels_from_roots(const torch::Tensor& roots, int64_t height, int64_t width) {
  const auto is_root = roots == torch::arange(roots.numel(), roots.options());
  const auto number = is_root.cumsum(0) - 1;  // roots are first pixels: raster order
  return number.index_select(0, roots).view({height, width});
}

torch::Tensor label_regions(const torch::Tensor& mask, Connectivity connectivity, const char* what) {
  LOUPE_CHECK(mask.defined() && mask.dim() == 2 && mask.numel() > 0, what, ": expected a binary mask [H,W], got ",
              mask.defined() ? mask.sizes() : torch::IntArrayRef{});
  const auto m = mask.to(torch::kLong);
  LOUPE_CHECK(((m == 0) | (m == 1)).all().item<bool>(), what, ": expected a binary mask (bool or 0/1)");
  const auto flat = m.reshape(-1).to(torch::kBool);
  const auto index = torch::arange(flat.numel(), m.options());
  // Background pixels get keys of their own, so only foreground neighbours join.
  const auto roots =
      component_roots(torch::where(flat, torch::zeros_like(index), -1 - index).view(m.sizes()), connectivity);
  // Number only the foreground roots, 1..K in raster order; background pixels get 0.
  const auto number = ((roots == index) & flat).to(torch::kLong).cumsum(0);
  return torch::where(flat, number.index_select(0, roots), torch::zeros_like(number)).view(mask.sizes());
}

}  // namespace loupe
