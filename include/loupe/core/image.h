// Image files: PNG (8-bit gray, gray+alpha, RGB, RGBA; read and write) via libpng
// and JPEG (read) via libjpeg. In memory an image is a float tensor [C,H,W] in [0,1].
#pragma once

#include <string>

#include <torch/types.h>

#include "loupe/core/fs.h"

namespace loupe {

// Reads a PNG or JPEG (chosen by content, not extension) as float [C,H,W] in [0,1].
// channels: 0 keeps the file's channels; 1 (gray), 3 (RGB) or 4 (RGBA) converts.
// Missing, truncated or corrupt files are a loupe::Error naming the path.
torch::Tensor read_image(const fs::path& path, int channels = 0);
torch::Tensor decode_image(const std::string& bytes, const std::string& name, int channels = 0);

// Encodes float [C,H,W] in [0,1] (values clamped; NaN is an error) or uint8 [C,H,W],
// or [H,W] (gray), C in {1,2,3,4}, any device, as an 8-bit PNG.
std::string encode_png(const torch::Tensor& image);
// Writes encode_png(image) atomically.
void write_png(const fs::path& path, const torch::Tensor& image);

// Float values in [0,1] (clamped) → uint8 0..255, rounded to nearest: how write_png stores
// pixels, so a uint8 image written and read back is unchanged.
torch::Tensor to_uint8_image(const torch::Tensor& unit_float);

// Resizes float [C,H,W] to [C,height,width]: area averaging when no side grows
// (antialiased, like PIL's and torchvision's antialias=True downsizing), bilinear with
// align_corners = false otherwise; values clamped to [0,1].
torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width);

// How an image file becomes a model input: the one loader of the CLI, the image-folder
// dataset and the studies.
struct ImageLoadOptions {
  int channels = 3;                 // 1 (gray, by luma) or 3 (RGB; gray replicated)
  int64_t size = 0;                 // resize to size x size; 0 = keep the file's size
  bool centre_crop = false;         // crop the centred square first (keeps the aspect ratio)
  bool composite_on_white = false;  // alpha blended onto white (scikit-image's rgba2rgb); else
                                    // dropped, as PIL's convert("RGB") does
  // clang-format off
  ImageLoadOptions& set_channels(int v) { channels = v; return *this; }
  ImageLoadOptions& set_size(int64_t v) { size = v; return *this; }
  ImageLoadOptions& set_centre_crop(bool v) { centre_crop = v; return *this; }
  ImageLoadOptions& set_composite_on_white(bool v) { composite_on_white = v; return *this; }
  // clang-format on
};
// Float [channels, H, W] in [0,1]; errors name the path.
torch::Tensor load_image(const fs::path& path, const ImageLoadOptions& options);

// Throws a loupe::Error naming `what` if the tensor holds NaN or infinity.
void check_finite(const torch::Tensor& t, const std::string& what);

}  // namespace loupe
