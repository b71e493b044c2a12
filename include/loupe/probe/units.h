// Units of a tap (DESIGN.md probing workflow): the channels of a feature map [N,C,h,w]
// or the entries of a vector [N,C] (a logit is a unit of the output tap), read in one
// pass up to the tap only (TappedModel::forward_until).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/models/taps.h"

namespace loupe {

// The tap's activations of images [N,C,H,W] (on the model's device) for `units`, as maps
// [N,U,h,w] (a vector tap gives h = w = 1). Gradients flow unless the caller disables them.
torch::Tensor unit_activations(TappedModel& model, const torch::Tensor& images, const std::string& tap,
                               const torch::Tensor& units);

// The number of units at `tap` for inputs of `image_shape` (C,H,W): one forward pass of a
// zero image. An unknown tap is a loupe::Error listing the valid ones.
int64_t unit_count(TappedModel& model, const std::string& tap, const std::vector<int64_t>& image_shape);

// The taps whose activations are feature maps [N,C,h,w] (not vectors), in forward order.
std::vector<std::string> feature_map_taps(TappedModel& model, const std::vector<int64_t>& image_shape);

// units as int64 [U]: every unit when `units` is empty, else each checked to lie in
// [0, count) (a loupe::Error naming the tap and the count otherwise) and not repeated.
torch::Tensor resolve_units(const std::vector<int64_t>& units, int64_t count, const std::string& tap);

}  // namespace loupe
