// Segment connectivity on top of core's connected components (loupe/core/components.h):
// 4-connected relabelling, splitting by a mask, scikit-image's connectivity enforcement.
#include <torch/torch.h>

#include <vector>

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

torch::Tensor enforce_label_connectivity(const torch::Tensor& labels, int64_t min_size, int64_t max_size) {
  const auto l = checked_labels(labels, "enforce_label_connectivity").cpu().contiguous();
  const int64_t h = l.size(0), w = l.size(1);
  const int64_t* segment = l.data_ptr<int64_t>();
  std::vector<int64_t> out(static_cast<size_t>(h * w), -1), component;
  int64_t next = 0;
  constexpr int64_t kDx[4] = {1, -1, 0, 0}, kDy[4] = {0, 0, 1, -1};
  for (int64_t p = 0; p < h * w; ++p) {
    if (out[p] >= 0) continue;
    int64_t adjacent = next;
    const int64_t label = segment[p];
    out[p] = next;
    component.assign(1, p);
    for (size_t visited = 0; visited < component.size() && static_cast<int64_t>(component.size()) < max_size;
         ++visited) {
      const int64_t y = component[visited] / w, x = component[visited] % w;
      for (int i = 0; i < 4; ++i) {
        const int64_t ny = y + kDy[i], nx = x + kDx[i];
        if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
        const int64_t q = ny * w + nx;
        if (segment[q] == label && out[q] < 0) {
          out[q] = next;
          component.push_back(q);
          if (static_cast<int64_t>(component.size()) >= max_size) break;
        } else if (out[q] >= 0 && out[q] != next) {
          adjacent = out[q];
        }
      }
    }
    if (static_cast<int64_t>(component.size()) < min_size) {
      for (const int64_t q : component) out[q] = adjacent;
    } else {
      ++next;
    }
  }
  return torch::tensor(out, torch::kLong).view({h, w}).to(labels.device());
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
