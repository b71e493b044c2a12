// Disentanglement metrics of latent codes against ground-truth factors, as pure
// functions: discretisation and mutual information (nats) as in disentanglement_lib,
// MIG (Chen et al. 2018), DCI disentanglement/completeness (Eastwood & Williams 2018)
// and SAP (Kumar et al. 2018). Choices: DCI importances are |coefficients| of a ridge
// regression of each standardised factor on the standardised codes (dl uses boosted
// trees); SAP scores every factor as continuous (R^2 of a 1-D linear fit per code).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace loupe {

// Histogram discretiser: each latent column of [N,L] is cut into `bins` equal-width bins
// over its own [min, max] (np.histogram + np.digitize); int64 [N,L] in [0, bins). A
// constant column falls in bin 0. NaN or infinite values are a loupe::Error.
torch::Tensor discretize_latents(const torch::Tensor& latents, int64_t bins = 20);

// I(z_l; v_k) in nats, double [L,K], of discrete codes [N,L] and integer factors [N,K]
// (any integer values: each column's distinct values are its classes).
torch::Tensor mutual_information_matrix(const torch::Tensor& discrete_latents, const torch::Tensor& factors);

// H(v_k) in nats, double [K].
torch::Tensor factor_entropies(const torch::Tensor& factors);

struct MigResult {
  torch::Tensor mutual_information;  // double [L,K]
  torch::Tensor entropies;           // double [K]
  torch::Tensor per_factor;          // double [K]: (top MI - second MI) / H(v_k)
  double mig = 0;                    // mean of per_factor
};

// MIG of continuous latents [N,L] (discretised with `bins`) against factors [N,K].
// Needs L >= 2 and no constant factor (its entropy would be 0).
MigResult mutual_information_gap(const torch::Tensor& latents, const torch::Tensor& factors, int64_t bins = 20);

struct DciResult {
  torch::Tensor importance;  // double [L,K]
  double disentanglement = 0;
  double completeness = 0;
};

// ridge: the regression's L2 penalty on the standardised problem (relative to N).
DciResult dci(const torch::Tensor& latents, const torch::Tensor& factors, double ridge = 1e-3);

// SAP: mean over factors of the gap between the two largest R^2 over latents.
double sap_score(const torch::Tensor& latents, const torch::Tensor& factors);

}  // namespace loupe
