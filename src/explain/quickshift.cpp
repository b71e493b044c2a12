// Quickshift as scikit-image's _quickshift_cython, vectorised over the (2w+1)² window
// offsets: the padded feature image is viewed as [3, 2w+1, 2w+1, H, W] (unfold, no
// copy) and processed a few offset rows at a time, so every step is whole-image tensor
// arithmetic; roots are found by pointer jumping.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "explain/segmentation_detail.h"
#include "loupe/core/components.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {
namespace {

// Offset rows per chunk so one chunk's [3, rows, 2w+1, H, W] temporaries stay modest.
int64_t rows_per_chunk(int64_t side, int64_t pixels, torch::Device device) {
  const int64_t budget = device.is_cuda() ? (int64_t{1} << 27) : (int64_t{1} << 22);
  return std::clamp<int64_t>(budget / (3 * side * pixels), 1, side);
}

}  // namespace

torch::Tensor quickshift(const torch::Tensor& image, const QuickshiftOptions& options) {
  LOUPE_CHECK(options.kernel_size > 0 && std::isfinite(options.kernel_size),
              "quickshift: expected kernel_size > 0, got ", options.kernel_size);
  LOUPE_CHECK(options.max_dist >= 0, "quickshift: expected max_dist >= 0, got ", options.max_dist);
  LOUPE_CHECK(options.ratio >= 0 && options.ratio <= 1, "quickshift: expected ratio in [0,1], got ", options.ratio);
  LOUPE_CHECK(options.sigma >= 0, "quickshift: expected sigma >= 0, got ", options.sigma);
  LOUPE_CHECK(options.tie_jitter >= 0 && std::isfinite(options.tie_jitter),
              "quickshift: expected tie_jitter >= 0 (skimage uses 1e-5), got ", options.tie_jitter);
  torch::NoGradGuard no_grad;
  const auto rgb = detail::checked_rgb(image, "quickshift");
  const int64_t h = rgb.size(1), w = rgb.size(2), n = h * w;
  // Joint space (ratio·Lab, y, x); the density is a Gaussian of σ = kernel_size over the
  // window of radius ceil(3σ), the pixel itself included.
  const auto features = detail::scipy_gaussian_filter(rgb_to_lab(rgb), options.sigma) * options.ratio;
  const auto radius = static_cast<int64_t>(std::ceil(3.0 * options.kernel_size));
  const int64_t side = 2 * radius + 1;
  const double inf = std::numeric_limits<double>::infinity();
  const auto window = [&](const torch::Tensor& padded) {  // [..., H+2r, W+2r] → [..., side, side, H, W]
    const int64_t d = padded.dim();
    return padded.unfold(d - 2, h, 1).unfold(d - 1, w, 1);
  };
  // Out-of-image neighbours sit at infinite distance: they add exp(-inf) = 0 and never link.
  const auto neighbours = window(torch::constant_pad_nd(features, {radius, radius, radius, radius}, inf));
  const auto centre = features.view({3, 1, 1, h, w});
  const auto offsets = torch::arange(-radius, radius + 1, features.options()).square();
  const auto spatial = (offsets.view({-1, 1}) + offsets.view({1, -1})).view({side, side, 1, 1});
  const int64_t chunk = rows_per_chunk(side, n, features.device());
  const auto squared_distance = [&](int64_t row, int64_t rows) {  // [rows, side, H, W]
    auto d2 = spatial.narrow(0, row, rows).expand({rows, side, h, w}).clone();
    for (int64_t c = 0; c < 3; ++c) {
      const auto diff = neighbours[c].narrow(0, row, rows) - centre[c];
      d2.addcmul_(diff, diff);
    }
    return d2;
  };
  // The distances serve both passes: kept when they fit, else computed twice.
  const bool keep = side * side * n <= (features.device().is_cuda() ? (int64_t{1} << 28) : (int64_t{1} << 25));
  std::vector<torch::Tensor> kept;

  auto density = torch::zeros({h, w}, features.options());
  for (int64_t row = 0; row < side; row += chunk) {
    const int64_t rows = std::min(chunk, side - row);
    auto d2 = squared_distance(row, rows);
    density += (d2 * (-0.5 / (options.kernel_size * options.kernel_size))).exp_().flatten(0, 1).sum(0);
    if (keep) kept.push_back(std::move(d2));
  }

  // Parent: the nearest pixel in the window with higher density. Ties in density are
  // broken by pixel index (higher wins) instead of scikit-image's random jitter, so the
  // result is deterministic on every device: pixels are ranked by (density, index).
  const auto index = torch::arange(n, features.options().dtype(torch::kLong)).view({h, w});
  if (options.tie_jitter > 0) {  // as skimage: noise on the densities, here from a seeded CPU generator
    auto gen = make_generator(options.seed);
    const auto noise = torch::randn({h, w}, gen, torch::TensorOptions().dtype(torch::kDouble));
    density = density.to(torch::kDouble) + noise.mul(options.tie_jitter).to(density.device());
  }
  const auto order = std::get<1>(density.reshape(-1).sort(c10::optional<bool>(true), 0));
  const auto rank = torch::empty_like(index).view(-1).index_put_({order}, index.view(-1)).view({h, w});
  const auto rank_near = window(torch::constant_pad_nd(rank, {radius, radius, radius, radius}, -1));
  auto best = torch::full({h, w}, inf, features.options());
  auto best_offset = torch::zeros({h, w}, index.options());
  for (int64_t row = 0, piece = 0; row < side; row += chunk, ++piece) {
    const int64_t rows = std::min(chunk, side - row);
    auto d2 = keep ? kept[piece] : squared_distance(row, rows);
    d2.masked_fill_(rank_near.narrow(0, row, rows) <= rank, inf);
    const auto [value, arg] = d2.view({rows * side, h, w}).min(0);  // first minimum: raster order of offsets
    const auto better = value < best;                               // strict: earlier offsets win ties, as in skimage
    best = torch::where(better, value, best);
    best_offset = torch::where(better, arg + row * side, best_offset);
  }
  const auto dy = best_offset.div(side, "floor") - radius, dx = best_offset.remainder(side) - radius;
  auto parent = torch::where(best > options.max_dist * options.max_dist, index, index + dy * w + dx).view(-1);
  while (true) {
    auto next = parent.index_select(0, parent);
    if (torch::equal(next, parent)) break;
    parent = std::move(next);
  }
  // Trees may link across other trees' pixels: one label per tree as scikit-image, or
  // split into 4-connected segments.
  if (options.connect) return connected_segments(parent.view({h, w}));
  // Each tree is named by its first pixel (not its root, the density mode), so that
  // labels_from_roots numbers the trees in raster order.
  const auto pixel = torch::arange(h * w, parent.options());
  const auto first = torch::full_like(pixel, h * w).scatter_reduce(0, parent, pixel, "amin");
  return labels_from_roots(first.index_select(0, parent), h, w);
}

}  // namespace loupe

namespace loupe {

torch::Tensor quickshift_near(const torch::Tensor& image, int64_t wanted, QuickshiftOptions options,
                              int64_t iterations) {
  LOUPE_CHECK(wanted >= 1, "quickshift_near: expected at least 1 segment wanted, got ", wanted);
  LOUPE_CHECK(iterations >= 1, "quickshift_near: expected at least 1 iteration, got ", iterations);
  // The segment count falls as the kernel grows (fewer density modes); bisect log σ.
  double lo = std::log(0.5), hi = std::log(8.0);
  torch::Tensor best;
  int64_t best_gap = std::numeric_limits<int64_t>::max();
  for (int64_t i = 0; i < iterations; ++i) {
    const double mid = 0.5 * (lo + hi);
    options.kernel_size = std::exp(mid);
    auto labels = quickshift(image, options);
    const int64_t count = labels.max().item<int64_t>() + 1;
    const int64_t gap = std::abs(count - wanted);
    if (gap < best_gap || (gap == best_gap && count <= wanted)) {
      best_gap = gap;
      best = labels;
    }
    if (count == wanted) break;
    (count > wanted ? lo : hi) = mid;
  }
  return best;
}

}  // namespace loupe
