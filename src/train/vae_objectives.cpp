#include "loupe/train/vae_objectives.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "loupe/core/error.h"

namespace loupe {
namespace {

const double kLog2Pi = std::log(2.0 * 3.14159265358979323846);
const double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_codes(const char* what, const torch::Tensor& t, const torch::Tensor& like) {
  LOUPE_CHECK(t.defined() && t.dim() == 2, what, ": expected a [N,L] tensor, got ",
              t.defined() ? t.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(t.sizes() == like.sizes(), what, ": shape ", t.sizes(), " differs from mu's ", like.sizes());
}

// log N(z | mu, exp(logvar)) elementwise.
torch::Tensor gaussian_log_density(const torch::Tensor& z, const torch::Tensor& mu, const torch::Tensor& logvar) {
  return -0.5 * (kLog2Pi + logvar + (z - mu).pow(2) * torch::exp(-logvar));
}

// log of the [M,M] weights w_ij with q(z_i) ~ sum_j w_ij q(z_i | x_j).
torch::Tensor log_weights(int64_t m, int64_t n, TcEstimator estimator, const torch::TensorOptions& options) {
  const double nm = static_cast<double>(n), mm = static_cast<double>(m);
  if (estimator == TcEstimator::kMinibatchWeighted) return torch::full({m, m}, -std::log(nm * mm), options);
  const double self = -std::log(nm), other = std::log((nm - 1.0) / (nm * (mm - 1.0)));
  auto w = torch::full({m, m}, other, options);
  w.diagonal().fill_(self);
  return w;
}

}  // namespace

torch::Tensor reconstruction_loss(const torch::Tensor& logits, const torch::Tensor& x, Likelihood likelihood) {
  LOUPE_CHECK(logits.defined() && x.defined() && logits.dim() >= 2 && logits.sizes() == x.sizes(),
              "reconstruction loss: images ", x.defined() ? x.sizes() : torch::IntArrayRef{}, " and decoder logits ",
              logits.defined() ? logits.sizes() : torch::IntArrayRef{}, " must have the same [N,...] shape");
  namespace F = torch::nn::functional;
  const auto per_pixel = likelihood == Likelihood::kBernoulli
                             ? F::binary_cross_entropy_with_logits(
                                   logits, x, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
                             : (torch::sigmoid(logits) - x).pow(2);
  return per_pixel.flatten(1).sum(1);
}

torch::Tensor kl_per_dimension(const torch::Tensor& mu, const torch::Tensor& logvar) {
  check_codes("mu", mu, mu);
  check_codes("logvar", logvar, mu);
  return (0.5 * (mu.pow(2) + torch::exp(logvar) - 1.0 - logvar)).mean(0);
}

TcTerms tc_decomposition(const torch::Tensor& z, const torch::Tensor& mu, const torch::Tensor& logvar,
                         int64_t dataset_size, TcEstimator estimator) {
  check_codes("mu", mu, mu);
  check_codes("z", z, mu);
  check_codes("logvar", logvar, mu);
  const int64_t m = mu.size(0);
  LOUPE_CHECK(m >= 2, "total correlation: batch of ", m, " sample(s); expected at least 2");
  LOUPE_CHECK(dataset_size >= m, "total correlation: dataset size ", dataset_size, " is smaller than the batch (", m,
              "); expected N >= M");

  // log q(z_i,k | x_j,k): [M (sample i), M (posterior j), L].
  const auto log_q = gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0));
  const auto log_w = log_weights(m, dataset_size, estimator, log_q.options()).unsqueeze(2);
  const auto log_qz = torch::logsumexp(log_q.sum(2) + log_w.squeeze(2), 1);  // [M]
  const auto log_prod_qzj = torch::logsumexp(log_q + log_w, 1).sum(1);       // [M]
  const auto log_qz_given_x = log_q.diagonal(0, 0, 1).sum(0);                // [M]
  const auto log_pz = (-0.5 * (kLog2Pi + z.pow(2))).sum(1);                  // [M]
  return {(log_qz_given_x - log_qz).mean(), (log_qz - log_prod_qzj).mean(), (log_prod_qzj - log_pz).mean()};
}

double annealed_weight(int64_t step, int64_t steps, double max_value) {
  if (steps <= 0) return max_value;
  return std::min(static_cast<double>(step) / static_cast<double>(steps), 1.0) * max_value;
}

std::string objective_name(VaeObjectiveKind kind) {
  switch (kind) {
    case VaeObjectiveKind::kVae:
      return "vae";
    case VaeObjectiveKind::kBetaVae:
      return "beta_vae";
    case VaeObjectiveKind::kBetaTcVae:
      return "beta_tcvae";
    case VaeObjectiveKind::kCapacity:
      return "capacity";
  }
  return "?";
}

VaeObjectiveKind parse_objective(const std::string& name) {
  for (auto kind :
       {VaeObjectiveKind::kVae, VaeObjectiveKind::kBetaVae, VaeObjectiveKind::kBetaTcVae, VaeObjectiveKind::kCapacity})
    if (objective_name(kind) == name) return kind;
  fail("VAE objective '", name, "' is unknown; expected vae, beta_vae, beta_tcvae or capacity");
}

void check_objective_options(const VaeObjectiveOptions& o) {
  for (const auto& [name, v] :
       {std::make_pair("beta", o.beta), std::make_pair("alpha", o.alpha), std::make_pair("gamma_max", o.gamma_max),
        std::make_pair("capacity_gamma", o.capacity_gamma), std::make_pair("capacity_max", o.capacity_max)})
    LOUPE_CHECK(std::isfinite(v) && v >= 0, "VAE objective option ", name, " = ", v, ": expected a number >= 0");
  LOUPE_CHECK(o.anneal_steps >= 0, "VAE objective option anneal_steps = ", o.anneal_steps, ": expected >= 0");
  LOUPE_CHECK(o.capacity_steps >= 0, "VAE objective option capacity_steps = ", o.capacity_steps, ": expected >= 0");
  LOUPE_CHECK(o.dataset_size >= 0, "VAE objective option dataset_size = ", o.dataset_size,
              ": expected >= 0 (0 = the batch size)");
}

VaeLoss vae_loss(const VaeOutput& out, const torch::Tensor& x, const VaeObjectiveOptions& o, int64_t step) {
  const auto recon = reconstruction_loss(out.logits, x, o.likelihood).mean();
  const auto kl = kl_per_dimension(out.mu, out.logvar).sum();
  VaeLoss r;
  r.mutual_information = r.total_correlation = r.dimension_kl = r.capacity = kNaN;
  switch (o.kind) {
    case VaeObjectiveKind::kVae:
      r.weight = 1.0;
      r.total = recon + kl;
      break;
    case VaeObjectiveKind::kBetaVae:
      r.weight = o.beta;
      r.total = recon + o.beta * kl;
      break;
    case VaeObjectiveKind::kBetaTcVae: {
      const int64_t n = o.dataset_size > 0 ? o.dataset_size : out.mu.size(0);
      const TcTerms t = tc_decomposition(out.z, out.mu, out.logvar, n, o.estimator);
      r.weight = annealed_weight(step, o.anneal_steps, o.gamma_max);
      const bool on_tc = o.anneal_term == AnnealTerm::kTotalCorrelation;
      r.total = recon + o.alpha * t.mutual_information + (on_tc ? r.weight : 1.0) * o.beta * t.total_correlation +
                (on_tc ? 1.0 : r.weight) * t.dimension_kl;
      r.mutual_information = t.mutual_information.item<double>();
      r.total_correlation = t.total_correlation.item<double>();
      r.dimension_kl = t.dimension_kl.item<double>();
      break;
    }
    case VaeObjectiveKind::kCapacity:
      r.weight = o.capacity_gamma;
      r.capacity = annealed_weight(step, o.capacity_steps, o.capacity_max);
      r.total = recon + o.capacity_gamma * (kl - r.capacity).abs();
      break;
  }
  r.reconstruction = recon.item<double>();
  r.kl = kl.item<double>();
  r.loss = r.total.item<double>();
  return r;
}

torch::Tensor VaeObjective::loss(const Batch& batch, const TrainContext& ctx, StepLog& log) {
  const VaeLoss l = vae_loss(vae_.forward(batch.images), batch.images, options_, ctx.step);
  log.add("loss", l.loss);
  log.add("reconstruction", l.reconstruction);
  log.add("kl", l.kl);
  log.add("mutual_information", l.mutual_information);
  log.add("total_correlation", l.total_correlation);
  log.add("dimension_kl", l.dimension_kl);
  log.add("weight", l.weight);
  log.add("capacity", l.capacity);
  return l.total;
}

std::string VaeObjective::progress(const RecordAccumulator& record) const {
  char buf[128];
  const double tc = record.mean("total_correlation");
  if (std::isfinite(tc))
    std::snprintf(buf, sizeof buf, "loss %.1f recon %.1f kl %.2f tc %.2f", record.mean("loss"),
                  record.mean("reconstruction"), record.mean("kl"), tc);
  else
    std::snprintf(buf, sizeof buf, "loss %.1f recon %.1f kl %.2f", record.mean("loss"), record.mean("reconstruction"),
                  record.mean("kl"));
  return buf;
}

}  // namespace loupe
