#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/explain/explainer.h"
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

TEST(Target, PerSampleClassesFollowEachRowsSample) {
  // Rows 0-1 are copies of image 0, rows 2-3 of image 1; image 0 explains class 2, image 1 class 0.
  const auto logits = torch::tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}, {7.f, 8.f, 9.f}, {10.f, 11.f, 12.f}});
  const auto samples = torch::tensor({0, 0, 1, 1}, torch::kLong);
  const auto classes = torch::tensor({2, 0}, torch::kLong);
  EXPECT_TRUE(torch::equal(class_logits(classes)(logits, logits, samples), torch::tensor({3.f, 6.f, 7.f, 10.f})));
  const auto p = class_probabilities(classes)(logits, logits, samples);
  EXPECT_TRUE(
      torch::allclose(p, torch::softmax(logits, 1).gather(1, torch::tensor({2, 2, 0, 0}).view({-1, 1})).squeeze(1)));
  // Without samples, row i is image i.
  EXPECT_TRUE(
      torch::equal(class_logits(classes)(logits.slice(0, 0, 2), logits.slice(0, 0, 2)), torch::tensor({3.f, 4.f})));
  EXPECT_LOUPE_ERROR(class_logits(classes)(logits, logits, torch::tensor({0, 1, 2, 3}, torch::kLong)),
                     "for image 3; expected one per explained image");
  EXPECT_LOUPE_ERROR(class_logits(torch::tensor({5, 0}, torch::kLong))(logits, logits, samples), "target class 5");
  EXPECT_LOUPE_ERROR(class_logits(torch::tensor({0.5f})), "int64");
}

TEST(Target, ReconstructionErrorAgainstEachSamplesReference) {
  const auto reference = torch::stack({torch::zeros({1, 2, 2}), torch::ones({1, 2, 2})});
  const auto outputs = torch::full({3, 1, 2, 2}, 0.5f);
  const auto samples = torch::tensor({1, 0, 1}, torch::kLong);
  // Every row is 0.5 away from its reference: 0.25.
  EXPECT_TRUE(torch::allclose(reconstruction_error(reference)(outputs, outputs, samples), torch::full({3}, 0.25f)));
  auto shifted = outputs.clone();
  shifted[1] += 0.5;  // row 1 (image 0, reference 0) now errs by 1
  EXPECT_TRUE(
      torch::allclose(reconstruction_error(reference)(shifted, shifted, samples), torch::tensor({0.25f, 1.f, 0.25f})));
}

TEST(Target, AnomalyScoreOfTheInputAgainstItsReconstruction) {
  // Row 0: the input's channel maximum is 0.9 at pixel (0,0), the reconstruction's 0.6:
  // m = |0.9 - 0.6| = 0.3 there and 0 elsewhere, so α = max(m) = 0.3. Row 1: identical, 0.
  auto inputs = torch::full({2, 2, 2, 2}, 0.2f);
  auto outputs = inputs.clone();
  inputs[0][1][0][0] = 0.9f;
  outputs[0][0][0][0] = 0.6f;
  EXPECT_TRUE(torch::allclose(anomaly_score()(outputs, inputs), torch::tensor({0.3f, 0.f}), 1e-6, 1e-6));
  // The top-25% mean of row 0's 4 pixels is its one largest: 0.3 again; the top 50% halves it.
  EXPECT_NEAR(
      anomaly_score(AnomalyScoreOptions().set_score(AnomalyScore::kTopK).set_top_percent(50))(outputs, inputs)[0]
          .item<float>(),
      0.15f, 1e-6);
  EXPECT_LOUPE_ERROR(anomaly_score()(torch::zeros({2, 2, 2, 1}), inputs), "anomaly score");
}

TEST(Target, InputDifferenceIgnoresTheModel) {
  const auto reference = torch::stack({torch::zeros({1, 2, 2}), torch::ones({1, 2, 2})});
  const auto inputs = torch::full({3, 1, 2, 2}, 0.5f);
  const auto samples = torch::tensor({1, 0, 1}, torch::kLong);
  const auto outputs = torch::rand({3, 7});  // anything: f(ξx) = MSE(ξ − ξx) reads no output
  EXPECT_TRUE(torch::allclose(input_difference(reference)(outputs, inputs, samples), torch::full({3}, 0.25f)));
  auto moved = inputs.clone();
  moved[2] = 1.0f;  // row 2 (image 1) now equals its reference
  EXPECT_TRUE(
      torch::allclose(input_difference(reference)(outputs, moved, samples), torch::tensor({0.25f, 0.25f, 0.f})));
  EXPECT_LOUPE_ERROR(input_difference(reference)(outputs, torch::zeros({3, 1, 2, 3}), samples), "input difference");
}

TEST(Target, TargetClassesFromTheCommandLine) {
  const auto predicted = torch::tensor({4, 1, 0}, torch::kLong);
  EXPECT_TRUE(torch::equal(target_classes("top1", predicted, 5), predicted));
  EXPECT_TRUE(torch::equal(target_classes("2", predicted, 5), torch::tensor({2, 2, 2}, torch::kLong)));
  EXPECT_LOUPE_ERROR(target_classes("5", predicted, 5), "out of range");
  EXPECT_LOUPE_ERROR(target_classes("-1", predicted, 5), "out of range");
  EXPECT_LOUPE_ERROR(target_classes("2x", predicted, 5), "expected top1 or a class index");
}

// Every method explains a class per image in one call exactly as it explains each image
// alone with that image's class: the engine and the gradient paths hand the target each
// row's sample.
TEST(Target, EveryExplainerWithPerImageClassesEqualsImageByImage) {
  testing::TanhNet net;
  torch::manual_seed(21);
  const auto x = torch::rand({3, 3, 12, 12});
  const auto classes = torch::tensor({2, 0, 1}, torch::kLong);
  ExplainOptions o;
  o.perturbation.set_samples(24)
      .set_seed(3)
      .set_max_evals(20)
      .set_rise_cells(3)
      .set_batch_size(8)
      .set_window(4)
      .set_stride(4);
  o.perturbation.segmentation.set_method("grid").set_grid_cell(4);
  o.gradient.set_samples(3).set_steps(4);
  for (const auto& name : explainer_names()) {
    SCOPED_TRACE(name);
    auto e = make_explainer(name, ExplainOptions(o).set_batch_size(2));
    const auto together = e->explain(net, x, class_logits(classes));
    for (int64_t i = 0; i < 3; ++i) {
      const auto alone = e->explain(net, x.slice(0, i, i + 1), class_logit(classes[i].item<int64_t>()));
      EXPECT_TRUE(torch::allclose(together.maps[i], alone.maps[0], 1e-4, 1e-5))
          << "image " << i << ": max difference " << (together.maps[i] - alone.maps[0]).abs().max().item<double>();
      EXPECT_NEAR(together.scores[i].item<double>(), alone.scores[0].item<double>(), 1e-5);
    }
  }
}

}  // namespace loupe
