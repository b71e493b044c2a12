#include "loupe/explain/kernel_shap.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

#include "explain/kernel_shap_detail.h"
#include "explain/perturbation_detail.h"
#include "loupe/core/error.h"

namespace loupe {
namespace {

double binomial(int64_t n, int64_t k) {
  return std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0));
}

torch::Tensor all_coalitions(int64_t k) {
  std::vector<int64_t> bits(k);
  for (int64_t j = 0; j < k; ++j) bits[j] = int64_t(1) << j;
  const auto codes = torch::arange(1, (int64_t(1) << k) - 1, torch::kLong).unsqueeze(1);
  return codes.div(torch::tensor(bits), "floor").remainder(2).to(torch::kFloat);
}

torch::Tensor subsets_of_size(int64_t k, int64_t size) {
  const auto chosen = torch::combinations(torch::arange(k, torch::kLong), size).reshape({-1, size});
  return torch::zeros({chosen.size(0), k}).scatter_(1, chosen, 1.0);
}

}  // namespace

Coalitions shap_coalitions(int64_t k, int64_t budget, int64_t exact_max_features, at::Generator& gen) {
  if (k <= exact_max_features || (k < 62 && (int64_t(1) << k) - 2 <= budget)) {
    const auto z = all_coalitions(k);
    const auto s = z.sum(1).to(torch::kDouble);
    const auto choose = torch::exp(std::lgamma(k + 1.0) - torch::lgamma(s + 1) - torch::lgamma(k - s + 1));
    return {z, (k - 1) / (choose * s * (k - s))};
  }
  const int64_t sizes = k / 2, paired = (k - 1) / 2;
  std::vector<double> weight(sizes);
  double total = 0;
  for (int64_t s = 1; s <= sizes; ++s) total += weight[s - 1] = (k - 1.0) / (s * (k - s)) * (s <= paired ? 2 : 1);
  for (auto& v : weight) v /= total;
  // Whole sizes while the budget covers them at their kernel share (the reference's rule).
  std::vector<torch::Tensor> masks, weights;
  std::vector<double> remaining = weight;
  double left = double(budget);
  int64_t full = 0;
  for (int64_t s = 1; s <= sizes; ++s) {
    const double count = binomial(k, s) * (s <= paired ? 2 : 1);
    if (left * remaining[s - 1] / count < 1 - 1e-8) break;
    ++full;
    left -= count;
    if (remaining[s - 1] < 1) {
      const double r = remaining[s - 1];
      for (auto& v : remaining) v /= 1 - r;
    }
    const auto z = subsets_of_size(k, s);
    const double w = weight[s - 1] / count;
    masks.push_back(z);
    if (s <= paired) masks.push_back(1 - z);
    weights.push_back(torch::full({(s <= paired ? 2 : 1) * z.size(0)}, w, torch::kDouble));
  }
  if (full < sizes && left >= 1) {
    std::vector<double> share(weight.begin() + full, weight.end());
    double weight_left = 0;
    for (size_t j = 0; j < share.size(); ++j) {
      weight_left += share[j];
      if (full + int64_t(j) + 1 <= paired) share[j] /= 2;
    }
    const int64_t draws = std::max<int64_t>(1, int64_t(left) / 2);
    const auto size = torch::multinomial(torch::tensor(share, torch::kDouble), draws, true, gen) + (full + 1);
    const auto rank = at::rand({draws, k}, gen).argsort(int64_t{1}, false).argsort(int64_t{1}, false);
    const auto z = (rank < size.unsqueeze(1)).to(torch::kFloat);
    const auto complements = 1 - z.index_select(0, (size <= paired).nonzero().flatten());
    const auto drawn = torch::cat({z, complements});
    const auto unique = torch::unique_dim(drawn, 0, true, false, true);
    const auto counts = std::get<2>(unique).to(torch::kDouble);
    masks.push_back(std::get<0>(unique));
    weights.push_back(counts * (weight_left / counts.sum().item<double>()));
  }
  return {torch::cat(masks), torch::cat(weights)};
}

Attribution KernelShap::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  const auto& o = options_.perturbation;
  return explain_images(model, images, options_, [&](PerturbationEngine& engine, const torch::Tensor& x, int64_t i) {
    // Every image draws from the same seed: a result never depends on its batch.
    auto gen = at::detail::createCPUGenerator(o.seed);
    const auto labels = image_segments(x, o, i);
    const int64_t k = check_label_map(labels, x.size(1), x.size(2), "segments");
    const auto fill = masker_fill(x, o, Masker::kImageMean, i, labels);
    const auto ends =
        engine.evaluate_features(x, fill, torch::stack({torch::ones({k}), torch::zeros({k})}), labels, {target})
            .select(1, 0)
            .to(torch::kCPU, torch::kDouble);
    const auto fx = ends[0], fnull = ends[1], delta = fx - fnull;
    auto phi = delta.view({1});
    if (k > 1) {
      const int64_t budget = o.samples > 0 ? o.samples : 2 * k + 2048;
      const auto c = shap_coalitions(k, budget, o.exact_max_features, gen);
      const auto y =
          engine.evaluate_features(x, fill, c.masks, labels, {target}).select(1, 0).to(torch::kCPU, torch::kDouble);
      // φ_K = Δ − Σ_{j<K} φ_j substituted into y − f(fill) = Σ_j z_j φ_j.
      const auto z = c.masks.to(torch::kDouble);
      const auto last = z.select(1, k - 1).unsqueeze(1);
      const auto sw = c.weights.sqrt().unsqueeze(1);
      const auto a = sw * (z.slice(1, 0, k - 1) - last);
      const auto b = sw * (y.unsqueeze(1) - fnull - last * delta);
      // gelsd (SVD, minimum norm, as numpy.linalg.lstsq in SHAP): sampled coalitions can
      // leave the system rank-deficient, where gelsy's answer is not even repeatable.
      const auto head = std::get<0>(torch::linalg::lstsq(a, b, {}, c10::string_view("gelsd"))).flatten();
      phi = torch::cat({head, (delta - head.sum()).view({1})});
    }
    const auto map = phi.to(torch::kFloat).index_select(0, labels.flatten().cpu()).view({x.size(1), x.size(2)});
    return ImageExplanation{map, phi, fx, {{"base_value", fnull}, {"segments", labels.cpu()}}};
  });
}

}  // namespace loupe
