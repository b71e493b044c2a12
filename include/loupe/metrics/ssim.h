// Structural similarity (Wang et al. 2004) of images in [0,1] (data range 1):
// Gaussian 11x11 window with sigma 1.5, K1 = 0.01, K2 = 0.03, population (not sample)
// covariances, computed per channel and averaged. Choice: the SSIM map is averaged over
// the 'valid' region (where the window fits), which equals skimage's
// structural_similarity(gaussian_weights=True, use_sample_covariance=False, data_range=1).
#pragma once

#include <torch/types.h>

namespace loupe {

// SSIM map [N,C,H-10,W-10] of images x, y [N,C,H,W] (H, W >= 11).
torch::Tensor ssim_map(const torch::Tensor& x, const torch::Tensor& y);

// Mean SSIM per image [N] (over channels and the valid region).
torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y);

}  // namespace loupe
