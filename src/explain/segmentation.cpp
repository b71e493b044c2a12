#include "loupe/explain/segmentation.h"

#include <torch/torch.h>

#include <cmath>

#include "explain/segmentation_detail.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"

namespace loupe {

torch::Tensor rgb_to_lab(const torch::Tensor& rgb) {
  LOUPE_CHECK(rgb.defined(), "rgb_to_lab: expected an image rgb, got an undefined tensor");
  LOUPE_CHECK((rgb.dim() == 3 || rgb.dim() == 4) && rgb.size(rgb.dim() - 3) == 3,
              "rgb_to_lab: expected rgb of shape [3,H,W] or [N,3,H,W], got ", rgb.sizes());
  LOUPE_CHECK(rgb.is_floating_point(), "rgb_to_lab: expected floating rgb in [0,1], got ", rgb.scalar_type());
  // skimage.color.rgb2lab: sRGB decoding, the sRGB→XYZ matrix, D65 2° white, CIE f(t).
  const auto linear = torch::where(rgb > 0.04045, ((rgb + 0.055) / 1.055).pow(2.4), rgb / 12.92);
  const auto matrix = torch::tensor({0.412453, 0.357580, 0.180423,  //
                                     0.212671, 0.715160, 0.072169,  //
                                     0.019334, 0.119193, 0.950227},
                                    rgb.options())
                          .view({3, 3});
  const auto white = torch::tensor({0.95047, 1.0, 1.08883}, rgb.options()).view({3, 1, 1});
  const auto xyz = torch::einsum("ij,...jhw->...ihw", {matrix, linear}) / white;
  const auto f = torch::where(xyz > 0.008856, xyz.pow(1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0);
  const int64_t c = rgb.dim() - 3;
  const auto fx = f.select(c, 0), fy = f.select(c, 1), fz = f.select(c, 2);
  return torch::stack({116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)}, c);
}

torch::Tensor grid_segments(int64_t height, int64_t width, int64_t cell, torch::Device device) {
  LOUPE_CHECK(height >= 1 && width >= 1, "grid_segments: expected height and width >= 1, got ", height, "x", width);
  LOUPE_CHECK(cell >= 1, "grid_segments: expected grid_cell >= 1, got ", cell);
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const int64_t columns = (width + cell - 1) / cell;
  const auto row = torch::arange(height, opts).div(cell, "floor").view({-1, 1});
  const auto col = torch::arange(width, opts).div(cell, "floor").view({1, -1});
  return row * columns + col;
}

torch::Tensor segment(const torch::Tensor& image, const SegmentOptions& options) {
  if (options.method == "quickshift") return quickshift(image, options.quickshift);
  if (options.method == "slic") return slic(image, options.slic);
  if (options.method == "grid") {
    const auto rgb = detail::checked_rgb(image, "segment");
    return grid_segments(rgb.size(1), rgb.size(2), options.grid_cell, image.device());
  }
  fail("segment: unknown segmentation method '", options.method, "'; valid methods: quickshift, slic, grid");
}

namespace detail {

torch::Tensor checked_rgb(const torch::Tensor& image, const std::string& who) {
  LOUPE_CHECK(image.defined(), who, ": expected an image [C,H,W], got an undefined tensor");
  LOUPE_CHECK(image.dim() == 3, who, ": expected image of shape [C,H,W] (one image, C = 1 or 3), got ", image.sizes());
  LOUPE_CHECK(image.size(0) == 1 || image.size(0) == 3, who, ": expected image with 1 or 3 channels, got ",
              image.size(0), " channels (shape ", image.sizes(), ")");
  LOUPE_CHECK(image.size(1) >= 1 && image.size(2) >= 1, who, ": expected a non-empty image, got shape ", image.sizes());
  LOUPE_CHECK(image.is_floating_point(), who, ": expected a floating image in [0,1], got ", image.scalar_type());
  check_finite(image, who + ": image");
  // float64 images are kept in float64 (exact comparisons in tests); others use float32.
  auto rgb = image.detach().to(image.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat);
  return rgb.size(0) == 1 ? rgb.expand({3, -1, -1}).contiguous() : rgb.contiguous();
}

}  // namespace detail
}  // namespace loupe
