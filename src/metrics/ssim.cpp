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

// The 'valid' 1-D Gaussian filter along an axis of length n, as an [n, n-10] matrix whose
// column j holds the window at offset j.
torch::Tensor window_matrix(int64_t n, const torch::Tensor& g) {
  auto m = torch::zeros({n, n - kWindow + 1}, g.options());
  for (int64_t j = 0; j < m.size(1); ++j) m.select(1, j).narrow(0, j, kWindow).copy_(g);
  return m;
}

// Separable 'valid' Gaussian filtering as two matrix products (x · Gw, then the same along
// rows): plain GEMMs, where a depthwise 11-tap convolution went through im2col copies.
torch::Tensor filter(const torch::Tensor& x, const torch::Tensor& gh, const torch::Tensor& gw) {
  return x.matmul(gw).transpose(2, 3).matmul(gh).transpose(2, 3);
}

}  // namespace

torch::Tensor ssim_map(const torch::Tensor& x_in, const torch::Tensor& y_in) {
  check_images("x", x_in);
  check_images("y", y_in);
  LOUPE_CHECK(x_in.sizes() == y_in.sizes(), "SSIM: image shapes differ, x ", x_in.sizes(), " vs y ", y_in.sizes());
  const auto x = x_in.to(torch::kDouble), y = y_in.to(x.device(), torch::kDouble);
  auto g = torch::arange(kWindow, x.options()) - (kWindow - 1) / 2;
  g = torch::exp(-g.pow(2) / (2 * kSigma * kSigma));
  g = g / g.sum();
  const auto gh = window_matrix(x.size(2), g), gw = window_matrix(x.size(3), g);
  const auto mx = filter(x, gh, gw), my = filter(y, gh, gw);
  const auto vx = filter(x * x, gh, gw) - mx * mx, vy = filter(y * y, gh, gw) - my * my,
             cxy = filter(x * y, gh, gw) - mx * my;
  return ((2 * mx * my + kC1) * (2 * cxy + kC2)) / ((mx * mx + my * my + kC1) * (vx + vy + kC2));
}

torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y) {
  check_images("x", x);
  LOUPE_CHECK(y.defined() && x.size(0) == y.size(0), "SSIM: x has ", x.size(0), " images, y ",
              y.defined() ? y.size(0) : 0);
  // In chunks: the double-precision maps of 10,000 64x64 RGB images would take ~1 GB each.
  constexpr int64_t kChunk = 256;
  std::vector<torch::Tensor> means;
  for (int64_t first = 0; first < x.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, x.size(0) - first);
    means.push_back(ssim_map(x.narrow(0, first, n), y.narrow(0, first, n)).flatten(1).mean(1));
  }
  if (means.empty()) return torch::empty({0}, x.options().dtype(torch::kDouble));
  return torch::cat(means);
}

}  // namespace loupe
