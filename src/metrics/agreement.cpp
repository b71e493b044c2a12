#include "loupe/metrics/agreement.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// Validates a map (or mask) batch and returns it as [N,H,W].
torch::Tensor as_batch(const torch::Tensor& t, const char* what, bool mask) {
  LOUPE_CHECK(t.defined() && (t.dim() == 2 || t.dim() == 3), what, ": expected [H,W] or [N,H,W], got ",
              t.defined() ? t.sizes() : torch::IntArrayRef{});
  if (mask) {
    LOUPE_CHECK(t.scalar_type() == torch::kBool || t.numel() == 0 || ((t == 0) | (t == 1)).all().item<bool>(), what,
                ": expected a binary mask (bool or 0/1), got other values");
  } else {
    LOUPE_CHECK(t.is_floating_point(), what, ": expected real-valued maps, got ", t.scalar_type());
    LOUPE_CHECK(torch::isfinite(t).all().item<bool>(), what, ": holds NaN or infinity");
  }
  return t.dim() == 2 ? t.unsqueeze(0) : t;
}

void check_same_shape(const torch::Tensor& a, const torch::Tensor& b, const char* what_a, const char* what_b) {
  LOUPE_CHECK(a.sizes() == b.sizes(), what_a, " ", a.sizes(), " and ", what_b, " ", b.sizes(),
              ": expected the same shape");
}

// Drops the batch dimension again when the input was one [H,W] map.
torch::Tensor like_input(const torch::Tensor& per_map, const torch::Tensor& input) {
  return input.dim() == 2 ? per_map.squeeze(0) : per_map;
}

}  // namespace

torch::Tensor threshold_by_value(const torch::Tensor& maps, double value) {
  as_batch(maps, "maps", false);
  LOUPE_CHECK(std::isfinite(value), "threshold value ", value, ": expected a finite number");
  return maps >= value;
}

torch::Tensor threshold_top_percent(const torch::Tensor& maps, double percent) {
  const auto m = as_batch(maps, "maps", false);
  LOUPE_CHECK(percent >= 0 && percent <= 100, "top percent ", percent, ": expected a value in [0,100]");
  const int64_t pixels = m.size(1) * m.size(2);
  const auto keep = static_cast<int64_t>(std::llround(percent / 100.0 * pixels));
  const auto order = std::get<1>(torch::sort(m.flatten(1), /*stable=*/true, 1, /*descending=*/true));
  auto kept = torch::zeros({m.size(0), pixels}, m.options().dtype(torch::kBool));
  kept.scatter_(1, order.slice(1, 0, keep), true);
  return kept.view(maps.sizes());
}

torch::Tensor otsu_threshold(const torch::Tensor& maps, int64_t bins) {
  const auto m = as_batch(maps, "maps", false).to(torch::kCPU, torch::kDouble);
  LOUPE_CHECK(bins >= 2, "otsu bins ", bins, ": expected at least 2");
  auto thresholds = torch::empty({m.size(0)}, torch::kDouble);
  for (int64_t i = 0; i < m.size(0); ++i) {
    const auto v = m[i].flatten();
    const double lo = v.min().item<double>(), hi = v.max().item<double>();
    if (lo == hi) {
      thresholds[i] = lo;
      continue;
    }
    const auto hist = torch::histc(v, bins, lo, hi);
    const auto centres = lo + (torch::arange(bins, torch::kDouble) + 0.5) * (hi - lo) / bins;
    // Class weights and means below (1) and above (2) each cut; empty classes get mean 0.
    const auto w1 = hist.cumsum(0), w2 = hist.flip(0).cumsum(0).flip(0);
    const auto m1 = (hist * centres).cumsum(0) / w1.clamp_min(1e-300);
    const auto m2 = (hist * centres).flip(0).cumsum(0).flip(0) / w2.clamp_min(1e-300);
    const auto between = w1.slice(0, 0, bins - 1) * w2.slice(0, 1) * (m1.slice(0, 0, bins - 1) - m2.slice(0, 1)).pow(2);
    // The upper edge of the last background bin (skimage returns its centre).
    thresholds[i] = lo + (between.argmax().item<int64_t>() + 1) * (hi - lo) / bins;
  }
  return like_input(thresholds, maps);
}

torch::Tensor threshold_otsu(const torch::Tensor& maps, int64_t bins) {
  const auto t = otsu_threshold(maps, bins).to(maps.device(), maps.scalar_type());
  return maps.dim() == 2 ? maps > t : maps > t.view({-1, 1, 1});
}

torch::Tensor binarize(const torch::Tensor& maps, const MapThreshold& threshold) {
  switch (threshold.kind) {
    case MapThreshold::Kind::Value:
      return threshold_by_value(maps, threshold.value);
    case MapThreshold::Kind::TopPercent:
      return threshold_top_percent(maps, threshold.value);
    case MapThreshold::Kind::Otsu:
      return threshold_otsu(maps);
  }
  fail("map threshold: unknown kind ", static_cast<int>(threshold.kind));
}

torch::Tensor iou(const torch::Tensor& masks_a, const torch::Tensor& masks_b) {
  check_same_shape(masks_a, masks_b, "masks a", "masks b");
  const auto a = as_batch(masks_a, "masks a", true).to(torch::kBool).flatten(1);
  const auto b = as_batch(masks_b, "masks b", true).to(a.device(), torch::kBool).flatten(1);
  const auto intersection = (a & b).sum(1).to(torch::kDouble);
  const auto union_ = (a | b).sum(1).to(torch::kDouble);
  const auto result = torch::where(union_ > 0, intersection / union_.clamp_min(1), torch::ones_like(union_));
  return like_input(result.cpu(), masks_a);
}

torch::Tensor map_iou(const torch::Tensor& maps_a, const torch::Tensor& maps_b, const MapThreshold& threshold) {
  check_same_shape(maps_a, maps_b, "maps a", "maps b");
  return iou(binarize(maps_a, threshold), binarize(maps_b, threshold));
}

torch::Tensor pointing_game_hits(const torch::Tensor& maps, const torch::Tensor& masks, double tolerance) {
  const auto m = as_batch(maps, "maps", false);
  const auto k = as_batch(masks, "masks", true).to(m.device(), torch::kBool);
  check_same_shape(maps, masks, "maps", "masks");
  LOUPE_CHECK(std::isfinite(tolerance) && tolerance >= 0, "pointing game tolerance ", tolerance,
              ": expected a distance >= 0 in pixels");
  const int64_t width = m.size(2);
  const auto peak = m.flatten(1).argmax(1);  // [N]
  const auto peak_row = peak.div(width, "floor").view({-1, 1, 1}), peak_col = peak.remainder(width).view({-1, 1, 1});
  const auto rows = torch::arange(m.size(1), peak.options()).view({1, -1, 1});
  const auto cols = torch::arange(width, peak.options()).view({1, 1, -1});
  const auto near = ((rows - peak_row).pow(2) + (cols - peak_col).pow(2)).to(torch::kDouble) <= tolerance * tolerance;
  return like_input((near & k).flatten(1).any(1).cpu(), maps);
}

double pointing_game_accuracy(const torch::Tensor& maps, const torch::Tensor& masks, double tolerance) {
  const auto hits = pointing_game_hits(maps, masks, tolerance);
  return hits.to(torch::kDouble).mean().item<double>();
}

}  // namespace loupe
