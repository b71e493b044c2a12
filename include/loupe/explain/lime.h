// LIME for images (Ribeiro et al., KDD 2016, as lime_image/lime_base): superpixels
// (options.segments, else segment(image, options.segmentation), quickshift by default),
// `samples` (default 1000) Bernoulli(0.5) masks with the unperturbed sample first,
// hidden segments filled with each segment's mean colour (or any masker), kernel
// sqrt(exp(−d²/w²)) of the cosine distance d to the all-ones mask (w = 0.25), and a
// weighted ridge fit with intercept (alpha = 1; all features kept, no selection). Masks
// come from `seed` afresh for every image, so a map does not depend on its batch.
// weights = coefficients [K]; map = each pixel's segment coefficient. extras:
// "intercept", "r2" (weighted R², lime's `score`), "local_prediction", "segments"
// [H,W]; with top_labels = k, the k largest model outputs are explained in one pass:
// "labels" [k], "label_weights" [k,K], intercept/r2/local_prediction become [k],
// and the map is the top label's.
#pragma once

#include "loupe/explain/perturbation.h"

namespace loupe {


class Lime : public Explainer {
 public:
  explicit Lime(ExplainOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "lime"; }
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 private:
  ExplainOptions options_;
};

}  // namespace loupe
