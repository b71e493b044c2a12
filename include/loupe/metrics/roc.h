// ROC curve and the area under it for scores where higher means "positive" (anomalous).
// AUROC is exact with ties: the Mann-Whitney statistic with tied pairs counted 1/2,
// i.e. P(score_pos > score_neg) + P(equal)/2, which equals the trapezoidal area of the
// curve through every distinct threshold (sklearn's roc_auc_score).
#pragma once

#include <torch/types.h>

namespace loupe {

struct RocCurve {
  torch::Tensor fpr, tpr;    // double [T+1], from (0,0) to (1,1)
  torch::Tensor thresholds;  // double [T+1]: positive iff score >= threshold; the first is +inf
};

// scores [N] (finite), labels [N] (bool or 0/1 integers) with both classes present.
RocCurve roc_curve(const torch::Tensor& scores, const torch::Tensor& labels);
double auroc(const torch::Tensor& scores, const torch::Tensor& labels);

}  // namespace loupe
