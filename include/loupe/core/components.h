// Connected components of label images as tensor ops (any device): every joined
// neighbour pair hooks the larger of its two roots onto the smaller (scatter amin), then
// pointer jumping flattens the forest, until no pair joins two trees. 4-connectivity joins
// edge neighbours; 8-connectivity also diagonal ones (scipy.ndimage.label with a full 3x3
// structure, OpenCV's connectedComponents default, the MVTec AD evaluation's choice).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <utility>

namespace loupe {

enum class Connectivity { kFour, kEight };

// Every pair of neighbouring pixels of an [H,W] grid once, as flat indices {from, to}
// with from < to (int64 [E] each, on `device`).
std::pair<torch::Tensor, torch::Tensor> neighbour_pairs(int64_t height, int64_t width, Connectivity connectivity,
                                                        torch::Device device = torch::kCPU);

// Parents int64 [P] of a forest whose roots point to themselves and every other node to a
// smaller index: each node's root, by pointer jumping.
torch::Tensor flatten_forest(torch::Tensor parent);

// For integer labels [H,W]: int64 [H*W] holding, for each pixel, the smallest pixel index
// of its connected same-label region.
torch::Tensor component_roots(const torch::Tensor& labels, Connectivity connectivity);

// Labels 0..K-1 from component_roots' output, numbered in raster order of each region's
// first pixel; int64 [H,W].
torch::Tensor labels_from_roots(const torch::Tensor& roots, int64_t height, int64_t width);

// The connected regions of a binary mask [H,W] (bool or 0/1): int64 [H,W] with 0 outside
// the mask and 1..K for the regions in raster order of their first pixel, as
// scipy.ndimage.label. Other input is a loupe::Error naming `what`.
torch::Tensor label_regions(const torch::Tensor& mask, Connectivity connectivity = Connectivity::kEight,
                            const char* what = "mask");

}  // namespace loupe
