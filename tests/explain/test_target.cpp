#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/explain/target.h"

namespace loupe {

TEST(Target, OutputUnitIsAColumn) {
  const auto mu = torch::tensor({{0.5f, -1.f, 2.f}, {3.f, 4.f, -5.f}});
  EXPECT_TRUE(torch::equal(output_unit(2)(mu, torch::Tensor()), torch::tensor({2.f, -5.f})));
  EXPECT_LOUPE_ERROR(output_unit(3)(mu, torch::Tensor()), "unit 3");
  EXPECT_LOUPE_ERROR(output_unit(0)(torch::zeros({2, 3, 4}), torch::Tensor()), "[N,K]");
}

TEST(Target, ReconstructionErrorIsThePerSampleMeanSquaredError) {
  auto inputs = torch::zeros({2, 1, 2, 2});
  auto outputs = torch::zeros({2, 1, 2, 2});
  outputs[0][0][0][0] = 2;  // (4 + 0 + 0 + 0)/4
  outputs[1] += 0.5;        // 0.25 everywhere
  EXPECT_TRUE(torch::allclose(reconstruction_error()(outputs, inputs), torch::tensor({1.f, 0.25f})));
  EXPECT_LOUPE_ERROR(reconstruction_error()(torch::zeros({2, 3}), inputs), "reconstruction");
}

TEST(Target, EvaluateTargetChecksOneValuePerImage) {
  const auto inputs = torch::zeros({3, 1, 2, 2});
  const auto logits = torch::rand({3, 4});
  EXPECT_TRUE(torch::equal(evaluate_target(class_logit(1), logits, inputs), logits.select(1, 1)));
  const Target scalar = [](const torch::Tensor& out, const torch::Tensor&) { return out.sum(); };
  EXPECT_LOUPE_ERROR(evaluate_target(scalar, logits, inputs), "one value per image");
}

}  // namespace loupe
