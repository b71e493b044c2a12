// Pieces shared by the segmentation files (segmentation.cpp, quickshift.cpp, slic.cpp,
// connectivity.cpp): input checks, scipy-style Gaussian smoothing, and merging small
// segments (the connected components themselves are loupe/core/components.h).
#pragma once

#include <torch/types.h>

#include <string>

#include "loupe/core/blur.h"

namespace loupe::detail {

// Checks image is a finite floating [C,H,W] with C in {1,3} and H,W >= 1; returns it as
// float32 (float64 if it was) [3,H,W], gray repeated. Errors name `who` and "image".
torch::Tensor checked_rgb(const torch::Tensor& image, const std::string& who);

// Gaussian filter over the last two dims of [C,H,W], as scipy.ndimage's gaussian_filter:
// truncate 4σ (radius round(4σ)), 'reflect' (half-sample symmetric) borders; σ <= 0 = none.
inline torch::Tensor scipy_gaussian_filter(const torch::Tensor& chw, double sigma) {
  return sigma <= 0 ? chw : gaussian_blur(chw, sigma, static_cast<int64_t>(4.0 * sigma + 0.5), BlurBorder::kReflect);
}

// scikit-image's _enforce_label_connectivity_cython in 2-D: pixels in raster order; each
// not yet relabelled pixel grows its 4-connected same-label component by breadth-first
// search (neighbours x+1, x-1, y+1, y-1), stopping at max_size pixels; a component under
// min_size pixels takes the label of the last already relabelled neighbour of another
// component the search met (none: the next new label, shared with the following
// component), else it gets the next new label. Labels 0..K-1 in raster order of their
// first pixel (scikit-image's start_label 1, minus one). Any integer labels [H,W].
torch::Tensor enforce_label_connectivity(const torch::Tensor& labels, int64_t min_size, int64_t max_size);

}  // namespace loupe::detail
