// SLIC as scikit-image's slic(): grid centres from regular_grid, k-means in
// (y, x, Lab/compactness) with spatial distance scaled by 1/step², each centre searching
// a ±2·step box, 10 iterations, then connectivity enforcement. Vectorised: each pixel
// scores only the centres of the 5×5 grid slots around its own (centres rarely leave
// their slot's neighbourhood), so one iteration is a [25,H,W] tensor computation.
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
  const auto rgb = detail::checked_rgb(image, "slic");
  const int64_t h = rgb.size(1), w = rgb.size(2);
  const auto lab = rgb_to_lab(detail::scipy_gaussian_filter(rgb, options.sigma)) / options.compactness;
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

  // Candidate centres of each pixel: the 5×5 slots around its own slot, [25,H,W].
  const auto y = torch::arange(h, lopts), x = torch::arange(w, lopts);
  const auto slot_y =
      (y - grid.start_y).to(torch::kDouble).div(grid.step_y).add(0.5).floor().clamp(0, ny - 1).to(torch::kLong);
  const auto slot_x =
      (x - grid.start_x).to(torch::kDouble).div(grid.step_x).add(0.5).floor().clamp(0, nx - 1).to(torch::kLong);
  const auto offset = torch::arange(-2, 3, lopts);
  const auto cand_y = slot_y.view({1, 1, h, 1}) + offset.view({5, 1, 1, 1});
  const auto cand_x = slot_x.view({1, 1, 1, w}) + offset.view({1, 5, 1, 1});
  const auto slot_ok =
      ((cand_y >= 0) & (cand_y < ny) & (cand_x >= 0) & (cand_x < nx)).expand({5, 5, h, w}).reshape({25, h, w});
  const auto candidate =
      (cand_y.clamp(0, ny - 1) * nx + cand_x.clamp(0, nx - 1)).expand({5, 5, h, w}).reshape({25, h, w});
  const auto own = candidate[12];
  const auto flat_candidate = candidate.reshape(-1);

  // Centres: (y, x) and colour; colour starts at 0 as in skimage, so the first
  // assignment is purely spatial.
  auto centre_y = ys.to(lab.scalar_type()).repeat_interleave(nx);
  auto centre_x = xs.to(lab.scalar_type()).repeat(ny);
  auto colour = torch::zeros({3, k}, fopts);
  auto alive = torch::ones({k}, fopts.dtype(torch::kBool));
  const auto yf = y.to(lab.scalar_type()).view({1, h, 1}), xf = x.to(lab.scalar_type()).view({1, 1, w});
  const double inf = std::numeric_limits<double>::infinity();
  // Per-pixel (1, y, x, L, a, b) in float64, summed per segment for the means.
  const auto pixel_features =
      torch::stack(
          {torch::ones({h, w}, fopts), yf.expand({1, h, w})[0], xf.expand({1, h, w})[0], lab[0], lab[1], lab[2]}, 2)
          .reshape({h * w, 6})
          .to(torch::kDouble);
  torch::Tensor assign;
  for (int64_t iter = 0; iter < options.max_iter; ++iter) {
    const auto cy = centre_y.index_select(0, flat_candidate).view({25, h, w});
    const auto cx = centre_x.index_select(0, flat_candidate).view({25, h, w});
    const auto cc = colour.index_select(1, flat_candidate).view({3, 25, h, w});
    // skimage's box: floor(c - 2·step) <= p <= floor(c + 2·step).
    const auto in_box = ((cy - 2.0 * box.step_y).floor() <= yf) & (yf <= (cy + 2.0 * box.step_y).floor()) &
                        ((cx - 2.0 * box.step_x).floor() <= xf) & (xf <= (cx + 2.0 * box.step_x).floor());
    const auto distance =
        ((cy - yf).square() + (cx - xf).square()) / (step * step) + (cc - lab.view({3, 1, h, w})).square().sum(0);
    const auto usable = slot_ok & in_box & alive.index_select(0, flat_candidate).view({25, h, w});
    const auto [best, arg] = distance.masked_fill(usable.logical_not(), inf).min(0);  // ties: lowest centre
    assign = torch::where(torch::isinf(best), own, candidate.gather(0, arg.unsqueeze(0))[0]).reshape(-1);
    if (iter + 1 == options.max_iter) break;
    const auto sums = torch::zeros({k, 6}, pixel_features.options()).index_add_(0, assign, pixel_features);
    const auto count = sums.select(1, 0);
    alive = count > 0;  // an emptied centre is dropped, as skimage's NaN mean is
    const auto mean = (sums.slice(1, 1) / count.clamp_min(1).unsqueeze(1)).to(lab.scalar_type());
    centre_y = mean.select(1, 0).contiguous();
    centre_x = mean.select(1, 1).contiguous();
    colour = mean.slice(1, 2).t().contiguous();
  }
  // Connectivity: split into 4-connected regions, then merge regions under half the
  // mean segment size into a neighbour (skimage min_size_factor 0.5; its max_size cap,
  // which cuts large regions at 3x the mean size mid-search, is not reproduced).
  const auto labels = labels_from_roots(component_roots(assign.view({h, w}), Connectivity::kFour), h, w);
  const auto min_size = static_cast<int64_t>(0.5 * static_cast<double>(h * w) / static_cast<double>(k));
  return detail::merge_small_segments(labels, min_size);
}

}  // namespace loupe
