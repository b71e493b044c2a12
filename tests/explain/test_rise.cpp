#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/perturbation_test_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/rise.h"

namespace loupe {
namespace {

ExplainOptions rise_options(uint64_t seed, int64_t batch = 64) {
  return ExplainOptions().set_normalize(false).set_signed(true).set_perturbation(
      PerturbationOptions().set_samples(50).set_rise_cells(3).set_seed(seed).set_batch_size(batch));
}

}  // namespace

TEST(Rise, DeterministicForASeedAtAnyBatchSize) {
  torch::manual_seed(4);
  const auto labels = torch::arange(64, torch::kLong).view({8, 8}).div(4, "floor").remainder(4);
  testing::SegmentNet net(labels, torch::tensor({1.f, -2.f, 3.f, 0.5f}), {1.5, -2.0});
  const auto x = torch::rand({2, 3, 8, 8});
  const auto a = Rise(rise_options(7)).explain(net, x, class_logit(0));
  const auto b = Rise(rise_options(7, 3)).explain(net, x, class_logit(0));
  const auto c = Rise(rise_options(8)).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(a.maps, c.maps, 1e-3, 1e-3));
  EXPECT_EQ(a.model_evaluations, 2 * 51);
}

TEST(Rise, AllCellsKeptGivesTheScoreEverywhere) {
  // p = 1: every mask is all ones, so map = Σ f(x)·1 / (N·1) = f(x).
  const auto labels = torch::zeros({6, 6}, torch::kLong);
  testing::SegmentNet net(labels, torch::tensor({2.f}));
  const auto x = torch::rand({1, 3, 6, 6});
  auto o = rise_options(1);
  o.perturbation.set_rise_probability(1.0);
  const auto attr = Rise(o).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::full({6, 6}, 2 * x.mean().item<float>()), 1e-5, 1e-6));
}

TEST(Rise, MasksAreSmoothAndMeanNearP) {
  // A model that reports its input's mean: map(p)·p·N = Σ_i mean(m_i)·m_i(p) ≥ 0, and
  // mean over masks of mean(m_i) ≈ p.
  const auto labels = torch::zeros({14, 14}, torch::kLong);
  testing::SegmentNet net(labels, torch::tensor({1.f}));
  const auto x = torch::ones({1, 1, 14, 14});
  auto o = rise_options(2);
  o.perturbation.set_samples(400).set_rise_cells(7).set_rise_probability(0.5);
  const auto attr = Rise(o).explain(net, x, class_logit(0));
  // E[mean(m)·m(p)]/p ≈ p (cells independent far away), so the map sits near 0.5–0.6.
  EXPECT_NEAR(attr.maps.mean().item<float>(), 0.55, 0.08);
  EXPECT_THROW(Rise(ExplainOptions().set_perturbation(PerturbationOptions().set_rise_probability(0)))
                   .explain(net, x, class_logit(0)),
               Error);
}

}  // namespace loupe
