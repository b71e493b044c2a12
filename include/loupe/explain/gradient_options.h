// Options of the pixel-level gradient methods (saliency, Integrated Gradients,
// SmoothGrad); part of ExplainOptions. Defaults follow Captum (IG: 50 Gauss-Legendre
// points, black baseline) and the SmoothGrad paper (50 samples, σ = 15% of the range).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "loupe/explain/baseline.h"

namespace loupe {

// Quadrature of the Integrated Gradients path integral (Captum's `method`).
enum class Integration { GaussLegendre, RiemannLeft, RiemannRight, RiemannMiddle, RiemannTrapezoid };

// "gausslegendre", "riemann_left", "riemann_right", "riemann_middle" or
// "riemann_trapezoid" (Captum's names); anything else is a loupe::Error.
Integration parse_integration(const std::string& text);

struct GradientOptions {
  int64_t steps = 50;                                    // Integrated Gradients: points on the path
  Integration integration = Integration::GaussLegendre;  // Integrated Gradients: quadrature rule
  Baseline baseline = Baseline::Black;                   // Integrated Gradients: where the path starts
  double blur_sigma = 5.0;                               // σ in pixels of the Blur baseline
  torch::Tensor baseline_image;                          // if defined, [C,H,W] or [N,C,H,W]: overrides `baseline`
  int64_t samples = 50;                                  // SmoothGrad: noisy copies per image
  double noise_level = 0.15;                             // SmoothGrad: σ as a fraction of each image's max − min
  uint64_t seed = 0;                                     // SmoothGrad: noise seed (image i uses its own stream)

  // clang-format off
  GradientOptions& set_steps(int64_t v) { steps = v; return *this; }
  GradientOptions& set_integration(Integration v) { integration = v; return *this; }
  GradientOptions& set_baseline(Baseline v) { baseline = v; return *this; }
  GradientOptions& set_blur_sigma(double v) { blur_sigma = v; return *this; }
  GradientOptions& set_baseline_image(torch::Tensor v) { baseline_image = std::move(v); return *this; }
  GradientOptions& set_samples(int64_t v) { samples = v; return *this; }
  GradientOptions& set_noise_level(double v) { noise_level = v; return *this; }
  GradientOptions& set_seed(uint64_t v) { seed = v; return *this; }
  // clang-format on
};

}  // namespace loupe
