#include "loupe/metrics/localisation.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "loupe/core/error.h"
#include "loupe/metrics/roc.h"

namespace loupe {
namespace {

// Validated maps (double, CPU) and masks (bool, CPU) of one shape; [H,W] becomes [1,H,W]
// when allowed.
std::pair<torch::Tensor, torch::Tensor> checked_maps_and_masks(const torch::Tensor& maps, const torch::Tensor& masks,
                                                               bool allow_single) {
  const char* expected = allow_single ? "[H,W] or [N,H,W]" : "[N,H,W]";
  LOUPE_CHECK(maps.defined() && (maps.dim() == 3 || (allow_single && maps.dim() == 2)), "maps: expected ", expected,
              ", got ", maps.defined() ? maps.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(maps.is_floating_point(), "maps: expected real values, got ", maps.scalar_type());
  LOUPE_CHECK(maps.numel() > 0, "maps: expected at least one pixel, got ", maps.sizes());
  LOUPE_CHECK(masks.defined() && masks.sizes() == maps.sizes(), "masks: expected the maps' shape ", maps.sizes(),
              ", got ", masks.defined() ? masks.sizes() : torch::IntArrayRef{});
  const auto m = maps.to(torch::kCPU, torch::kDouble);
  LOUPE_CHECK(torch::isfinite(m).all().item<bool>(), "maps: found NaN or infinite values");
  const auto g = masks.to(torch::kCPU);
  LOUPE_CHECK(g.scalar_type() == torch::kBool || ((g == 0) | (g == 1)).all().item<bool>(),
              "masks: expected binary masks (bool or 0/1)");
  if (maps.dim() == 2) return {m.unsqueeze(0), g.to(torch::kBool).unsqueeze(0)};
  return {m, g.to(torch::kBool)};
}

// Region labels int64 [N,H,W] of all masks at once: 0 outside, 1..K numbered image by
// image. A zero row under each mask keeps regions of consecutive images apart.
torch::Tensor label_mask_regions(const torch::Tensor& masks, Connectivity connectivity) {
  const int64_t n = masks.size(0), h = masks.size(1), w = masks.size(2);
  const auto padded = torch::cat({masks, torch::zeros({n, 1, w}, masks.options())}, 1).view({n * (h + 1), w});
  return label_regions(padded, connectivity, "masks").view({n, h + 1, w}).slice(1, 0, h);
}

// The last index of each run of equal values in a descending-sorted [..., P] tensor.
torch::Tensor run_ends(const torch::Tensor& sorted) {
  const int64_t p = sorted.size(-1);
  auto last = torch::ones(sorted.sizes(), sorted.options().dtype(torch::kBool));
  last.narrow(-1, 0, p - 1).copy_(sorted.narrow(-1, 1, p - 1).ne(sorted.narrow(-1, 0, p - 1)));
  return last;
}

}  // namespace

double pixel_auroc(const torch::Tensor& maps, const torch::Tensor& masks) {
  const auto [m, g] = checked_maps_and_masks(maps, masks, false);
  const int64_t anomalous = g.sum().item<int64_t>();
  LOUPE_CHECK(anomalous > 0 && anomalous < g.numel(), "masks: ", anomalous, " anomalous pixel(s) of ", g.numel(),
              "; pixel AUROC needs both anomalous and normal pixels");
  return auroc(m.reshape(-1), g.reshape(-1));
}

ProCurve pro_curve(const torch::Tensor& maps, const torch::Tensor& masks, Connectivity connectivity) {
  const auto [m, g] = checked_maps_and_masks(maps, masks, false);
  const auto labels = label_mask_regions(g, connectivity).reshape(-1);
  const int64_t regions = labels.max().item<int64_t>();
  LOUPE_CHECK(regions > 0, "masks: no anomalous pixel in any mask; PRO needs ground-truth regions");
  const auto sizes = torch::bincount(labels, {}, regions + 1).to(torch::kDouble);
  const double normals = sizes[0].item<double>();
  LOUPE_CHECK(normals > 0, "masks: every pixel is anomalous; PRO's FPR needs normal pixels");
  // Flagging a normal pixel adds 1/normals to the FPR; flagging a pixel of region r adds
  // 1/|r| to that region's overlap, i.e. 1/(|r|·regions) to the mean overlap.
  const auto normal_step = (labels == 0).to(torch::kDouble) / normals;
  const auto region_step =
      torch::where(labels > 0, 1.0 / (sizes.index_select(0, labels) * regions), torch::zeros({1}, torch::kDouble));
  const auto [sorted, order] = m.reshape(-1).sort(0, /*descending=*/true);
  const auto ends = run_ends(sorted).nonzero().squeeze(1);
  const auto zero = torch::zeros({1}, torch::kDouble);
  ProCurve curve;
  curve.fpr = torch::cat({zero, normal_step.index_select(0, order).cumsum(0).index_select(0, ends)}).clamp_max(1);
  curve.pro = torch::cat({zero, region_step.index_select(0, order).cumsum(0).index_select(0, ends)}).clamp_max(1);
  curve.thresholds = torch::cat(
      {torch::full({1}, std::numeric_limits<double>::infinity(), torch::kDouble), sorted.index_select(0, ends)});
  curve.regions = regions;
  return curve;
}

double aupro(const torch::Tensor& maps, const torch::Tensor& masks, const ProOptions& options) {
  const double limit = options.fpr_limit;
  LOUPE_CHECK(std::isfinite(limit) && limit > 0 && limit <= 1, "PRO FPR limit ", limit, ": expected a number in (0,1]");
  return aupro(pro_curve(maps, masks, options.connectivity), limit);
}

double aupro(const ProCurve& curve, double limit) {
  LOUPE_CHECK(std::isfinite(limit) && limit > 0 && limit <= 1, "PRO FPR limit ", limit, ": expected a number in (0,1]");
  const auto fpr = curve.fpr.accessor<double, 1>(), pro = curve.pro.accessor<double, 1>();
  double area = 0;
  for (int64_t i = 1; i < fpr.size(0); ++i) {
    const double x0 = fpr[i - 1], y0 = pro[i - 1];
    if (fpr[i] <= limit) {
      area += (fpr[i] - x0) * (pro[i] + y0) / 2;
      continue;
    }
    // The segment crossing the limit: its point at FPR = limit, linearly interpolated.
    const double y = y0 + (pro[i] - y0) * (limit - x0) / (fpr[i] - x0);
    area += (limit - x0) * (y + y0) / 2;
    break;
  }
  return area / limit;
}

OptimalJaccard optimal_jaccard(const torch::Tensor& maps, const torch::Tensor& masks) {
  const auto [m, g] = checked_maps_and_masks(maps, masks, true);
  const int64_t n = m.size(0), p = m.size(1) * m.size(2);
  const auto [sorted, order] = m.reshape({n, p}).sort(1, /*descending=*/true);
  // The mask of the k highest pixels: IoU = tp_k / (|γ| + k − tp_k), evaluated only where
  // a run of equal values ends, since tied pixels enter together.
  const auto tp = g.reshape({n, p}).gather(1, order).to(torch::kLong).cumsum(1);
  const auto truth = g.reshape({n, p}).sum(1, /*keepdim=*/true);
  const auto size = torch::arange(1, p + 1, torch::kLong).unsqueeze(0);
  const auto iou = (tp.to(torch::kDouble) / (truth + size - tp).to(torch::kDouble)).masked_fill(~run_ends(sorted), -1);
  // Exact integer ratios round identically, so equal IoUs tie and argmax takes the first,
  // i.e. the smallest mask.
  const auto best = iou.argmax(1, /*keepdim=*/true);
  const auto below =
      torch::cat({sorted, torch::full({n, 1}, -std::numeric_limits<double>::infinity(), sorted.options())}, 1);
  const auto empty = truth.squeeze(1) == 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  OptimalJaccard result;
  result.jaccard = iou.gather(1, best).squeeze(1).masked_fill(empty, nan);
  result.threshold = below.gather(1, best + 1).squeeze(1).masked_fill(empty, nan);
  result.mask_size = (best.squeeze(1) + 1).masked_fill(empty, 0);
  if (maps.dim() == 2) {
    result.jaccard = result.jaccard.squeeze(0);
    result.threshold = result.threshold.squeeze(0);
    result.mask_size = result.mask_size.squeeze(0);
  }
  return result;
}

}  // namespace loupe
