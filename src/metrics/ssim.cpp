#include "loupe/metrics/ssim.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "loupe/core/error.h"

namespace loupe {
namespace {

constexpr int64_t kWindow = 11;
constexpr double kSigma = 1.5, kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;

void check_images(const char* what, const torch::Tensor& t) {
  LOUPE_CHECK(t.defined() && t.dim() == 4, "SSIM ", what, ": expected images [N,C,H,W], got ",
              t.defined() ? t.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(t.size(2) >= kWindow && t.size(3) >= kWindow, "SSIM ", what, ": images of ", t.size(2), "x", t.size(3),
              " are smaller than the 11x11 window");
  LOUPE_CHECK(torch::isfinite(t).all().item<bool>(), "SSIM ", what, ": found NaN or infinite pixels");
}

void check_ssim_inputs(const torch::Tensor& x, const torch::Tensor& y) {
  check_images("x", x);
  check_images("y", y);
  LOUPE_CHECK(x.sizes() == y.sizes(), "SSIM: image shapes differ, x ", x.sizes(), " vs y ", y.sizes());
}

// The 'valid' 1-D Gaussian filters along the rows (gh, [H, H-10]) and the columns (gw,
// [W, W-10]) of an image: column j of each holds the normalised window at offset j.
struct Windows {
  torch::Tensor gh, gw;
};

Windows gaussian_windows(int64_t h, int64_t w, const torch::TensorOptions& options) {
  auto g = torch::arange(kWindow, options) - (kWindow - 1) / 2;
  g = torch::exp(-g.pow(2) / (2 * kSigma * kSigma));
  g = g / g.sum();
  auto along = [&](int64_t n) {
    auto m = torch::zeros({n, n - kWindow + 1}, options);
    for (int64_t j = 0; j < m.size(1); ++j) m.select(1, j).narrow(0, j, kWindow).copy_(g);
    return m;
  };
  return {along(h), along(w)};
}

// Separable 'valid' Gaussian filtering as two matrix products (x · gw, then the same along
// rows): plain GEMMs, where a depthwise 11-tap convolution went through im2col copies.
torch::Tensor filter(const torch::Tensor& x, const Windows& g) {
  return x.matmul(g.gw).transpose(2, 3).matmul(g.gh).transpose(2, 3);
}

// The SSIM map of checked images, in double precision.
torch::Tensor ssim_map_of(const torch::Tensor& x_in, const torch::Tensor& y_in, const Windows& g) {
  const auto x = x_in.to(g.gh.device(), torch::kDouble), y = y_in.to(g.gh.device(), torch::kDouble);
  const auto mx = filter(x, g), my = filter(y, g);
  const auto vx = filter(x * x, g) - mx * mx, vy = filter(y * y, g) - my * my, cxy = filter(x * y, g) - mx * my;
  return ((2 * mx * my + kC1) * (2 * cxy + kC2)) / ((mx * mx + my * my + kC1) * (vx + vy + kC2));
}

Windows windows_for(const torch::Tensor& x) {
  return gaussian_windows(x.size(2), x.size(3), torch::TensorOptions().dtype(torch::kDouble).device(x.device()));
}

}  // namespace

torch::Tensor ssim_map(const torch::Tensor& x, const torch::Tensor& y) {
  check_ssim_inputs(x, y);
  return ssim_map_of(x, y, windows_for(x));
}

torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y) {
  check_ssim_inputs(x, y);
  const auto g = windows_for(x);
  // In chunks: the double-precision maps of 10,000 64x64 RGB images would take ~1 GB each.
  constexpr int64_t kChunk = 256;
  std::vector<torch::Tensor> means;
  for (int64_t first = 0; first < x.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, x.size(0) - first);
    means.push_back(ssim_map_of(x.narrow(0, first, n), y.narrow(0, first, n), g).flatten(1).mean(1));
  }
  if (means.empty()) return torch::empty({0}, x.options().dtype(torch::kDouble));
  return torch::cat(means);
}

}  // namespace loupe
