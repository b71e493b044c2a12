// Classification metrics as pure functions over tensors: confusion matrix and accuracy.
// Inputs are validated up front; errors name the sizes, dtype or values seen.
#pragma once

#include <torch/types.h>

namespace loupe {

// Confusion matrix int64 [K,K] (rows = true class, columns = predicted) of integer
// labels and predictions [N] (any integer dtype) with values in [0,K).
torch::Tensor confusion_matrix(const torch::Tensor& labels, const torch::Tensor& predictions, int64_t num_classes);

// Fraction of matching entries; 0 for empty inputs.
double accuracy(const torch::Tensor& labels, const torch::Tensor& predictions);

}  // namespace loupe
