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

// Merges every segment smaller than min_size pixels into an adjacent one (see
// slic.cpp for the rule); labels must be 0..K-1 connected, in raster order.
torch::Tensor merge_small_segments(const torch::Tensor& labels, int64_t min_size);

}  // namespace loupe::detail
