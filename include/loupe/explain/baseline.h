// Reference images ("baselines") that gradient paths start from and faithfulness curves
// fill removed pixels with: black (zeros, Sundararajan et al.'s default), white, or a
// Gaussian blur of the image (Fong & Vedaldi 2017; RISE's insertion start).
#pragma once

#include <torch/types.h>

#include <string>

#include "loupe/core/blur.h"  // gaussian_blur (radius ceil(3σ), replicated edges)

namespace loupe {

enum class Baseline { Black, White, Blur };

// "black", "white" or "blur"; anything else is a loupe::Error naming the value.
Baseline parse_baseline(const std::string& text);

// The baseline for images [N,C,H,W], same shape, dtype and device. blur_sigma is the
// Gaussian's σ in pixels (kernel radius ceil(3σ), borders replicated); used by Blur only.
torch::Tensor make_baseline(const torch::Tensor& images, Baseline kind, double blur_sigma);

}  // namespace loupe
