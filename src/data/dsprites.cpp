#include "loupe/data/dsprites.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {
namespace {

constexpr int64_t kSide = 64;
constexpr double kDspritesPi = 3.14159265358979323846;
constexpr double kHalfSize = 10.0;                         // sprite half-size in pixels at scale 1
constexpr double kFirstCentre = 10.0, kCentreSpan = 44.0;  // pos 0 → 10 px, pos 1 → 54 px

// Inside tests in the sprite's frame (x right, y up, unit half-size).
torch::Tensor inside(int64_t shape, const torch::Tensor& x, const torch::Tensor& y) {
  if (shape == 0) return (x.abs() <= 1).logical_and(y.abs() <= 1);
  if (shape == 1) return x * x + (y * y) * 4.0 <= 1;
  // Heart curve (x² + y² − 1)³ − x²y³ <= 0, spanning x ∈ ±1.14, y ∈ [−1, 1.25]: scaled
  // by 1.15 and centred vertically.
  const auto hx = x * 1.15, hy = y * 1.15 + 0.125;
  const auto r = hx * hx + hy * hy - 1;
  return r * r * r - (hx * hx) * (hy * hy * hy) <= 0;
}

}  // namespace

const std::vector<std::string>& dsprites_factor_names() {
  static const std::vector<std::string> names = {"shape", "scale", "orientation", "pos_x", "pos_y"};
  return names;
}

const std::vector<int64_t>& dsprites_factor_sizes() {
  static const std::vector<int64_t> sizes = {3, 6, 40, 32, 32};
  return sizes;
}

std::vector<double> dsprites_factor_values(int64_t factor) {
  LOUPE_CHECK(factor >= 0 && factor < 5, "dSprites factor ", factor, ": expected an index in [0,5)");
  const double lo[5] = {0, 0.5, 0, 0, 0}, hi[5] = {2, 1, 2 * kDspritesPi, 1, 1};
  const int64_t n = dsprites_factor_sizes()[factor];
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(lo[factor] + (hi[factor] - lo[factor]) * i / static_cast<double>(n - 1));
  return v;
}

std::vector<std::string> DSprites::value_names(int64_t factor) const {
  LOUPE_CHECK(factor >= 0 && factor < 5, "dSprites factor ", factor, ": expected an index in [0,5)");
  if (factor == 0) return {"square", "ellipse", "heart"};
  const auto v = dsprites_factor_values(factor);
  return numeric_value_names(v.front(), v.back(), static_cast<int64_t>(v.size()), factor == 1 ? 2 : 3);
}

DSprites::DSprites(DSpritesOptions options) : options_(std::move(options)) {
  label_factor_ = factor_index(options_.label_factor);
}

Batch DSprites::get(const torch::Tensor& indices) const {
  const auto f = factors(indices);
  return {render(f, options_.device).cpu(), f.select(1, label_factor_).clone()};
}

torch::Tensor DSprites::render(const torch::Tensor& factor_vectors, torch::Device device) const {
  check_factors(factor_vectors, factor_sizes(), "dSprites factors");
  const auto f = factor_vectors.to(torch::kCPU).contiguous();
  const auto acc = f.accessor<int64_t, 2>();
  const int64_t b = f.size(0);
  // Per sprite: cos θ, sin θ, 1/half-size, centre (x, y) in pixels, on the host in double.
  std::vector<float> params;
  const auto scale = dsprites_factor_values(1), angle = dsprites_factor_values(2), pos = dsprites_factor_values(3);
  for (int64_t i = 0; i < b; ++i) {
    const double a = angle[acc[i][2]];
    params.insert(params.end(), {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a)),
                                 static_cast<float>(1.0 / (kHalfSize * scale[acc[i][1]])),
                                 static_cast<float>(kFirstCentre + kCentreSpan * pos[acc[i][3]]),
                                 static_cast<float>(kFirstCentre + kCentreSpan * pos[acc[i][4]])});
  }
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const auto p = torch::tensor(params).reshape({b, 5, 1, 1}).to(device);
  const auto c = p.select(1, 0), s = p.select(1, 1), inv = p.select(1, 2);  // [B,1,1]
  const auto centre = torch::arange(kSide, opts) + 0.5;
  const auto dx = centre.reshape({1, 1, kSide}) - p.select(1, 3);
  const auto dy = p.select(1, 4) - centre.reshape({1, kSide, 1});  // sprite y points up; pos_y runs down the rows
  // Rotate the pixel into the sprite's frame (by −θ) and scale to unit half-size.
  const auto x = (dx * c + dy * s) * inv, y = (dy * c - dx * s) * inv;
  auto image = torch::zeros({b, kSide, kSide}, opts);
  const auto shape = f.select(1, 0).to(device);
  for (int64_t k = 0; k < 3; ++k) {
    const auto idx = (shape == k).nonzero().reshape({-1});
    if (idx.numel() > 0)
      image.index_copy_(0, idx, inside(k, x.index_select(0, idx), y.index_select(0, idx)).to(torch::kFloat));
  }
  return image.unsqueeze(1);
}

}  // namespace loupe
