#include "loupe/metrics/ssim.h"

#include <torch/torch.h>

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

// Depthwise 'valid' filtering with the separable, normalised Gaussian window.
torch::Tensor filter(const torch::Tensor& x, const torch::Tensor& g) {
  const int64_t c = x.size(1);
  namespace F = torch::nn::functional;
  const auto rows = F::conv2d(x, g.view({1, 1, kWindow, 1}).repeat({c, 1, 1, 1}), F::Conv2dFuncOptions().groups(c));
  return F::conv2d(rows, g.view({1, 1, 1, kWindow}).repeat({c, 1, 1, 1}), F::Conv2dFuncOptions().groups(c));
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
  const auto mx = filter(x, g), my = filter(y, g);
  const auto vx = filter(x * x, g) - mx * mx, vy = filter(y * y, g) - my * my, cxy = filter(x * y, g) - mx * my;
  return ((2 * mx * my + kC1) * (2 * cxy + kC2)) / ((mx * mx + my * my + kC1) * (vx + vy + kC2));
}

torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y) { return ssim_map(x, y).flatten(1).mean(1); }

}  // namespace loupe
