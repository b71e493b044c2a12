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

// Throws a loupe::Error naming `what` if the tensor holds NaN or infinity.
void check_finite(const torch::Tensor& t, const std::string& what);

}  // namespace loupe
