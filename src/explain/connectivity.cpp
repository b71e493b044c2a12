// Segment connectivity on top of core's connected components (loupe/core/components.h):
// 4-connected relabelling, splitting by a mask, merging small segments.
#include <torch/torch.h>

#include "explain/segmentation_detail.h"
#include "loupe/core/components.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {
namespace {

torch::Tensor checked_labels(const torch::Tensor& labels, const char* who) {
  LOUPE_CHECK(labels.defined(), who, ": expected labels [H,W], got an undefined tensor");
  LOUPE_CHECK(labels.dim() == 2 && labels.numel() > 0, who, ": expected labels of shape [H,W], got ", labels.sizes());
  LOUPE_CHECK(!labels.is_floating_point() && !labels.is_complex(), who, ": expected integer labels, got ",
              labels.scalar_type());
  return labels.to(torch::kLong);
}

}  // namespace

namespace detail {

torch::Tensor merge_small_segments(const torch::Tensor& labels, int64_t min_size) {
  const int64_t h = labels.size(0), w = labels.size(1);
  auto flat = labels.reshape(-1);
  const int64_t k = flat.max().item<int64_t>() + 1;
  if (k <= 1 || min_size <= 1) return labels;
  // Labels follow raster order of first pixels, so every segment but 0 touches an earlier
  // (smaller) label: the pixel above or left of its first pixel. Each small segment joins
  // the earlier neighbour it shares the longest border with (ties: the earliest), as
  // scikit-image joins an earlier-labelled neighbour; targets are earlier, so this is a
  // forest and pointer jumping resolves chains of small segments.
  auto [from, to] = neighbour_pairs(h, w, Connectivity::kFour, labels.device());
  const auto differ = flat.index_select(0, from) != flat.index_select(0, to);
  from = from.masked_select(differ);
  to = to.masked_select(differ);
  const auto a = flat.index_select(0, from), b = flat.index_select(0, to);
  const auto self = torch::arange(k, flat.options());
  const auto pairs = std::get<0>((torch::maximum(a, b) * k + torch::minimum(a, b)).sort());
  const auto [pair, inverse, border] = torch::unique_consecutive(pairs, false, true);
  // Score = border·k + (k-1-neighbour): the maximum is the longest border, then earliest.
  const auto neighbour = pair.remainder(k);
  const auto best = self.scatter_reduce(0, pair.div(k, "floor"), border * k + (k - 1 - neighbour), "amax",
                                        /*include_self=*/false);
  auto small = torch::bincount(flat, {}, k) < min_size;
  small.index_put_({0}, false);  // segment 0 has no earlier neighbour; handled below
  const auto target = flatten_forest(torch::where(small, k - 1 - best.remainder(k), self));
  auto merged = target.index_select(0, flat);
  // Segment 0's group, if still small, joins the neighbouring group it borders most.
  const auto zero = merged == 0;
  if (zero.sum().item<int64_t>() < min_size) {
    const auto touching = torch::cat({merged.index_select(0, from).masked_select(zero.index_select(0, to)),
                                      merged.index_select(0, to).masked_select(zero.index_select(0, from))});
    const auto other = touching.masked_select(touching != 0);
    if (other.numel() > 0) merged = torch::where(zero, torch::bincount(other, {}, k).argmax(), merged);
  }
  // Compact to 0..K-1; unions keep the earlier first pixel, so raster order holds.
  const auto used = torch::bincount(merged, {}, k) > 0;
  return (used.cumsum(0) - 1).index_select(0, merged).view({h, w});
}

}  // namespace detail

torch::Tensor connected_segments(const torch::Tensor& labels) {
  const auto l = checked_labels(labels, "connected_segments");
  return labels_from_roots(component_roots(l, Connectivity::kFour), l.size(0), l.size(1));
}

torch::Tensor respect_mask(const torch::Tensor& labels, const torch::Tensor& mask) {
  const auto l = checked_labels(labels, "respect_mask");
  LOUPE_CHECK(mask.defined() && mask.sizes() == l.sizes(), "respect_mask: expected mask of the labels' size ",
              l.sizes(), ", got ", mask.defined() ? mask.sizes() : torch::IntArrayRef{});
  const auto m = mask.to(l.device());
  LOUPE_CHECK(((m == 0) | (m == 1)).all().item<bool>(), "respect_mask: expected a binary mask (bool or 0/1), got ",
              "values ", m.to(torch::kDouble).min().item<double>(), "..", m.to(torch::kDouble).max().item<double>());
  // A region of (label, side) pairs never crosses the mask boundary and lies in one segment.
  return connected_segments(l * 2 + m.to(torch::kLong));
}

}  // namespace loupe
