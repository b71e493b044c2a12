// Integrated Gradients (Sundararajan et al., ICML 2017): a_c = (x − x′)_c ∫₀¹ dY/dx_c
// (x′ + α(x − x′)) dα, by Captum's default 50-point Gauss-Legendre rule from a black
// baseline. Map: Σ_c a_c when signed, |Σ_c a_c| otherwise (Captum's absolute_value view).
// extras["convergence_delta"] [N] = Σ a − (Y(x) − Y(x′)), Captum's completeness check.
#pragma once

#include <utility>
#include <vector>

#include "loupe/explain/pixel_base.h"

namespace loupe {

class IntegratedGradients : public PixelExplainer {
 public:
  using PixelExplainer::PixelExplainer;
  std::string name() const override { return "integrated_gradients"; }

 protected:
  void validate(const torch::Tensor& images) const override;
  Batch attribute(TappedModel& model, const torch::Tensor& x, int64_t first, const Target& target) override;
  torch::Tensor reduce_channels(const torch::Tensor& attributions) const override;
};

// Points α in [0,1] and weights of the quadrature rule with `steps` points, as Captum's
// approximation_methods; steps < 1 (< 2 for the trapezoid) is a loupe::Error.
std::pair<std::vector<double>, std::vector<double>> integration_points(int64_t steps, Integration method);

}  // namespace loupe
