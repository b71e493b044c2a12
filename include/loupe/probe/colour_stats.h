// How colourful an image is, as numbers: the mean HSV saturation, and the palette colour
// nearest to its saturation-weighted mean colour (does a class's visualisation wear the
// class's colour?).
#pragma once

#include <torch/types.h>

#include <array>
#include <vector>

namespace loupe {

// images float [N,3,H,W] in [0,1] → double [N]: the mean over pixels of (max − min)/max of
// the channels (0 where max = 0).
torch::Tensor mean_saturation(const torch::Tensor& images);

// images float [N,3,H,W] → double [N,P]: the distance from the image's mean chromaticity
// (rgb / (r+g+b), each pixel weighted by its saturation × value, so gray and black pixels
// do not count) to each palette colour's chromaticity. Colours that differ only in
// brightness (green and dark green) are equally near.
torch::Tensor palette_distances(const torch::Tensor& images, const std::vector<std::array<float, 3>>& palette);
// The nearest palette colour of each image (the first of equally near ones): int64 [N].
torch::Tensor nearest_palette_colour(const torch::Tensor& images, const std::vector<std::array<float, 3>>& palette);

}  // namespace loupe
