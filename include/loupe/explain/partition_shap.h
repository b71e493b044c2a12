// Partition SHAP (Owen values; SHAP's PartitionExplainer with an image masker): the
// image is split recursively into rectangles, the longer side halved (spatially only;
// SHAP's image tree also splits channels); each node's credit is the average of its
// two children's marginal gains with the sibling hidden and shown, nodes expanded in
// order of |gain|·weight (ties broken by `seed`) until max_evals (default 500, at least
// 4) is spent (tie-break noise from `seed` afresh per image); unexpanded nodes spread their credit evenly over their pixels, so
// Σ map = f(x) − f(fill) exactly. Hidden pixels: the masker (default: shap's default
// "blur(128,128)", a 128×128 box blur as cv2.blur; Masker::kGaussianBlur, a constant or a
// replacement image on request). map = pixel
// values; extras: "base_value" f(fill). Every mask evaluated is kept on the device
// (max_evals × H × W bytes).
#pragma once

#include "loupe/explain/perturbation.h"

namespace loupe {

class PartitionShap : public Explainer {
 public:
  explicit PartitionShap(ExplainOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "partition"; }
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 private:
  ExplainOptions options_;
};

}  // namespace loupe
