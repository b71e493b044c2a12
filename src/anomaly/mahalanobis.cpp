#include "loupe/anomaly/mahalanobis.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

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

// The q-quantile of the chi-squared distribution with `dof` degrees of freedom: bisection
// on its CDF P(dof/2, x/2) (the regularised lower incomplete gamma).
double chi2_quantile(int64_t dof, double q) {
  const auto a = torch::tensor(static_cast<double>(dof) / 2, torch::kDouble);
  const auto cdf = [&](double x) { return torch::igamma(a, torch::tensor(x / 2, torch::kDouble)).item<double>(); };
  double lo = 0, hi = std::max<double>(1.0, static_cast<double>(dof));
  while (cdf(hi) < q) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (cdf(mid) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Mean and maximum-likelihood covariance of the rows `subset` of x, its log-determinant
// and every row's squared distance to it (through the pseudo-inverse, so that a singular
// subset still ranks the rows).
struct SubsetFit {
  torch::Tensor mean, covariance, d2, subset;
  double logdet = 0;
};

SubsetFit fit_subset(const torch::Tensor& x, const torch::Tensor& subset) {
  SubsetFit f;
  f.subset = subset;
  const auto rows = x.index_select(0, subset);
  f.mean = rows.mean(0);
  const auto c = rows - f.mean;
  f.covariance = c.t().mm(c) / static_cast<double>(rows.size(0));
  const auto [values, vectors] = torch::linalg_eigh(f.covariance);
  const double largest = std::max(values.max().item<double>(), 0.0);
  const auto kept = values.gt(1e-12 * largest);
  f.logdet = kept.all().item<bool>() ? values.log().sum().item<double>() : -INFINITY;
  const auto inverse = torch::where(kept, 1.0 / values, torch::zeros_like(values));
  const auto d = (x - f.mean).mm(vectors);
  f.d2 = (d.pow(2) * inverse).sum(1);
  return f;
}

// The h rows closest to a fit, in index order.
torch::Tensor closest_rows(const SubsetFit& f, int64_t h) {
  return std::get<0>(std::get<1>(f.d2.topk(h, 0, /*largest=*/false)).sort());
}

// Concentration steps: refit on the h closest rows while the determinant decreases
// (at most `steps` refits; the first is always taken, so the result is an h-subset fit).
SubsetFit concentrate(const torch::Tensor& x, SubsetFit f, int64_t h, int steps) {
  f = fit_subset(x, closest_rows(f, h));
  for (int s = 1; s < steps; ++s) {
    auto next = fit_subset(x, closest_rows(f, h));
    if (!(next.logdet < f.logdet - 1e-12 * std::max(1.0, std::abs(f.logdet)))) break;
    f = std::move(next);
  }
  return f;
}

// FastMCD's search for the minimum-determinant h-subset, then sklearn's consistency
// correction and reweighting: returns the rows kept (bool [N]).
torch::Tensor mcd_support(const torch::Tensor& x, const GaussianFitOptions& o) {
  const int64_t n = x.size(0), l = x.size(1);
  LOUPE_CHECK(o.support_fraction == 0 || (o.support_fraction > 0 && o.support_fraction <= 1),
              "robust fit: support fraction ", o.support_fraction, ": expected a number in (0,1]");
  LOUPE_CHECK(o.trials >= 1, "robust fit: ", o.trials, " random starts; expected 1 or more");
  const int64_t h = o.support_fraction > 0 ? static_cast<int64_t>(std::ceil(o.support_fraction * n))
                                           : static_cast<int64_t>(std::ceil(0.5 * (n + l + 1)));
  LOUPE_CHECK(n > l + 1, "normal latents: a robust fit of ", l, " dimensions needs more than ", l + 1, " samples; got ",
              n);
  LOUPE_CHECK(h > l && h <= n, "robust fit: support fraction ", o.support_fraction, " keeps ", h, " of ", n,
              " samples; expected more than ", l, " (the dimensions)");
  // As scikit-learn's fast_mcd (n <= 500): `trials` random h-subsets, two concentration
  // steps each, then the 10 with the smallest determinant concentrated to convergence.
  // (Rousseeuw & Van Driessen start from (L+1)-subsets; scikit-learn's h-subsets keep
  // more samples: see the header.)
  std::vector<SubsetFit> starts;
  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t t = 0; t < o.trials; ++t) {
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = 0; i < h; ++i)  // a partial Fisher-Yates shuffle draws h distinct rows
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(i + static_cast<int64_t>(rng() % (n - i)))]);
    std::vector<int64_t> rows(order.begin(), order.begin() + h);
    std::sort(rows.begin(), rows.end());
    starts.push_back(concentrate(x, fit_subset(x, torch::tensor(rows, torch::kLong)), h, 2));
  }
  std::stable_sort(starts.begin(), starts.end(),
                   [](const SubsetFit& a, const SubsetFit& b) { return a.logdet < b.logdet; });
  starts.resize(std::min<size_t>(starts.size(), 10));
  SubsetFit best;
  bool have = false;
  for (auto& s : starts) {
    auto f = concentrate(x, std::move(s), h, 30);
    if (!have || f.logdet < best.logdet) best = std::move(f), have = true;
  }
  LOUPE_CHECK(std::isfinite(best.logdet), "normal latents: ", h, " of them lie in a lower-dimensional subspace, so ",
              "their covariance is singular; use fewer latents or drop the robust fit");
  const double correction = best.d2.quantile(0.5).item<double>() / chi2_quantile(l, 0.5);
  return (best.d2 / correction).lt(chi2_quantile(l, 0.975));
}

GaussianFit fit_classical(const torch::Tensor& normals, const GaussianFitOptions& options) {
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
  fit.support = torch::ones({n}, torch::kBool);
  return fit;
}

}  // namespace

GaussianFit fit_gaussian(const torch::Tensor& normals, const GaussianFitOptions& options) {
  check_codes("normal latents", normals, -1);
  if (!options.robust) return fit_classical(normals, options);
  const auto x = normals.to(torch::kCPU, torch::kDouble);
  const auto support = mcd_support(x, options);
  auto fit = fit_classical(x.index({support}), options);
  fit.support = support;
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
