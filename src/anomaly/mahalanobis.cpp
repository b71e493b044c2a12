#include "loupe/anomaly/mahalanobis.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {
namespace {

void check_codes(const char* what, const torch::Tensor& x, int64_t latents) {
  LOUPE_CHECK(x.defined() && x.dim() == 2, what, ": expected latent codes [N,L], got ",
              x.defined() ? x.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(latents < 0 || x.size(1) == latents, what, " have ", x.size(1), " latent dimensions; the fit has ",
              latents);
  LOUPE_CHECK(torch::isFloatingType(x.scalar_type()), what, ": expected floating-point codes, got dtype ",
              x.scalar_type());
  LOUPE_CHECK(torch::isfinite(x).all().item<bool>(), what, ": found NaN or infinite values (",
              (~torch::isfinite(x)).sum().item<int64_t>(), " of ", x.numel(), ")");
}

// Ledoit-Wolf weight of the scaled identity for centred samples xc [N,L] (sklearn's
// ledoit_wolf_shrinkage, block size = everything).
double ledoit_wolf_weight(const torch::Tensor& xc) {
  const double n = static_cast<double>(xc.size(0)), p = static_cast<double>(xc.size(1));
  const auto x2 = xc.pow(2);
  const auto trace_terms = x2.sum(0) / n;  // diagonal of S
  const double mu = trace_terms.sum().item<double>() / p;
  const double beta_ = x2.t().mm(x2).sum().item<double>();
  const double delta_ = xc.t().mm(xc).pow(2).sum().item<double>() / (n * n);
  double beta = (beta_ / n - delta_) / (p * n);
  const double delta = (delta_ - 2 * mu * trace_terms.sum().item<double>() + p * mu * mu) / p;
  if (delta <= 0) return 0.0;  // S is already a multiple of the identity
  return std::max(0.0, std::min(beta, delta) / delta);
}

}  // namespace

GaussianFit fit_gaussian(const torch::Tensor& normals, const GaussianFitOptions& options) {
  check_codes("normal latents", normals, -1);
  const int64_t n = normals.size(0), l = normals.size(1);
  LOUPE_CHECK(n >= 2, "normal latents: ", n, " sample(s); expected at least 2 to fit a covariance");
  const auto x = normals.to(torch::kDouble);
  GaussianFit fit;
  fit.mean = x.mean(0);
  const auto xc = x - fit.mean;
  const auto s = xc.t().mm(xc) / static_cast<double>(n);
  switch (options.shrinkage) {
    case Shrinkage::kNone:
      fit.shrinkage = 0;
      break;
    case Shrinkage::kLedoitWolf:
      fit.shrinkage = ledoit_wolf_weight(xc);
      break;
    case Shrinkage::kFixed:
      LOUPE_CHECK(std::isfinite(options.lambda) && options.lambda >= 0 && options.lambda <= 1, "shrinkage lambda ",
                  options.lambda, ": expected a number in [0,1]");
      fit.shrinkage = options.lambda;
      break;
  }
  const double scale = s.trace().item<double>() / static_cast<double>(l);
  fit.covariance = (1 - fit.shrinkage) * s + fit.shrinkage * scale * torch::eye(l, torch::kDouble);
  const auto [values, vectors] = torch::linalg_eigh(fit.covariance);
  const double largest = values.max().item<double>(), smallest = values.min().item<double>();
  const int64_t rank = values.gt(1e-10 * std::max(largest, 0.0)).sum().item<int64_t>();
  LOUPE_CHECK(largest > 0 && smallest > 1e-10 * largest, "normal latents: their covariance is singular (rank ", rank,
              " of ", l, " dimensions, from ", n,
              " samples); use shrinkage (Ledoit-Wolf or a lambda > 0), more normals or fewer latents");
  fit.precision = vectors.mm(torch::diag(1.0 / values)).mm(vectors.t());
  return fit;
}

torch::Tensor mahalanobis_distance(const GaussianFit& fit, const torch::Tensor& x) {
  check_codes("scored latents", x, fit.mean.size(0));
  const auto d = x.to(torch::kCPU, torch::kDouble) - fit.mean;
  return (d.mm(fit.precision) * d).sum(1).clamp_min(0).sqrt();
}

torch::Tensor mahalanobis_to_batch(const torch::Tensor& x, const GaussianFitOptions& options) {
  return mahalanobis_distance(fit_gaussian(x.cpu(), options), x);
}

torch::Tensor latent_z_scores(const GaussianFit& fit, const torch::Tensor& x) {
  check_codes("scored latents", x, fit.mean.size(0));
  return (x.to(torch::kCPU, torch::kDouble) - fit.mean) / fit.covariance.diagonal().sqrt();
}

torch::Tensor most_deviant_dimension(const torch::Tensor& z_scores) {
  check_codes("z-scores", z_scores, -1);
  return z_scores.abs().argmax(1);
}

torch::Tensor counterfactual_latents(const GaussianFit& fit, const torch::Tensor& x, const torch::Tensor& dims) {
  check_codes("latents", x, fit.mean.size(0));
  LOUPE_CHECK(dims.defined() && dims.dim() == 1 && dims.size(0) == x.size(0), "counterfactual dimensions: expected [",
              x.size(0), "], got ", dims.defined() ? dims.sizes() : torch::IntArrayRef{});
  const auto d = dims.to(torch::kCPU, torch::kLong);
  LOUPE_CHECK(d.numel() == 0 || (d.min().item<int64_t>() >= 0 && d.max().item<int64_t>() < x.size(1)),
              "counterfactual dimensions: expected values in [0,", x.size(1), ")");
  auto out = x.clone();
  const auto values = fit.mean.index_select(0, d).to(x.device(), x.scalar_type());
  out.scatter_(1, d.to(x.device()).unsqueeze(1), values.unsqueeze(1));
  return out;
}

}  // namespace loupe
