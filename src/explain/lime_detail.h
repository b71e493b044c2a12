// Internal to the explain layer (and its tests): LIME's weighted ridge fit. Not installed.
#pragma once

#include <torch/types.h>

namespace loupe {

// Weighted ridge regression with an unpenalised intercept (as scikit-learn's Ridge with
// sample_weight): X [n,K], y [n,T], w [n]. coef [T,K], intercept/r2 [T] (weighted R²).
struct RidgeFit {
  torch::Tensor coef, intercept, r2;
};
RidgeFit weighted_ridge(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w, double alpha);

}  // namespace loupe
