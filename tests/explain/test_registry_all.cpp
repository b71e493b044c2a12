#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/explain/explainer.h"
#include "loupe/explain/segmentation.h"
#include "loupe/models/zoo.h"

namespace loupe {

namespace {
// Per-map Pearson correlation of two [N,H,W] stacks.
torch::Tensor correlation(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.flatten(1) - a.flatten(1).mean(1, true), y = b.flatten(1) - b.flatten(1).mean(1, true);
  return (x * y).sum(1) / (x.norm(2, 1) * y.norm(2, 1) + 1e-12);
}
}  // namespace

// Every registered explainer on both test models: finite [N,H,W] maps in range (signed
// and not), the method's own name, and the same maps at batch size 1 and 4. CAM maps
// agree to 1e-4. Pixel-level gradients of a float32 ReLU network can flip at a kink
// (a pre-activation within rounding of 0 in one batch layout), which changes the map
// locally by ~1%, so those are held to a per-image correlation above 0.999 instead.
TEST(RegistryAll, EveryExplainerOnSmallCnnAndResnet18Small) {
  torch::manual_seed(50);
  const auto x = torch::rand({4, 3, 28, 28});
  const auto fast = GradientOptions().set_steps(4).set_samples(3);
  // Perturbation methods with small budgets on 14x14 grid cells: 4 features, so
  // KernelSHAP enumerates every coalition.
  const auto quick = PerturbationOptions()
                         .set_samples(16)
                         .set_max_evals(32)
                         .set_window(14)
                         .set_stride(14)
                         .set_segmentation(SegmentOptions().set_method("grid").set_grid_cell(14));
  for (const auto& arch : {"small_cnn", "resnet18_small"}) {
    auto model = make_model({arch, 3, 10});
    for (const auto& name : explainer_names()) {
      SCOPED_TRACE(std::string(arch) + " / " + name);
      const auto options = ExplainOptions().set_gradient(fast).set_perturbation(quick);
      EXPECT_EQ(make_explainer(name, options)->name(), name);
      const auto one =
          make_explainer(name, ExplainOptions(options).set_batch_size(1))->explain(*model, x, top1_logit());
      const auto four =
          make_explainer(name, ExplainOptions(options).set_batch_size(4))->explain(*model, x, top1_logit());
      ASSERT_EQ(four.maps.sizes(), (std::vector<int64_t>{4, 28, 28}));
      EXPECT_EQ(four.scores.sizes(), (std::vector<int64_t>{4}));
      EXPECT_TRUE(torch::isfinite(four.maps).all().item<bool>());
      EXPECT_GE(four.maps.min().item<float>(), 0.f);
      EXPECT_LE(four.maps.max().item<float>(), 1.f + 1e-5f);
      // Normalised unsigned maps reach 1 unless the map is empty. Min-max scaling divides
      // by (max - min + 1e-7), as pytorch-grad-cam, so a map whose range is ~1e-4 (an
      // untrained model's perturbation scores barely move) peaks at ~0.999.
      const auto peak = std::get<0>(four.maps.flatten(1).max(1));
      EXPECT_TRUE(((peak - 1).abs() < 5e-3).logical_or(peak == 0).all().item<bool>()) << peak;
      EXPECT_TRUE(torch::allclose(one.scores, four.scores, 1e-4, 1e-5));
      if (four.weights.defined()) {
        EXPECT_TRUE(torch::allclose(one.maps, four.maps, 1e-4, 1e-4)) << (one.maps - four.maps).abs().max();
      } else {
        const auto r = correlation(one.maps, four.maps);
        EXPECT_GT(r.min().item<float>(), 0.999f) << r;
        EXPECT_LT((one.maps - four.maps).abs().mean().item<float>(), 1e-3f);
      }
      const auto sgn = make_explainer(name, ExplainOptions(options).set_signed(true))->explain(*model, x, top1_logit());
      EXPECT_TRUE(torch::isfinite(sgn.maps).all().item<bool>());
      EXPECT_GE(sgn.maps.min().item<float>(), -1.f - 1e-5f);
      EXPECT_LE(sgn.maps.max().item<float>(), 1.f + 1e-5f);
    }
  }
}

}  // namespace loupe
