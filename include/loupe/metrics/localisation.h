// Pixel-level localisation of anomalies, as pure functions over maps [N,H,W] and ground-
// truth masks [N,H,W]. Pixel AUROC: every pixel of every image one sample (roc.h).
// PRO (Bergmann et al., MVTec AD, CVPR 2019 / IJCV 2021): the mean over ground-truth regions
// (8-connected, as the MVTec AD evaluation's scipy label and anomalib) of the fraction of
// each region at or above a threshold, against the FPR over all pixels outside the masks;
// AUPRO integrates it exactly (every distinct map value a threshold, trapezoids, the last
// point interpolated at the FPR limit) and divides by the limit. Optimal Jaccard: per map,
// J* = max over θ of IoU(mask, map > θ), swept exactly over the map's distinct values.
#pragma once

#include <torch/types.h>

#include "loupe/core/components.h"

namespace loupe {

// maps [N,H,W] (finite), masks [N,H,W] (bool or 0/1) with anomalous and normal pixels.
double pixel_auroc(const torch::Tensor& maps, const torch::Tensor& masks);

struct ProOptions {
  double fpr_limit = 0.3;                            // AUPRO's integration limit, in (0,1]
  Connectivity connectivity = Connectivity::kEight;  // of the ground-truth regions
  // clang-format off
  ProOptions& set_fpr_limit(double v) { fpr_limit = v; return *this; }
  ProOptions& set_connectivity(Connectivity v) { connectivity = v; return *this; }
  // clang-format on
};

struct ProCurve {
  torch::Tensor fpr, pro;    // double [T+1], from (0,0) to (1,1)
  torch::Tensor thresholds;  // double [T+1]: a pixel is positive iff value >= threshold; the first is +inf
  int64_t regions = 0;       // ground-truth regions over all masks
};

// The whole PRO curve, one point per distinct map value. maps, masks as pixel_auroc; images
// without a defect only add normal pixels.
ProCurve pro_curve(const torch::Tensor& maps, const torch::Tensor& masks,
                   Connectivity connectivity = Connectivity::kEight);
// The area under the PRO curve up to options.fpr_limit, divided by the limit: in [0,1].
double aupro(const torch::Tensor& maps, const torch::Tensor& masks, const ProOptions& options = {});
// The same from a curve already computed (pro_curve), so a caller that also shows the
// curve does not compute it twice.
double aupro(const ProCurve& curve, double fpr_limit = 0.3);

// Per map: [N], or 0-d for one [H,W] map.
struct OptimalJaccard {
  torch::Tensor jaccard;    // double: J*; NaN where the mask is empty (J* undefined)
  torch::Tensor threshold;  // double: θ* with map > θ* the best mask: the largest map value left
                            // out of it, −inf when it holds every pixel; NaN where the mask is empty
  torch::Tensor mask_size;  // int64: pixels in the best mask (0 where the mask is empty)
};

// J* per map: maps [H,W] or [N,H,W] (finite reals, e.g. explanations), masks of the same
// shape (bool or 0/1). Pixels of equal value enter the mask together; among thresholds of
// equal IoU the smallest mask (largest θ) wins. O(P log P) per map (one sort).
OptimalJaccard optimal_jaccard(const torch::Tensor& maps, const torch::Tensor& masks);

}  // namespace loupe
