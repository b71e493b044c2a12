// SLIC as scikit-image's slic(): the image min-max rescaled, to Lab, smoothed; grid centres
// from regular_grid, k-means in (y, x, Lab/compactness) in float64 with spatial distance scaled by 1/step², each centre
// scoring every pixel of its ±2·step box, 10 iterations, then scikit-image's connectivity
// enforcement. Vectorised: one iteration is a [K, 4·step+1, 4·step+1] tensor computation
// (every centre's box) and a scatter-min into the pixels.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "explain/segmentation_detail.h"
#include "loupe/core/components.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {
namespace {

struct Grid {
  int64_t start_y, start_x, step_y, step_x;
};

// skimage.util.regular_grid for the shape (1, H, W): steps near sqrt(HW/n), a short side
// smaller than that step gets one centre at its middle. Steps round half to even (np.round).
Grid regular_grid(int64_t h, int64_t w, int64_t n) {
  const double space = static_cast<double>(h) * static_cast<double>(w);
  if (space <= static_cast<double>(n)) return {0, 0, 1, 1};
  const double short_side = static_cast<double>(std::min(h, w)), long_side = static_cast<double>(std::max(h, w));
  double short_step = std::sqrt(space / static_cast<double>(n)), long_step = short_step;
  if (short_side < short_step) {
    short_step = short_side;
    long_step = long_side / static_cast<double>(n);
  }
  const auto start = [](double s) { return static_cast<int64_t>(std::floor(s / 2)); };
  const auto step = [](double s) { return std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(s))); };
  if (h <= w) return {start(short_step), start(long_step), step(short_step), step(long_step)};
  return {start(long_step), start(short_step), step(long_step), step(short_step)};
}

}  // namespace

torch::Tensor slic(const torch::Tensor& image, const SlicOptions& options) {
  LOUPE_CHECK(options.n_segments >= 1, "slic: expected n_segments >= 1, got ", options.n_segments);
  LOUPE_CHECK(options.compactness > 0 && std::isfinite(options.compactness), "slic: expected compactness > 0, got ",
              options.compactness);
  LOUPE_CHECK(options.max_iter >= 1, "slic: expected max_iter >= 1, got ", options.max_iter);
  LOUPE_CHECK(options.sigma >= 0, "slic: expected sigma >= 0, got ", options.sigma);
  torch::NoGradGuard no_grad;
  // float64 throughout, as scikit-image (img_as_float): distances in float32 break
  // near-ties differently.
  auto rgb = detail::checked_rgb(image, "slic").to(torch::kDouble);
  const int64_t h = rgb.size(1), w = rgb.size(2);
  // As scikit-image: the image rescaled to [0,1] by its global minimum and maximum (so
  // that compactness does not depend on the image's range), converted to Lab, then
  // smoothed (σ > 0) channel by channel.
  rgb = rgb - rgb.min();
  const double top = rgb.max().item<double>();
  if (top != 0) rgb = rgb / top;
  const auto lab =
      (detail::scipy_gaussian_filter(rgb_to_lab(rgb), options.sigma) * (1.0 / options.compactness)).reshape({3, h * w});
  const auto fopts = lab.options();
  const auto lopts = fopts.dtype(torch::kLong);

  const Grid grid = regular_grid(h, w, options.n_segments);
  const auto ys = torch::arange(grid.start_y, h, grid.step_y, lopts),
             xs = torch::arange(grid.start_x, w, grid.step_x, lopts);
  const int64_t ny = ys.numel(), nx = xs.numel(), k = ny * nx;
  // As skimage: the search box uses the grid for the number of centres actually placed,
  // the distance uses the largest grid step.
  const Grid box = regular_grid(h, w, k);
  const double step = static_cast<double>(std::max(grid.step_y, grid.step_x));
  const double spatial_weight = 1.0 / (step * step);

  // Every centre scores every pixel of its box (rows floor(max(cy - 2·sy, 0)) ..
  // min(floor(cy + 2·sy), H - 1), as skimage's loop bounds): [K, 4·sy+1, 4·sx+1] slots.
  const auto oy = torch::arange(4 * box.step_y + 1, lopts).view({1, -1, 1});
  const auto ox = torch::arange(4 * box.step_x + 1, lopts).view({1, 1, -1});
  // The centre each scored (centre, box slot) pair belongs to, flattened as the distances.
  const auto which = torch::arange(k, lopts).view({k, 1, 1}).expand({k, oy.size(1), ox.size(2)}).reshape(-1);
  // Pixels no centre reaches (rare) keep the nearest grid slot.
  const auto slot_y =
      torch::arange(h, lopts).sub(grid.start_y).to(torch::kDouble).div(grid.step_y).round().clamp(0, ny - 1);
  const auto slot_x =
      torch::arange(w, lopts).sub(grid.start_x).to(torch::kDouble).div(grid.step_x).round().clamp(0, nx - 1);
  auto assign = (slot_y.to(torch::kLong).view({h, 1}) * nx + slot_x.to(torch::kLong).view({1, w})).reshape(-1);

  auto centre_y = ys.to(torch::kDouble).repeat_interleave(nx);
  auto centre_x = xs.to(torch::kDouble).repeat(ny);
  auto colour = torch::zeros({3, k}, fopts);  // zero, as skimage: the first assignment is almost spatial
  auto alive = torch::ones({k}, lopts.dtype(torch::kBool));
  const double inf = std::numeric_limits<double>::infinity();
  // Per-pixel (1, y, x, L, a, b), summed per segment for the means.
  const auto yy = torch::arange(h, fopts).view({h, 1}).expand({h, w}),
             xx = torch::arange(w, fopts).view({1, w}).expand({h, w});
  const auto pixel_features =
      torch::cat({torch::ones({1, h * w}, fopts), yy.reshape({1, -1}), xx.reshape({1, -1}), lab}, 0).t().contiguous();
  for (int64_t iter = 0; iter < options.max_iter; ++iter) {
    const auto cy = centre_y.view({k, 1, 1}), cx = centre_x.view({k, 1, 1});
    const auto y0 = (cy - 2.0 * box.step_y).clamp_min(0).floor().to(torch::kLong);
    const auto x0 = (cx - 2.0 * box.step_x).clamp_min(0).floor().to(torch::kLong);
    const auto y1 = (cy + 2.0 * box.step_y).floor().clamp_max(h - 1).to(torch::kLong);
    const auto x1 = (cx + 2.0 * box.step_x).floor().clamp_max(w - 1).to(torch::kLong);
    const auto py = y0 + oy, px = x0 + ox;  // [K,by,1], [K,1,bx]
    const auto valid = ((py <= y1) & (px <= x1) & alive.view({k, 1, 1})).reshape(-1);
    const auto pixel = (py.clamp_max(h - 1) * w + px.clamp_max(w - 1)).reshape(-1);
    const auto dy = cy - py.to(torch::kDouble), dx = cx - px.to(torch::kDouble);
    const auto spatial = ((dy * dy + dx * dx) * spatial_weight).reshape(-1);
    const auto t = lab.index_select(1, pixel).view({3, k, -1}) - colour.view({3, k, 1});
    const auto colour_d = ((t[0] * t[0] + t[1] * t[1]) + t[2] * t[2]).reshape(-1);
    const auto distance = (spatial + colour_d).masked_fill(valid.logical_not(), inf);
    // The smallest distance per pixel; ties go to the lowest centre (skimage updates
    // only on a strictly smaller distance, centres in order).
    const auto best = torch::full({h * w}, inf, fopts).scatter_reduce(0, pixel, distance, "amin", true);
    const auto winning = valid & (distance == best.index_select(0, pixel)) & torch::isfinite(distance);
    const auto first = torch::full({h * w}, k, lopts)
                           .scatter_reduce(0, pixel.masked_select(winning), which.masked_select(winning), "amin", true);
    assign = torch::where(first < k, first, assign);
    if (iter + 1 == options.max_iter) break;
    const auto sums = torch::zeros({k, 6}, fopts).index_add_(0, assign, pixel_features);
    const auto count = sums.select(1, 0);
    alive = count > 0;  // an emptied centre is dropped, as skimage's NaN mean is
    const auto mean = sums.slice(1, 1) / count.clamp_min(1).unsqueeze(1);
    centre_y = mean.select(1, 0).contiguous();
    centre_x = mean.select(1, 1).contiguous();
    colour = mean.slice(1, 2).t().contiguous();
  }
  // Connectivity as skimage (min_size_factor 0.5, max_size_factor 3).
  const double segment_size = static_cast<double>(h * w) / static_cast<double>(k);
  return detail::enforce_label_connectivity(assign.view({h, w}), static_cast<int64_t>(0.5 * segment_size),
                                            static_cast<int64_t>(3.0 * segment_size));
}

}  // namespace loupe
