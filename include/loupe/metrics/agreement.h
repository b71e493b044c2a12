// Agreement between attribution maps, as pure functions: binarise a map (by value, by
// its top k% of pixels, or by Otsu's method as skimage's threshold_otsu), IoU of two
// binary maps, and the pointing game (Zhang et al., ECCV 2016). Maps are [H,W] or
// [N,H,W]; results are per map. Choices: IoU of two empty masks is 1 (they agree);
// top-k% keeps exactly round(k/100·H·W) pixels, ties going to the lower index.
#pragma once

#include <torch/types.h>

namespace loupe {

// How to binarise a map.
struct MapThreshold {
  enum class Kind { Value, TopPercent, Otsu };
  Kind kind = Kind::Otsu;
  double value = 0;  // the threshold (Value) or the percent of pixels kept (TopPercent)

  static MapThreshold at_value(double v) { return {Kind::Value, v}; }
  static MapThreshold top_percent(double percent) { return {Kind::TopPercent, percent}; }
  static MapThreshold otsu() { return {Kind::Otsu, 0}; }
};

// map >= value, bool of the map's shape.
torch::Tensor threshold_by_value(const torch::Tensor& maps, double value);
// The round(percent/100·H·W) highest pixels of each map (percent in [0,100]).
torch::Tensor threshold_top_percent(const torch::Tensor& maps, double percent);
// Otsu's threshold per map (double [N], or 0-d for one map) on a `bins`-bin histogram
// over [min,max]: the cut maximising the between-class variance, returned as the upper
// edge of the last background bin (skimage returns that bin's centre, which can put the
// top of the background in the foreground); a constant map's threshold is its value.
torch::Tensor otsu_threshold(const torch::Tensor& maps, int64_t bins = 256);
// map > otsu_threshold(map).
torch::Tensor threshold_otsu(const torch::Tensor& maps, int64_t bins = 256);
torch::Tensor binarize(const torch::Tensor& maps, const MapThreshold& threshold);

// |A ∩ B| / |A ∪ B| per mask pair (bool or 0/1 masks of one shape), double [N] or 0-d.
torch::Tensor iou(const torch::Tensor& masks_a, const torch::Tensor& masks_b);
// IoU after binarising both maps the same way.
torch::Tensor map_iou(const torch::Tensor& maps_a, const torch::Tensor& maps_b, const MapThreshold& threshold);

// Whether each map's maximum (the first in row-major order) lies within `tolerance`
// pixels (Euclidean; the paper uses 15) of its mask; an empty mask is a miss. bool [N] or 0-d.
torch::Tensor pointing_game_hits(const torch::Tensor& maps, const torch::Tensor& masks, double tolerance = 0);
// The hit rate over all maps.
double pointing_game_accuracy(const torch::Tensor& maps, const torch::Tensor& masks, double tolerance = 0);

}  // namespace loupe
