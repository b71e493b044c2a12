#include "loupe/train/augment.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {

namespace F = torch::nn::functional;

namespace {

// Uniform in [low, high] per image, from the global generator.
torch::Tensor uniform(int64_t n, double low, double high) {
  return torch::rand({n}, torch::kDouble).mul(high - low).add(low);
}

// Mirrors the images where `flip` [N] (bool) is set, along `dim`.
torch::Tensor flip_where(const torch::Tensor& images, const torch::Tensor& flip, int64_t dim) {
  const auto mask = flip.to(images.device()).view({-1, 1, 1, 1});
  return torch::where(mask, images.flip({dim}), images);
}

}  // namespace

AugmentOptions no_augmentation() {
  return AugmentOptions().set_rotation_degrees(0).set_shift(0).set_zoom(0).set_brightness(1, 1);
}

void check_augment_options(const AugmentOptions& o) {
  LOUPE_CHECK(std::isfinite(o.rotation_degrees) && o.rotation_degrees >= 0 && o.rotation_degrees <= 180,
              "augmentation rotation ", o.rotation_degrees, ": expected 0 to 180 degrees");
  LOUPE_CHECK(std::isfinite(o.shift) && o.shift >= 0 && o.shift <= 0.5, "augmentation shift ", o.shift,
              ": expected 0 to 0.5 of the side");
  LOUPE_CHECK(std::isfinite(o.zoom) && o.zoom >= 0 && o.zoom < 1, "augmentation zoom ", o.zoom,
              ": expected at least 0 and below 1");
  LOUPE_CHECK(std::isfinite(o.brightness_low) && std::isfinite(o.brightness_high) && o.brightness_low > 0 &&
                  o.brightness_low <= o.brightness_high,
              "augmentation brightness [", o.brightness_low, ", ", o.brightness_high, "]: expected 0 < low <= high");
}

torch::Tensor affine_resample(const torch::Tensor& images, const torch::Tensor& angles, const torch::Tensor& scales,
                              const torch::Tensor& shifts) {
  LOUPE_CHECK(images.defined() && images.dim() == 4 && images.is_floating_point(),
              "augmentation: expected float images [N,C,H,W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  LOUPE_CHECK(angles.numel() == n && scales.numel() == n && shifts.numel() == 2 * n,
              "augmentation: expected one angle, scale and (dx, dy) shift per image (", n, ")");
  LOUPE_CHECK(scales.gt(0).all().item<bool>(), "augmentation: scales must be positive");
  // Output pixel -> input pixel: in = R(-a) (out - t) / s about the centre. In
  // affine_grid's normalised coordinates ([-1, 1] per axis) the off-diagonal terms carry
  // the aspect ratio and t = 2 (dx, dy).
  const auto a = angles.to(torch::kDouble) * (M_PI / 180.0);
  const auto s = scales.to(torch::kDouble);
  const auto c = torch::cos(a) / s, sn = torch::sin(a) / s;
  const double hw = static_cast<double>(h) / static_cast<double>(w);
  const auto m00 = c, m01 = -sn * hw, m10 = sn / hw, m11 = c;
  const auto t = shifts.to(torch::kDouble).view({n, 2}) * 2;
  const auto tx = t.select(1, 0), ty = t.select(1, 1);
  const auto theta =
      torch::stack(
          {torch::stack({m00, m01, -(m00 * tx + m01 * ty)}, 1), torch::stack({m10, m11, -(m10 * tx + m11 * ty)}, 1)}, 1)
          .to(images.device(), images.scalar_type());
  const auto grid = F::affine_grid(theta, {n, images.size(1), h, w}, /*align_corners=*/false);
  return F::grid_sample(
      images, grid,
      F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
}

torch::Tensor augment_images(const torch::Tensor& images, const AugmentOptions& o) {
  check_augment_options(o);
  const int64_t n = images.size(0);
  // Every draw is made whatever the options, in a fixed order, so that switching one
  // transform off does not change the others' random values.
  const auto angles = uniform(n, -o.rotation_degrees, o.rotation_degrees);
  const auto scales = uniform(n, 1 - o.zoom, 1 + o.zoom);
  const auto shifts = torch::stack({uniform(n, -o.shift, o.shift), uniform(n, -o.shift, o.shift)}, 1);
  const auto brightness = uniform(n, o.brightness_low, o.brightness_high);
  const auto flips = torch::rand({2, n}).lt(0.5);
  auto x = images;
  if (o.rotation_degrees > 0 || o.zoom > 0 || o.shift > 0) x = affine_resample(x, angles, scales, shifts);
  if (o.horizontal_flip) x = flip_where(x, flips[0], 3);
  if (o.vertical_flip) x = flip_where(x, flips[1], 2);
  if (o.brightness_low != 1 || o.brightness_high != 1)
    x = (x * brightness.to(x.device(), x.scalar_type()).view({-1, 1, 1, 1})).clamp(0, 1);
  return x;
}

AugmentedDataset::AugmentedDataset(const Dataset& data, AugmentOptions options) : data_(data), options_(options) {
  check_augment_options(options_);
}

Batch AugmentedDataset::get(const torch::Tensor& indices) const {
  Batch batch = data_.get(indices);
  batch.images = augment_images(batch.images, options_);
  return batch;
}

}  // namespace loupe
