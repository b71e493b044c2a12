// Internal to the explain layer (and its tests): KernelSHAP's coalition sampler. Not installed.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace loupe {

// Coalitions z [M,K] (float 0/1, neither empty nor full) and their kernel weights [M].
struct Coalitions {
  torch::Tensor masks, weights;
};
Coalitions shap_coalitions(int64_t features, int64_t budget, int64_t exact_max_features, at::Generator& gen);

}  // namespace loupe
