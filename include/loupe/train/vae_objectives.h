// VAE objectives: VAE, beta-VAE (Higgins et al. 2017), beta-TCVAE (Chen et al. 2018)
// and the capacity-annealed VAE (Burgess et al. 2018). Every term is a batch mean of a
// per-image sum (recon summed over pixels, KL over latents), as in disentanglement_lib.
//
// beta-TCVAE: KL = MI + TC + dimKL (index-code mutual information, total correlation,
// dimension-wise KL), with
//   loss = recon + alpha*MI + w_tc*beta*TC + w_kl*dimKL,
// where the annealed weight gamma(n) = min(n/N, 1)*gamma_max multiplies TC (w_tc =
// gamma(n), w_kl = 1) by default, reading the workflow as "the TC penalty is ramped
// in"; AnnealTerm::kDimensionKl instead gives w_tc = 1, w_kl = gamma(n), as
// disentangling-vae's BtcvaeLoss does. log q(z) and log prod_j q(z_j) are estimated
// on the minibatch (see TcEstimator).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "loupe/models/vae.h"
#include "loupe/train/objective.h"

namespace loupe {

// Per-image reconstruction negative log-likelihood [N]: Bernoulli = BCE with logits
// summed over pixels; Gaussian = squared error of sigmoid(logits) summed over pixels
// (unit variance, constants dropped). x in [0,1], same shape as logits.
torch::Tensor reconstruction_loss(const torch::Tensor& logits, const torch::Tensor& x, Likelihood likelihood);

// KL(N(mu, exp(logvar)) || N(0,1)) per dimension, averaged over the batch: [L].
// 0.5 * (mu^2 + exp(logvar) - 1 - logvar).
torch::Tensor kl_per_dimension(const torch::Tensor& mu, const torch::Tensor& logvar);

// How q(z(x_i)) = 1/N sum_n q(z|x_n) is estimated from the M samples of a batch.
enum class TcEstimator {
  // Stratified: weight 1/N on the sample's own posterior and (N-1)/(N(M-1)) on each
  // other one (weights sum to 1; exact when the batch is the whole dataset). TC -> 0 for
  // independent latents and MI <= log N. The default.
  kStratified,
  // Minibatch weighted sampling as in Chen et al. and their code: every weight 1/(NM).
  // Compared with weights 1/M the reported values carry constant offsets, MI + log N,
  // TC + (L-1) log N, dimKL - L log N (their sum, the KL, is unchanged), so a factorised
  // code reports TC ~ (L-1) log N rather than 0.
  kMinibatchWeighted,
};

struct TcTerms {
  torch::Tensor mutual_information;  // scalar: E[log q(z|x) - log q(z)]
  torch::Tensor total_correlation;   // scalar: E[log q(z) - sum_j log q(z_j)]
  torch::Tensor dimension_kl;        // scalar: E[sum_j log q(z_j) - log p(z)]
};

// z, mu, logvar [M,L] (z sampled from N(mu, exp(logvar)) row-wise); dataset_size N >= M.
TcTerms tc_decomposition(const torch::Tensor& z, const torch::Tensor& mu, const torch::Tensor& logvar,
                         int64_t dataset_size, TcEstimator estimator = TcEstimator::kStratified);

// gamma(n) = min(n/steps, 1) * max_value; steps = 0 means no warm-up (max_value).
double annealed_weight(int64_t step, int64_t steps, double max_value);

enum class VaeObjectiveKind { kVae, kBetaVae, kBetaTcVae, kCapacity };
// "vae", "beta_vae", "beta_tcvae", "capacity"; other text is a loupe::Error.
std::string objective_name(VaeObjectiveKind kind);
VaeObjectiveKind parse_objective(const std::string& name);

enum class AnnealTerm { kTotalCorrelation, kDimensionKl };

struct VaeObjectiveOptions {
  VaeObjectiveKind kind = VaeObjectiveKind::kBetaTcVae;
  Likelihood likelihood = Likelihood::kBernoulli;
  double beta = 6.0;         // beta-VAE KL weight; beta-TCVAE TC weight
  double alpha = 1.0;        // beta-TCVAE MI weight
  double gamma_max = 1.0;    // beta-TCVAE annealed weight's final value
  int64_t anneal_steps = 0;  // N of gamma(n); 0 = gamma_max from the start
  AnnealTerm anneal_term = AnnealTerm::kTotalCorrelation;
  TcEstimator estimator = TcEstimator::kStratified;
  int64_t dataset_size = 0;         // N of the TC estimate; 0 = the batch size
  double capacity_gamma = 1000.0;   // capacity VAE: weight of |KL - C|
  double capacity_max = 25.0;       // C_max in nats
  int64_t capacity_steps = 100000;  // C grows linearly from 0 to C_max over this many steps
  // clang-format off
  VaeObjectiveOptions& set_kind(VaeObjectiveKind v) { kind = v; return *this; }
  VaeObjectiveOptions& set_likelihood(Likelihood v) { likelihood = v; return *this; }
  VaeObjectiveOptions& set_beta(double v) { beta = v; return *this; }
  VaeObjectiveOptions& set_alpha(double v) { alpha = v; return *this; }
  VaeObjectiveOptions& set_gamma_max(double v) { gamma_max = v; return *this; }
  VaeObjectiveOptions& set_anneal_steps(int64_t v) { anneal_steps = v; return *this; }
  VaeObjectiveOptions& set_anneal_term(AnnealTerm v) { anneal_term = v; return *this; }
  VaeObjectiveOptions& set_estimator(TcEstimator v) { estimator = v; return *this; }
  VaeObjectiveOptions& set_dataset_size(int64_t v) { dataset_size = v; return *this; }
  VaeObjectiveOptions& set_capacity_gamma(double v) { capacity_gamma = v; return *this; }
  VaeObjectiveOptions& set_capacity_max(double v) { capacity_max = v; return *this; }
  VaeObjectiveOptions& set_capacity_steps(int64_t v) { capacity_steps = v; return *this; }
  // clang-format on
};

// One evaluation of the objective. Scalars as doubles for logging; NaN where a term
// is not part of the objective (MI/TC/dimKL outside beta-TCVAE, capacity outside the
// capacity VAE).
struct VaeLoss {
  torch::Tensor total;  // scalar, differentiable
  double loss = 0, reconstruction = 0, kl = 0;
  double mutual_information = 0, total_correlation = 0, dimension_kl = 0;
  double weight = 0;    // gamma(n) for beta-TCVAE, beta for beta-VAE, 1 for VAE, gamma for capacity
  double capacity = 0;  // C(n)
};

// `step` is the 0-based optimiser step n (drives gamma(n) and C(n)).
VaeLoss vae_loss(const VaeOutput& out, const torch::Tensor& x, const VaeObjectiveOptions& options, int64_t step);

// Throws a loupe::Error naming the first out-of-range option.
void check_objective_options(const VaeObjectiveOptions& options);

// vae_loss as an Objective for the training loop: step n = the run's step; logs every
// term of VaeLoss by its field name ("loss", "reconstruction", "kl", ...; NaN terms
// outside the objective), one value per step.
class VaeObjective : public Objective {
 public:
  VaeObjective(VaeImpl& vae, VaeObjectiveOptions options) : vae_(vae), options_(options) {}
  torch::Tensor loss(const Batch& batch, const TrainContext& ctx, StepLog& log) override;
  std::string progress(const RecordAccumulator& record) const override;

 private:
  VaeImpl& vae_;
  VaeObjectiveOptions options_;
};

}  // namespace loupe
