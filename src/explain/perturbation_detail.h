// Internal to the explain layer (and its tests): the perturbation engine's helpers shared by its solvers. Not
// installed.
#pragma once

#include <torch/types.h>

#include <string>

#include "loupe/explain/perturbation_options.h"

namespace loupe {

// Number of features of an int64 label map [H,W] for an image of size H×W (labels in
// [0,K), K = max + 1); errors name `what`.
int64_t check_label_map(const torch::Tensor& labels, int64_t height, int64_t width, const std::string& what);
// The superpixels of image `index` [C,H,W]: options.segments if set, else segment().
torch::Tensor image_segments(const torch::Tensor& image, const PerturbationOptions& options, int64_t index);
// Gaussian blur of [C,H,W] with a k×k kernel (replicated borders).
torch::Tensor gaussian_blur_kernel(const torch::Tensor& image, int64_t kernel_size);
// Each pixel replaced by its segment's mean colour.
torch::Tensor segment_mean(const torch::Tensor& image, const torch::Tensor& labels);
// The fill image [C,H,W] of image `index` for the chosen masker (kAuto → fallback).
torch::Tensor masker_fill(const torch::Tensor& image, const PerturbationOptions& options, Masker fallback,
                          int64_t index, const torch::Tensor& labels = {});

}  // namespace loupe
