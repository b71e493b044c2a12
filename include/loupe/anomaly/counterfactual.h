// Latent counterfactuals for outliers (the z-score counterfactual of DESIGN.md workflow 3):
// the morph from an outlier's code to its counterfactual (frames of a straight line in
// latent space, decoded by the caller) and how outliers spread over their most deviant
// dimension. Choice: frames are (1-w)·from + w·to, w = t/(steps-1), so both ends are exact.
#pragma once

#include <torch/types.h>

namespace loupe {

// from, to: floating [M,L] (same shape, finite); steps >= 2. Returns [M,steps,L] in from's
// dtype with frame 0 == from and frame steps-1 == to, bit for bit.
torch::Tensor morph_latents(const torch::Tensor& from, const torch::Tensor& to, int64_t steps);

// dims: integer [M], each in [0, latents). Returns int64 [latents]: how many entries
// name each dimension (e.g. outliers per most deviant dimension).
torch::Tensor outliers_per_dimension(const torch::Tensor& dims, int64_t latents);

}  // namespace loupe
