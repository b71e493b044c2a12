// The Shapes3D ray caster behind Shapes3D::render (internal to the data layer and its tests).
#pragma once

#include <torch/types.h>

#include "loupe/data/shapes3d.h"

namespace loupe::detail {

// Renders factor vectors int64 [B,6] as float [B,3,H,W] on `device`. The fast path
// (exhaustive = false) renders a few images at a time on the CPU (so the working set
// stays in cache) and intersects the object only with rays through its bounding sphere,
// shadow rays only from floor and wall; exhaustive = true intersects every primary and
// shadow ray with the object in one pass: the slow reference the tests compare against.
torch::Tensor render_shapes3d(const Shapes3DOptions& options, const torch::Tensor& factors, torch::Device device,
                              bool exhaustive);

}  // namespace loupe::detail
