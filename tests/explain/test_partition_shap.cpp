#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/perturbation_test_models.h"
#include "loupe/core/error.h"
#include "loupe/explain/partition_shap.h"

namespace loupe {
namespace {

// 8x8 image, four 4x4 quadrants: nodes of the partition tree (rows split first).
torch::Tensor quadrants() {
  const auto r = torch::arange(8, torch::kLong).div(4, "floor");
  return r.view({-1, 1}) * 2 + r.view({1, -1});
}

ExplainOptions partition_options(int64_t max_evals) {
  return ExplainOptions().set_normalize(false).set_signed(true).set_perturbation(
      PerturbationOptions().set_max_evals(max_evals).set_batch_size(16));
}

}  // namespace

TEST(PartitionShap, EfficiencyHoldsAtAnyBudget) {
  torch::manual_seed(9);
  const auto labels = quadrants();
  testing::SegmentNet net(labels, torch::tensor({1.f, -2.f, 3.f, 0.5f}), {5.0, -7.0});
  const auto x = torch::rand({2, 3, 8, 8});
  for (int64_t budget : {4, 21, 300}) {
    SCOPED_TRACE(budget);
    const auto attr = PartitionShap(partition_options(budget)).explain(net, x, class_logit(0));
    const auto base = attr.extras.at("base_value");
    EXPECT_TRUE(torch::allclose(attr.maps.sum({1, 2}), attr.scores - base, 1e-4, 1e-4));
    EXPECT_LE(attr.model_evaluations, 2 * budget);
  }
}

TEST(PartitionShap, RecoversAnAdditiveModelWithAReplacementMasker) {
  torch::manual_seed(10);
  const auto labels = quadrants();
  const auto c = torch::tensor({1.f, -2.f, 3.f, 0.5f});
  testing::SegmentNet net(labels, c);
  const auto x = torch::rand({1, 3, 8, 8}), r = torch::rand({1, 3, 8, 8});
  auto o = partition_options(5000);
  o.perturbation.set_masker(Masker::kReplacement).set_replacement(r);
  const auto attr = PartitionShap(o).explain(net, x, class_logit(0));
  const auto expected = c * (testing::segment_means(x[0], labels, 4) - testing::segment_means(r[0], labels, 4));
  EXPECT_TRUE(torch::allclose(testing::segment_sums(attr.maps[0], labels, 4), expected, 1e-4, 1e-5));
  // Pixel level: each pixel's own share c_k·mean_c(x − r)/16.
  const auto pixel = c.index_select(0, labels.flatten()).view({8, 8}) * (x[0] - r[0]).mean(0) / 16;
  EXPECT_TRUE(torch::allclose(attr.maps[0], pixel, 1e-4, 1e-5));
}

TEST(PartitionShap, DeterministicAndBadBudget) {
  const auto labels = quadrants();
  testing::SegmentNet net(labels, torch::tensor({1.f, -2.f, 3.f, 0.5f}), {5.0, -7.0});
  const auto x = torch::rand({1, 3, 8, 8});
  const auto a = PartitionShap(partition_options(40)).explain(net, x, class_logit(0));
  auto o = partition_options(40);
  o.perturbation.set_batch_size(2);
  const auto b = PartitionShap(o).explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::isfinite(a.maps).all().item<bool>());
  EXPECT_TRUE(torch::allclose(a.maps.sum(), b.maps.sum(), 1e-4, 1e-4));
  try {
    PartitionShap(partition_options(3)).explain(net, x, class_logit(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_evals 3"), std::string::npos) << e.what();
  }
}

}  // namespace loupe
