// Occlusion (Zeiler & Fergus 2014, as Captum's Occlusion): a square window of side
// `window` slides with `stride` (all channels at once; the last window may be clipped
// by the edge, ceil((H−w)/s)+1 positions per axis) and is filled by the masker
// (default: constant fill_value, Captum's baseline 0). map(p) = mean over the windows
// covering p of f(x) − f(x occluded). On the zoo's CNNs each occluded image is computed
// incrementally (PerturbationOptions::incremental, models/incremental.h): every layer
// recomputes only the window's region, several times less work for small windows.
#pragma once

#include "loupe/explain/perturbation.h"

namespace loupe {

class Occlusion : public Explainer {
 public:
  explicit Occlusion(ExplainOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "occlusion"; }
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 private:
  ExplainOptions options_;
};

}  // namespace loupe
