#include "loupe/metrics/ssim.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "loupe/core/blur.h"
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

// The SSIM map of checked images, in double precision. The five local means (x, y, x²,
// y², xy: the 11-tap Gaussian of σ = 1.5 at the 'valid' positions) in one filtering call.
torch::Tensor ssim_map_of(const torch::Tensor& x_in, const torch::Tensor& y_in) {
  const auto x = x_in.to(torch::kDouble), y = y_in.to(torch::kDouble);
  const auto means = gaussian_blur(torch::stack({x, y, x * x, y * y, x * y}), kSigma, kWindow / 2, BlurBorder::kValid);
  const auto mx = means[0], my = means[1];
  const auto vx = means[2] - mx * mx, vy = means[3] - my * my, cxy = means[4] - mx * my;
  return ((2 * mx * my + kC1) * (2 * cxy + kC2)) / ((mx * mx + my * my + kC1) * (vx + vy + kC2));
}

}  // namespace

torch::Tensor ssim_map(const torch::Tensor& x, const torch::Tensor& y) {
  check_ssim_inputs(x, y);
  return ssim_map_of(x, y);
}

torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y) {
  check_ssim_inputs(x, y);
  // In chunks: the double-precision maps of 10,000 64x64 RGB images would take ~1 GB each.
  constexpr int64_t kChunk = 256;
  std::vector<torch::Tensor> means;
  for (int64_t first = 0; first < x.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, x.size(0) - first);
    means.push_back(ssim_map_of(x.narrow(0, first, n), y.narrow(0, first, n)).flatten(1).mean(1));
  }
  if (means.empty()) return torch::empty({0}, x.options().dtype(torch::kDouble));
  return torch::cat(means);
}

}  // namespace loupe
