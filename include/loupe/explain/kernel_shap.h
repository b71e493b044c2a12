// KernelSHAP (Lundberg & Lee, NeurIPS 2017, as SHAP's KernelExplainer) over superpixels
// (options.segments, else segment()); hidden segments take the masker's fill (default:
// the image's mean colour, one background). All 2^K coalitions are enumerated when
// K <= exact_max_features or 2^K − 2 <= samples (exact Shapley values); otherwise, as
// the reference, whole coalition sizes are enumerated while the budget (default
// 2K + 2048) covers them, the rest sampled by the Shapley kernel with antithetic
// (complement) pairs, duplicates merged. Efficiency Σφ = f(x) − f(fill) is exact: one
// variable is eliminated before the weighted least squares (no L1 selection).
// Sampled coalitions come from `seed` afresh for every image, so a map does not depend
// on the batch the image came in.
// weights = φ [K]; map = each pixel's segment φ; extras: "base_value" f(fill), "segments".
#pragma once

#include <ATen/core/Generator.h>

#include "loupe/explain/perturbation.h"

namespace loupe {


class KernelShap : public Explainer {
 public:
  explicit KernelShap(ExplainOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "kernelshap"; }
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 private:
  ExplainOptions options_;
};

}  // namespace loupe
