#include "loupe/metrics/disentanglement.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "loupe/core/error.h"

namespace loupe {
namespace {

void check_latents(const torch::Tensor& z) {
  LOUPE_CHECK(z.defined() && z.dim() == 2 && z.size(0) > 0 && z.size(1) > 0,
              "latents: expected a non-empty [N,L] tensor, got ", z.defined() ? z.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(torch::isFloatingType(z.scalar_type()), "latents: expected floating-point codes, got dtype ",
              z.scalar_type());
  LOUPE_CHECK(torch::isfinite(z).all().item<bool>(), "latents: found NaN or infinite values (",
              (~torch::isfinite(z)).sum().item<int64_t>(), " of ", z.numel(), ")");
}

void check_factors(const torch::Tensor& v, int64_t n) {
  LOUPE_CHECK(v.defined() && v.dim() == 2 && v.size(1) > 0, "factors: expected an [N,K] tensor, got ",
              v.defined() ? v.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(!torch::isFloatingType(v.scalar_type()) && v.scalar_type() != torch::kBool,
              "factors: expected integer factor values, got dtype ", v.scalar_type());
  LOUPE_CHECK(v.size(0) == n, "factors have ", v.size(0), " rows but the latents have ", n,
              "; expected one factor row per latent row");
}

// Each column's values renumbered 0..C-1; returns the codes [N,K] and the C per column.
std::pair<torch::Tensor, std::vector<int64_t>> renumber(const torch::Tensor& columns) {
  const auto v = columns.to(torch::kCPU, torch::kLong).contiguous();
  auto codes = torch::empty_like(v);
  auto in = v.accessor<int64_t, 2>();
  auto out = codes.accessor<int64_t, 2>();
  std::vector<int64_t> classes;
  for (int64_t k = 0; k < v.size(1); ++k) {
    std::map<int64_t, int64_t> index;
    for (int64_t i = 0; i < v.size(0); ++i) index.emplace(in[i][k], 0);
    int64_t next = 0;
    for (auto& [value, code] : index) code = next++;
    for (int64_t i = 0; i < v.size(0); ++i) out[i][k] = index[in[i][k]];
    classes.push_back(next);
  }
  return {codes, classes};
}

// One-hot [N, sum C] of renumbered columns, and each column's offset into it.
torch::Tensor one_hot_columns(const torch::Tensor& codes, const std::vector<int64_t>& classes) {
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < classes.size(); ++k)
    parts.push_back(torch::one_hot(codes.select(1, static_cast<int64_t>(k)), classes[k]).to(torch::kDouble));
  return torch::cat(parts, 1);
}

double entropy(const torch::Tensor& p) {
  const auto nz = p.masked_select(p > 0);
  return -(nz * nz.log()).sum().item<double>();
}

torch::Tensor standardise(const torch::Tensor& x) {
  const auto centred = x - x.mean(0, true);
  const auto sd = centred.pow(2).mean(0, true).sqrt();
  return torch::where(sd > 0, centred / sd.clamp_min(1e-300), torch::zeros_like(centred));
}

}  // namespace

torch::Tensor discretize_latents(const torch::Tensor& latents, int64_t bins) {
  check_latents(latents);
  LOUPE_CHECK(bins >= 1, "discretisation bins ", bins, ": expected at least 1");
  const auto z = latents.to(torch::kDouble);
  const auto lo = std::get<0>(z.min(0, true)), hi = std::get<0>(z.max(0, true));
  const auto width = (hi - lo) / static_cast<double>(bins);
  // np.digitize against the left edges: floor((z - lo) / width), the maximum in the last bin.
  auto idx = torch::where(width > 0, torch::floor((z - lo) / width.clamp_min(1e-300)), torch::zeros_like(z));
  return idx.clamp(0, bins - 1).to(torch::kLong);
}

torch::Tensor mutual_information_matrix(const torch::Tensor& discrete_latents, const torch::Tensor& factors) {
  LOUPE_CHECK(discrete_latents.defined() && discrete_latents.dim() == 2 && discrete_latents.size(0) > 0,
              "discrete latents: expected a non-empty [N,L] tensor, got ",
              discrete_latents.defined() ? discrete_latents.sizes() : torch::IntArrayRef{});
  check_factors(factors, discrete_latents.size(0));
  const auto [zc, zclasses] = renumber(discrete_latents);
  const auto [vc, vclasses] = renumber(factors);
  const auto a = one_hot_columns(zc, zclasses), b = one_hot_columns(vc, vclasses);
  const double n = static_cast<double>(zc.size(0));
  // Every (latent bin, factor class) joint frequency in one product.
  const auto joint = a.t().mm(b) / n;
  const auto pa = a.mean(0), pb = b.mean(0);
  auto mi = torch::zeros({zc.size(1), vc.size(1)}, torch::kDouble);
  int64_t ra = 0;
  for (int64_t l = 0; l < zc.size(1); ra += zclasses[l], ++l) {
    int64_t rb = 0;
    for (int64_t k = 0; k < vc.size(1); rb += vclasses[k], ++k) {
      const auto pj = joint.slice(0, ra, ra + zclasses[l]).slice(1, rb, rb + vclasses[k]);
      const auto outer = pa.slice(0, ra, ra + zclasses[l]).unsqueeze(1) * pb.slice(0, rb, rb + vclasses[k]);
      const auto mask = pj > 0;
      mi[l][k] = (pj.masked_select(mask) * (pj.masked_select(mask) / outer.masked_select(mask)).log()).sum();
    }
  }
  return mi;
}

torch::Tensor factor_entropies(const torch::Tensor& factors) {
  LOUPE_CHECK(factors.defined() && factors.dim() == 2, "factors: expected an [N,K] tensor, got ",
              factors.defined() ? factors.sizes() : torch::IntArrayRef{});
  check_factors(factors, factors.size(0));
  const auto [codes, classes] = renumber(factors);
  auto h = torch::zeros({codes.size(1)}, torch::kDouble);
  for (int64_t k = 0; k < codes.size(1); ++k)
    h[k] = entropy(torch::bincount(codes.select(1, k)).to(torch::kDouble) / static_cast<double>(codes.size(0)));
  return h;
}

MigResult mutual_information_gap(const torch::Tensor& latents, const torch::Tensor& factors, int64_t bins) {
  check_latents(latents);
  check_factors(factors, latents.size(0));
  LOUPE_CHECK(latents.size(1) >= 2, "MIG: latents have ", latents.size(1),
              " dimension(s); expected at least 2 (the gap compares the top two)");
  MigResult r;
  r.mutual_information = mutual_information_matrix(discretize_latents(latents, bins), factors);
  r.entropies = factor_entropies(factors);
  for (int64_t k = 0; k < r.entropies.size(0); ++k)
    LOUPE_CHECK(r.entropies[k].item<double>() > 0, "MIG: factor ", k,
                " takes a single value (entropy 0); expected every factor to vary");
  const auto top = std::get<0>(r.mutual_information.topk(2, 0));  // [2,K]
  r.per_factor = (top[0] - top[1]) / r.entropies;
  r.mig = r.per_factor.mean().item<double>();
  return r;
}

DciResult dci(const torch::Tensor& latents, const torch::Tensor& factors, double ridge) {
  check_latents(latents);
  check_factors(factors, latents.size(0));
  LOUPE_CHECK(std::isfinite(ridge) && ridge > 0, "DCI ridge penalty ", ridge, ": expected a positive number");
  const auto z = standardise(latents.to(torch::kDouble));
  const auto v = standardise(factors.to(torch::kDouble));
  const int64_t n = z.size(0), l = z.size(1), k = v.size(1);
  const auto gram = z.t().mm(z) / static_cast<double>(n) + ridge * torch::eye(l, torch::kDouble);
  DciResult r;
  r.importance = torch::linalg_solve(gram, z.t().mm(v) / static_cast<double>(n)).abs();  // [L,K]
  const double total = r.importance.sum().item<double>();
  LOUPE_CHECK(total > 0, "DCI: no latent predicts any factor (all importances are 0)");
  // 1 - entropy (in base K over factors, base L over codes) of the normalised importances.
  auto one_minus_entropy = [](const torch::Tensor& rows, int64_t base) {
    const auto p = rows / rows.sum(1, true).clamp_min(1e-300);
    const auto plogp = torch::where(p > 0, p * p.clamp_min(1e-300).log(), torch::zeros_like(p));
    return 1.0 + plogp.sum(1) / std::log(static_cast<double>(std::max<int64_t>(base, 2)));
  };
  const auto code_weight = r.importance.sum(1) / total, factor_weight = r.importance.sum(0) / total;
  r.disentanglement = (code_weight * one_minus_entropy(r.importance, k)).sum().item<double>();
  r.completeness = (factor_weight * one_minus_entropy(r.importance.t(), l)).sum().item<double>();
  return r;
}

double sap_score(const torch::Tensor& latents, const torch::Tensor& factors) {
  check_latents(latents);
  check_factors(factors, latents.size(0));
  LOUPE_CHECK(latents.size(1) >= 2, "SAP: latents have ", latents.size(1), " dimension(s); expected at least 2");
  const auto z = standardise(latents.to(torch::kDouble)), v = standardise(factors.to(torch::kDouble));
  const auto r2 = (z.t().mm(v) / static_cast<double>(z.size(0))).pow(2);  // correlation^2, [L,K]
  const auto top = std::get<0>(r2.topk(2, 0));
  return (top[0] - top[1]).mean().item<double>();
}

}  // namespace loupe
