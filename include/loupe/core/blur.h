// Separable Gaussian blur in LibTorch ops (any device): weights exp(−t²/2σ²) for t in
// [−r, r], normalised to sum 1, applied along both axes of [..., H, W] tensors. The
// radius and border rule are parameters because the references differ: OpenCV and PIL
// replicate the edge pixel, scipy.ndimage reflects (d c b a | a b c d | d c b a) and
// truncates at r = round(4σ); loupe's baselines use r = ceil(3σ) with replicated edges;
// SSIM (Wang et al. 2004, scikit-image's gaussian_weights=True) keeps only the 'valid'
// positions where the whole window fits.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace loupe {

enum class BlurBorder {
  kReplicate,  // a a a | a b c d | d d d: output [..., H, W]
  kReflect,    // c b a | a b c d | d c b: output [..., H, W]
  kValid,      // no padding: output [..., H − 2r, W − 2r]
};

// images: floating [..., H, W] (at least 2-D); σ in pixels (finite, >= 0); radius < 0
// means ceil(3σ). σ = 0 or radius 0 returns a copy. kValid needs H, W > 2r. Other input
// is a loupe::Error.
torch::Tensor gaussian_blur(const torch::Tensor& images, double sigma, int64_t radius = -1,
                            BlurBorder border = BlurBorder::kReplicate);

// OpenCV's normalised box filter (cv2.blur, which shap's "blur(kh,kw)" image masker
// uses): each output pixel is the mean of the kh×kw window whose anchor is (kh/2, kw/2)
// (rows i − kh/2 .. i − kh/2 + kh − 1), with OpenCV's default border BORDER_REFLECT_101
// (d c b | a b c d | c b a, repeated for windows wider than the image). images:
// floating [..., H, W]; sums in float64. kh, kw >= 1; other input is a loupe::Error.
torch::Tensor box_blur(const torch::Tensor& images, int64_t kernel_height, int64_t kernel_width);

// OpenCV's σ for an odd kernel side k (getGaussianKernel with sigma <= 0):
// 0.3·((k − 1)/2 − 1) + 0.8.
double opencv_sigma(int64_t kernel_size);

}  // namespace loupe
