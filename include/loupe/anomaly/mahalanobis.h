// Latent-space outlier scores: the Mahalanobis distance of encoder means to a Gaussian
// fitted on the scored batch itself or on a reference set of normals, per-dimension
// z-scores, the most deviant dimension and the counterfactual code that resets it to the
// normal mean. Choices: the covariance is the maximum-likelihood one (divide by N);
// shrinkage pulls it toward (tr S / L) I, with Ledoit & Wolf's (2004) optimal weight
// (as sklearn.covariance.ledoit_wolf) or a given lambda. The robust fit is the Minimum
// Covariance Determinant (Rousseeuw & Van Driessen's FastMCD, as sklearn.covariance.MinCovDet):
// the h-subset whose covariance has the smallest determinant, found as scikit-learn does for
// N <= 500: two concentration steps from each of `trials` random h-subsets, then the best
// 10 concentrated to convergence (at most 30 steps); its covariance scaled for consistency
// by median(d^2) / chi2_L(0.5); then the samples with d^2 below chi2_L(0.975) refitted as
// above. The starts are h-subsets as scikit-learn's (the FastMCD paper draws (L+1)-subsets,
// loupe 0.1 did too plus the classical fit: its raw fits were tighter and kept fewer samples,
// 251 where MinCovDet keeps 258-261); random draws differ from NumPy's, so the support can
// differ by a few samples as MinCovDet's own does across random_state. Above N = 500
// scikit-learn first searches disjoint subsets; loupe searches the whole set. Outliers in the scored batch then cannot inflate the covariance that
// is meant to describe the normals.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace loupe {

enum class Shrinkage { kNone, kLedoitWolf, kFixed };

struct GaussianFitOptions {
  Shrinkage shrinkage = Shrinkage::kNone;
  double lambda = 0.1;          // the weight toward the scaled identity with Shrinkage::kFixed, in [0,1]
  bool robust = false;          // Minimum Covariance Determinant instead of all samples
  double support_fraction = 0;  // h / N for the robust fit, in (0,1]; 0 = (N + L + 1) / 2N
  int64_t trials = 30;          // random h-subset starts of the robust fit (scikit-learn's 30)
  uint64_t seed = 0;            // draws those starts
  // clang-format off
  GaussianFitOptions& set_shrinkage(Shrinkage v) { shrinkage = v; return *this; }
  GaussianFitOptions& set_lambda(double v) { lambda = v; return *this; }
  GaussianFitOptions& set_robust(bool v) { robust = v; return *this; }
  GaussianFitOptions& set_support_fraction(double v) { support_fraction = v; return *this; }
  GaussianFitOptions& set_trials(int64_t v) { trials = v; return *this; }
  GaussianFitOptions& set_seed(uint64_t v) { seed = v; return *this; }
  // clang-format on
};

struct GaussianFit {
  torch::Tensor mean;        // double [L]
  torch::Tensor covariance;  // double [L,L], after shrinkage
  torch::Tensor precision;   // double [L,L], its inverse
  double shrinkage = 0;      // the weight used
  torch::Tensor support;     // bool [N]: the normals the final fit used (all but the rejected, if robust)
};

// Fits the normals [N,L] (N >= 2, finite; robust: N > L + 1). A singular covariance without
// shrinkage is a loupe::Error that says so and suggests shrinkage.
GaussianFit fit_gaussian(const torch::Tensor& normals, const GaussianFitOptions& options = GaussianFitOptions());

// sqrt((x - mean)^T precision (x - mean)) per row of x [M,L]: double [M].
torch::Tensor mahalanobis_distance(const GaussianFit& fit, const torch::Tensor& x);
// The distance of each row of x to a Gaussian fitted on x itself.
torch::Tensor mahalanobis_to_batch(const torch::Tensor& x, const GaussianFitOptions& options = GaussianFitOptions());

// (x - mean) / std per dimension against the fit's (shrunk) diagonal: double [M,L].
torch::Tensor latent_z_scores(const GaussianFit& fit, const torch::Tensor& x);
// argmax_l |z_l| per row of z-scores [M,L]: int64 [M].
torch::Tensor most_deviant_dimension(const torch::Tensor& z_scores);
// x [M,L] with x[i, dims[i]] replaced by the normal mean of that dimension (x's dtype).
torch::Tensor counterfactual_latents(const GaussianFit& fit, const torch::Tensor& x, const torch::Tensor& dims);

}  // namespace loupe
