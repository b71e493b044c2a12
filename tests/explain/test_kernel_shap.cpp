#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/kernel_shap_detail.h"
#include "explain/perturbation_test_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/kernel_shap.h"
#include "loupe/explain/target.h"

namespace loupe {
namespace {

torch::Tensor grid_labels(int64_t side, int64_t cell) {
  const auto r = torch::arange(side, torch::kLong).div(cell, "floor");
  return r.view({-1, 1}) * ((side + cell - 1) / cell) + r.view({1, -1});
}

ExplainOptions shap_options(const torch::Tensor& labels) {
  return ExplainOptions().set_normalize(false).set_signed(true).set_perturbation(
      PerturbationOptions().set_segments(labels).set_masker(Masker::kConstant).set_fill_value(0.1));
}

// Shapley values by definition: φ_i = Σ_{S∌i} |S|!(K−|S|−1)!/K! · (f(S∪{i}) − f(S)).
torch::Tensor brute_force_shapley(TappedModel& net, const torch::Tensor& x, const torch::Tensor& labels, int64_t k,
                                  double fill) {
  const int64_t n = int64_t(1) << k;
  std::vector<double> f(n);
  torch::NoGradGuard guard;
  for (int64_t s = 0; s < n; ++s) {
    auto keep = torch::zeros({k});
    for (int64_t j = 0; j < k; ++j) keep[j] = double((s >> j) & 1);
    const auto m = keep.index_select(0, labels.flatten()).view(labels.sizes());
    f[s] = net.forward((fill + m * (x[0] - fill)).unsqueeze(0))[0][0].item<double>();
  }
  std::vector<double> fact(k + 1, 1.0);
  for (int64_t j = 1; j <= k; ++j) fact[j] = fact[j - 1] * j;
  auto phi = torch::zeros({k}, torch::kDouble);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t s = 0; s < n; ++s) {
      if ((s >> i) & 1) continue;
      const int64_t size = __builtin_popcountll(s);
      phi[i] += fact[size] * fact[k - size - 1] / fact[k] * (f[s | (int64_t(1) << i)] - f[s]);
    }
  return phi.to(torch::kFloat);
}

// An "autoencoder" whose output is always the same reconstruction r [C,H,W], whatever
// the input: its reconstruction error on a perturbed copy is known in closed form.
class FixedReconstruction : public TappedModel {
 public:
  explicit FixedReconstruction(torch::Tensor r) : r_(std::move(r)) {
    add_stage("reconstruction", [this](const torch::Tensor& x) { return x * 0 + r_; });
  }
  std::string default_cam_tap() const override { return "reconstruction"; }
  std::string arch() const override { return "fixed_reconstruction"; }

 private:
  torch::Tensor r_;
};

}  // namespace

TEST(KernelShap, ReplacementByTheReconstructionGivesEachSegmentsError) {
  // Workflow 4's explanation: hidden superpixels take the reconstruction's pixels. With
  // a model that always outputs r, the reconstruction error of a copy keeping segments z
  // is Σ_s z_s e_s / P (e_s = Σ over segment s and channels of (x − r)², P = C·H·W):
  // linear, so its Shapley values are exactly e_s / P; the paper's f = MSE(x − ξx) is
  // Σ_s (1 − z_s) e_s / P, with values −e_s / P.
  torch::manual_seed(9);
  const auto labels = grid_labels(4, 2);  // 4 segments of 2x2
  const auto x = torch::rand({1, 3, 4, 4}), r = torch::rand({3, 4, 4});
  FixedReconstruction model(r);
  auto o = shap_options(labels);
  o.perturbation.set_masker(Masker::kReplacement).set_replacement(r);
  const auto e = testing::segment_sums((x[0] - r).pow(2).sum(0), labels, 4) / 48;
  const auto error = KernelShap(o).explain(model, x, reconstruction_error());
  EXPECT_TRUE(torch::allclose(error.weights[0], e, 1e-5, 1e-6)) << error.weights << e;
  const auto literal = KernelShap(o).explain(model, x, input_difference(x));
  EXPECT_TRUE(torch::allclose(literal.weights[0], -e, 1e-5, 1e-6)) << literal.weights << e;
}

TEST(KernelShap, ExactEnumerationEqualsBruteForceShapley) {
  torch::manual_seed(7);
  const auto labels = grid_labels(4, 2);  // 4 features
  testing::SegmentNet net(labels, torch::tensor({1.f, -2.f, 3.f, 0.5f}), {4.0, -6.0});
  const auto x = torch::rand({1, 3, 4, 4});
  const auto attr = KernelShap(shap_options(labels)).explain(net, x, class_logit(0));
  const auto expected = brute_force_shapley(net, x, labels, 4, 0.1);
  EXPECT_TRUE(torch::allclose(attr.weights[0], expected, 1e-4, 1e-5)) << attr.weights << expected;
  EXPECT_EQ(attr.model_evaluations, 2 + 14);
}

TEST(KernelShap, SampledRecoversAdditiveModelAndKeepsEfficiency) {
  torch::manual_seed(8);
  const auto labels = grid_labels(8, 2);  // 16 features: sampled below
  const auto c = torch::randn({16});
  const auto x = torch::rand({1, 3, 8, 8});
  auto o = shap_options(labels);
  o.perturbation.set_exact_max_features(0).set_samples(300).set_seed(2);
  testing::SegmentNet additive(labels, c);
  const auto attr = KernelShap(o).explain(additive, x, class_logit(0));
  const auto expected = c * (testing::segment_means(x[0], labels, 16) - 0.1);
  EXPECT_TRUE(torch::allclose(attr.weights[0], expected, 1e-4, 1e-4)) << attr.weights << expected;
  EXPECT_LE(attr.model_evaluations, 2 + 300);
  // A non-additive model: Σφ = f(x) − f(fill) to 1e-4 all the same.
  testing::SegmentNet mixed(labels, c, {5.0, -7.0});
  const auto m = KernelShap(o).explain(mixed, x, class_logit(0));
  const double base = m.extras.at("base_value")[0].item<double>();
  EXPECT_NEAR(m.weights[0].sum().item<double>(), m.scores[0].item<double>() - base, 1e-4);
  EXPECT_NEAR(m.maps[0].sum().item<double>(), 4 * (m.scores[0].item<double>() - base), 4e-4);  // 4 px per segment
}

TEST(KernelShap, CoalitionsFollowTheShapleyKernel) {
  auto gen = at::detail::createCPUGenerator(0);
  const auto exact = shap_coalitions(5, 10, 14, gen);
  EXPECT_EQ(exact.masks.size(0), 30);
  // Weight of a size-s coalition ∝ (K−1)/(C(K,s)·s·(K−s)): sizes 1 and 2 of K = 5 → 4/20 : 4/60.
  const auto s = exact.masks.sum(1);
  const auto w1 = exact.weights.index({s == 1}), w2 = exact.weights.index({s == 2});
  EXPECT_NEAR((w1[0] / w2[0]).item<double>(), 3.0, 1e-9);
  // K = 20, budget 200: size 1 and its complements enumerated (40 rows; the kernel share
  // of size 1 is 0.297, 200·0.297 ≥ 40), the rest sampled in complement pairs.
  const auto sampled = shap_coalitions(20, 200, 14, gen);
  const auto size = sampled.masks.sum(1);
  EXPECT_EQ((size == 1).sum().item<int64_t>(), 20);
  EXPECT_EQ((size == 19).sum().item<int64_t>(), 20);
  EXPECT_EQ((size == 0).sum().item<int64_t>() + (size == 20).sum().item<int64_t>(), 0);
  EXPECT_LE(sampled.masks.size(0), 200);
  EXPECT_GT(sampled.masks.size(0), 150);
}

}  // namespace loupe
