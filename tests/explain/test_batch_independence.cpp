// The random methods (perturbation ones and SmoothGrad) give an image the same map whether it is explained
// alone or inside a batch (each image draws from the seed afresh), and KernelSHAP's
// sampled (rank-deficient) least squares is repeatable.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/toy_models.h"
#include "loupe/explain/explainer.h"

namespace loupe {

TEST(BatchIndependence, RandomMethodsGiveTheSameMapAloneAndInABatch) {
  testing::TanhNet net;
  torch::manual_seed(11);
  const auto x = torch::rand({3, 3, 16, 16});
  ExplainOptions o;
  // 16 grid features and 40 samples: KernelSHAP samples coalitions instead of enumerating.
  o.perturbation.set_samples(40).set_seed(9).set_max_evals(24).set_rise_cells(3).set_batch_size(16);
  o.perturbation.segmentation.set_method("grid").set_grid_cell(4);
  o.gradient.set_samples(5);
  for (const std::string method : {"lime", "kernelshap", "rise", "partition", "smoothgrad"}) {
    auto e = make_explainer(method, o);
    const auto batch = e->explain(net, x, class_logit(1));
    const auto alone = e->explain(net, x.slice(0, 2, 3), class_logit(1));
    const auto again = e->explain(net, x.slice(0, 2, 3), class_logit(1));
    EXPECT_TRUE(torch::equal(alone.maps, again.maps)) << method << " is not repeatable";
    EXPECT_TRUE(torch::allclose(batch.maps[2], alone.maps[0], 1e-5, 1e-6))
        << method << ": max difference " << (batch.maps[2] - alone.maps[0]).abs().max().item<double>();
  }
}

}  // namespace loupe
