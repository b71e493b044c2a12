#include "loupe/explain/integrated_gradients.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// Gauss-Legendre nodes and weights on [-1,1] by Newton's method on P_n.
void gauss_legendre(int64_t n, std::vector<double>& nodes, std::vector<double>& weights) {
  const double pi = std::acos(-1.0);
  nodes.assign(n, 0.0);
  weights.assign(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double x = std::cos(pi * (i + 0.75) / (n + 0.5));
    double derivative = 1;
    for (int iteration = 0; iteration < 100; ++iteration) {
      double p = 1, previous = 0;  // P_k(x), P_{k-1}(x)
      for (int64_t k = 1; k <= n; ++k) {
        const double next = ((2 * k - 1) * x * p - (k - 1) * previous) / k;
        previous = p;
        p = next;
      }
      derivative = n * (x * p - previous) / (x * x - 1);
      const double dx = p / derivative;
      x -= dx;
      if (std::abs(dx) < 1e-15) break;
    }
    nodes[n - 1 - i] = x;  // ascending
    weights[n - 1 - i] = 2 / ((1 - x * x) * derivative * derivative);
  }
}

}  // namespace

Integration parse_integration(const std::string& text) {
  if (text == "gausslegendre") return Integration::GaussLegendre;
  if (text == "riemann_left") return Integration::RiemannLeft;
  if (text == "riemann_right") return Integration::RiemannRight;
  if (text == "riemann_middle") return Integration::RiemannMiddle;
  if (text == "riemann_trapezoid") return Integration::RiemannTrapezoid;
  fail("integration method '", text,
       "' is unknown; expected gausslegendre, riemann_left, riemann_right, riemann_middle or riemann_trapezoid");
}

std::pair<std::vector<double>, std::vector<double>> integration_points(int64_t steps, Integration method) {
  LOUPE_CHECK(steps >= 1, "integrated_gradients steps ", steps, ": expected at least 1");
  std::vector<double> alphas(steps), weights(steps, 1.0 / steps);
  switch (method) {
    case Integration::GaussLegendre:
      gauss_legendre(steps, alphas, weights);
      for (int64_t i = 0; i < steps; ++i) {
        alphas[i] = 0.5 * alphas[i] + 0.5;
        weights[i] *= 0.5;
      }
      break;
    case Integration::RiemannLeft:
      for (int64_t i = 0; i < steps; ++i) alphas[i] = static_cast<double>(i) / steps;
      break;
    case Integration::RiemannRight:
      for (int64_t i = 0; i < steps; ++i) alphas[i] = static_cast<double>(i + 1) / steps;
      break;
    case Integration::RiemannMiddle:
      for (int64_t i = 0; i < steps; ++i) alphas[i] = (i + 0.5) / steps;
      break;
    case Integration::RiemannTrapezoid:
      LOUPE_CHECK(steps >= 2, "integrated_gradients steps ", steps, ": the trapezoid rule needs at least 2");
      for (int64_t i = 0; i < steps; ++i) {
        alphas[i] = static_cast<double>(i) / (steps - 1);
        weights[i] = (i == 0 || i == steps - 1 ? 0.5 : 1.0) / (steps - 1);
      }
      break;
  }
  return {alphas, weights};
}

void IntegratedGradients::validate(const torch::Tensor& images) const {
  const auto& o = options().gradient;
  integration_points(o.steps, o.integration);
  if (!o.baseline_image.defined()) return;
  const auto& b = o.baseline_image;
  const bool per_image = b.dim() == 4 && b.sizes() == images.sizes();
  const bool shared = b.dim() == 3 && b.sizes() == images.sizes().slice(1);
  LOUPE_CHECK(per_image || shared, "integrated_gradients baseline image: expected [C,H,W] or ", images.sizes(),
              " to match the images, got ", b.sizes());
  check_images(b.dim() == 3 ? b.unsqueeze(0) : b, "integrated_gradients baseline image");
}

PixelExplainer::Batch IntegratedGradients::attribute(TappedModel& model, const torch::Tensor& x, int64_t first,
                                                     const Target& target) {
  const auto& o = options().gradient;
  torch::Tensor baseline;
  if (!o.baseline_image.defined()) {
    baseline = make_baseline(x, o.baseline, o.blur_sigma);
  } else {
    const auto b = o.baseline_image.to(x.device(), torch::kFloat);
    baseline = b.dim() == 3 ? b.unsqueeze(0).expand_as(x) : b.slice(0, first, first + x.size(0));
  }
  const auto [alphas, weights] = integration_points(o.steps, o.integration);
  const auto path = x - baseline;
  auto integral = torch::zeros_like(x);
  for (size_t s = 0; s < alphas.size(); ++s) {
    integral += weights[s] * input_gradient(model, baseline + alphas[s] * path, target, first).grads;
  }
  Batch batch;
  batch.attributions = path * integral;
  batch.scores = target_scores(model, x, target, first);
  const auto completeness = batch.scores - target_scores(model, baseline, target, first);
  batch.extras["convergence_delta"] = batch.attributions.sum({1, 2, 3}) - completeness;
  batch.evaluations = x.size(0) * (o.steps + 2);
  return batch;
}

torch::Tensor IntegratedGradients::reduce_channels(const torch::Tensor& attributions) const {
  const auto total = attributions.sum(1);
  return options().signed_maps ? total : total.abs();
}

}  // namespace loupe
