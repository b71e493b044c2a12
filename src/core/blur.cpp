#include "loupe/core/blur.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// Source index of each position of a length-n axis padded by r on both sides.
torch::Tensor padded_indices(int64_t n, int64_t r, BlurBorder border, torch::Device device) {
  const auto i = torch::arange(-r, n + r, torch::TensorOptions().dtype(torch::kLong).device(device));
  if (border == BlurBorder::kReplicate) return i.clamp(0, n - 1);
  const auto m = i.remainder(2 * n);
  return torch::where(m >= n, 2 * n - 1 - m, m);
}

// The 'valid' filter along an axis of length n as a banded matrix [n, n − 2r]: column j
// holds the kernel at rows j..j+2r.
torch::Tensor valid_band(const torch::Tensor& kernel, int64_t n) {
  const int64_t taps = kernel.size(0);
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(kernel.device());
  const auto offset = torch::arange(n, options).unsqueeze(1) - torch::arange(n - taps + 1, options).unsqueeze(0);
  const auto inside = offset.ge(0).logical_and(offset.lt(taps));
  return torch::where(inside, kernel.index({offset.clamp(0, taps - 1)}), torch::zeros({}, kernel.options()));
}

}  // namespace

double opencv_sigma(int64_t kernel_size) { return 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8; }

torch::Tensor gaussian_blur(const torch::Tensor& images, double sigma, int64_t radius, BlurBorder border) {
  LOUPE_CHECK(std::isfinite(sigma) && sigma >= 0, "blur sigma ", sigma, ": expected a finite value >= 0 (pixels)");
  LOUPE_CHECK(images.defined() && images.dim() >= 2 && images.is_floating_point(),
              "blur: expected a floating tensor [..., H, W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  const int64_t r = radius < 0 ? static_cast<int64_t>(std::ceil(3 * sigma)) : radius;
  if (sigma == 0 || r == 0) return images.clone();
  const int64_t h = images.size(-2), w = images.size(-1);
  auto kernel = torch::arange(-r, r + 1, images.options()).square().mul(-0.5 / (sigma * sigma)).exp();
  kernel = kernel / kernel.sum();
  if (border == BlurBorder::kValid) {
    LOUPE_CHECK(h > 2 * r && w > 2 * r, "blur: images of ", h, "x", w, " are smaller than the ", 2 * r + 1, "x",
                2 * r + 1, " window");
    // Two GEMMs (along W, then H): for small images several times faster than a
    // one-channel convolution, which goes through im2col copies in double precision.
    return images.matmul(valid_band(kernel, w)).transpose(-2, -1).matmul(valid_band(kernel, h)).transpose(-2, -1);
  }
  namespace F = torch::nn::functional;
  auto x = images.reshape({-1, 1, h, w});
  x = x.index_select(2, padded_indices(h, r, border, images.device()));
  x = x.index_select(3, padded_indices(w, r, border, images.device()));
  x = F::conv2d(x, kernel.view({1, 1, -1, 1}));
  x = F::conv2d(x, kernel.view({1, 1, 1, -1}));
  return x.reshape(images.sizes());
}

namespace {
// Source index of each padded position p in [−before, n + after) under OpenCV's
// BORDER_REFLECT_101, for any padding width (the reflection repeats with period 2n − 2).
torch::Tensor reflect101_index(int64_t n, int64_t before, int64_t after) {
  auto p = torch::arange(-before, n + after, torch::kLong);
  if (n == 1) return torch::zeros_like(p);
  const int64_t period = 2 * n - 2;
  p = p.remainder(period);
  return torch::where(p >= n, period - p, p);
}

// Means of k consecutive entries along `dim` after reflect-101 padding, anchor k/2.
torch::Tensor box_mean_along(const torch::Tensor& x, int64_t dim, int64_t k) {
  const int64_t n = x.size(dim), anchor = k / 2;
  const auto padded = x.index_select(dim, reflect101_index(n, anchor, k - 1 - anchor).to(x.device()));
  const auto sums = torch::cat({torch::zeros_like(padded.narrow(dim, 0, 1)), padded.cumsum(dim)}, dim);
  return (sums.narrow(dim, k, n) - sums.narrow(dim, 0, n)) / static_cast<double>(k);
}
}  // namespace

torch::Tensor box_blur(const torch::Tensor& images, int64_t kernel_height, int64_t kernel_width) {
  LOUPE_CHECK(images.defined() && images.dim() >= 2 && images.is_floating_point(),
              "box blur: expected a floating tensor [..., H, W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(kernel_height >= 1 && kernel_width >= 1, "box blur: kernel ", kernel_height, "x", kernel_width,
              ": expected sides >= 1");
  const auto x = images.to(torch::kDouble);
  const auto rows = box_mean_along(x, x.dim() - 2, kernel_height);
  return box_mean_along(rows, x.dim() - 1, kernel_width).to(images.scalar_type());
}

}  // namespace loupe
