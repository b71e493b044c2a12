#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/perturbation_detail.h"
#include "explain/perturbation_test_models.h"
#include "loupe/core/blur.h"
#include "loupe/core/error.h"
#include "loupe/explain/perturbation.h"
#include "loupe/models/zoo.h"
#include "test_util.h"

namespace loupe {
using test::contains;
using test::error_of;
using test::message_of;
using test::TempDir;
namespace {

// Output = the input, flattened: every target j reads composed pixel j back.
class FlattenNet : public TappedModel {
 public:
  FlattenNet() {
    add_stage("out", [](const torch::Tensor& x) { return x.flatten(1); });
  }
  std::string default_cam_tap() const override { return "out"; }
  std::string arch() const override { return "flatten"; }
};

std::vector<Target> every_output(int64_t n) {
  std::vector<Target> targets;
  for (int64_t j = 0; j < n; ++j) targets.push_back(class_logit(j));
  return targets;
}

}  // namespace

TEST(PerturbationEngine, ComposesPixelMasksExactly) {
  FlattenNet net;
  const auto x = torch::arange(8, torch::kFloat).view({2, 2, 2}) / 8;
  const auto fill = torch::full({2, 2, 2}, 0.5f);
  const auto masks = torch::tensor({1.f, 0.f, 0.f, 0.5f, 0.f, 1.f, 1.f, 0.f}).view({2, 2, 2});
  PerturbationEngine engine(net, PerturbationOptions());
  const auto s = engine.evaluate(
      x, fill, 2, [&](int64_t b, int64_t e) { return masks.slice(0, b, e); }, every_output(8));
  // Mask 0 keeps pixel (0,0), blends (1,1) halfway: channel 0 = [0, .5, .5, (3/8+.5)/2].
  const auto expected = torch::tensor({{0.f, .5f, .5f, .4375f, .5f, .5f, .5f, (7.f / 8 + .5f) / 2},
                                       {.5f, 1.f / 8, 2.f / 8, .5f, .5f, 5.f / 8, 6.f / 8, .5f}});
  EXPECT_TRUE(torch::allclose(s, expected, 1e-6, 1e-7)) << s;
  EXPECT_EQ(engine.evaluations(), 2);
}

TEST(PerturbationEngine, FeatureMasksGatherThroughTheLabelMap) {
  FlattenNet net;
  const auto x = torch::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 2, 2});
  const auto labels = torch::tensor({0, 1, 1, 2}, torch::kLong).view({2, 2});
  const auto keep = torch::tensor({{1.f, 0.f, 1.f}, {0.f, 1.f, 0.f}});
  PerturbationEngine engine(net, PerturbationOptions());
  const auto s = engine.evaluate_features(x, torch::zeros_like(x), keep, labels, every_output(4));
  EXPECT_TRUE(torch::equal(s, torch::tensor({{1.f, 0.f, 0.f, 4.f}, {0.f, 2.f, 3.f, 0.f}})));
}

TEST(PerturbationEngine, SameScoresAtAnyBatchSize) {
  torch::manual_seed(3);
  const auto labels = torch::arange(16, torch::kLong).view({4, 4}).div(2, "floor").remainder(4);
  testing::SegmentNet net(labels, torch::tensor({1.f, -2.f, 3.f, 0.5f}), {1.5, -2.0});
  const auto x = torch::rand({3, 4, 4});
  const auto keep = torch::randint(0, 2, {37, 4}).to(torch::kFloat);
  torch::Tensor first;
  for (int64_t batch : {1, 5, 64}) {
    PerturbationEngine engine(net, PerturbationOptions().set_batch_size(batch));
    const auto s = engine.evaluate_features(x, torch::zeros_like(x), keep, labels, {class_logit(0)});
    EXPECT_EQ(engine.evaluations(), 37);
    if (!first.defined()) first = s;
    EXPECT_TRUE(torch::allclose(s, first, 1e-6, 1e-7)) << "batch " << batch;
  }
}

TEST(PerturbationEngine, ChannelPassesStartAtTheTap) {
  testing::TwoChannelNet net;
  const auto x = torch::rand({2, 3, 3});
  PerturbationEngine engine(net, PerturbationOptions().set_batch_size(2));
  const auto [a, s] = engine.activations("features", x, {class_logit(0)});
  EXPECT_TRUE(torch::allclose(a, x));
  EXPECT_NEAR(s[0].item<float>(), (2 * x[0].mean() - x[1].mean()).item<float>(), 1e-6);
  const auto keep = torch::tensor({{1.f, 0.f}, {0.f, 1.f}, {0.f, 0.f}});
  const auto y = engine.evaluate_channels("features", a, 3, [&](int64_t b, int64_t e) { return keep.slice(0, b, e); },
                                          {class_logit(0)});
  EXPECT_TRUE(torch::allclose(y.flatten(), torch::stack({2 * x[0].mean(), -x[1].mean(), torch::zeros({})})));
  EXPECT_EQ(net.below, 1);  // only the activation pass ran the stage under the tap
  EXPECT_EQ(engine.evaluations(), 4);
}

TEST(Maskers, HandComputedFills) {
  const auto x = torch::tensor({0.f, 1.f, 2.f, 3.f, 4.f, 6.f, 8.f, 10.f}).view({2, 2, 2});
  const auto labels = torch::tensor({0, 0, 1, 1}, torch::kLong).view({2, 2});
  EXPECT_TRUE(
      torch::equal(segment_mean(x, labels), torch::tensor({.5f, .5f, 2.5f, 2.5f, 5.f, 5.f, 9.f, 9.f}).view({2, 2, 2})));
  auto o = PerturbationOptions().set_masker(Masker::kImageMean);
  EXPECT_TRUE(torch::equal(masker_fill(x, o, Masker::kAuto, 0),
                           torch::tensor({1.5f, 1.5f, 1.5f, 1.5f, 7.f, 7.f, 7.f, 7.f}).view({2, 2, 2})));
  EXPECT_TRUE(torch::equal(masker_fill(x, PerturbationOptions().set_fill_value(0.25), Masker::kConstant, 0),
                           torch::full({2, 2, 2}, 0.25f)));
  EXPECT_TRUE(torch::allclose(gaussian_blur_kernel(torch::full({3, 5, 7}, 0.3f), 31), torch::full({3, 5, 7}, 0.3f)));
  EXPECT_TRUE(torch::allclose(gaussian_blur_kernel(x, 1), x));
  // k = 3: σ = 0.8, taps ∝ exp(−1/1.28), 1, exp(−1/1.28); replicated border of [0,1] rows.
  const double t = std::exp(-1 / 1.28), edge = t / (1 + 2 * t);
  const auto blurred = gaussian_blur_kernel(torch::tensor({0.f, 1.f}).view({1, 1, 2}), 3);
  EXPECT_NEAR(blurred[0][0][0].item<float>(), edge, 1e-6);
  EXPECT_NEAR(blurred[0][0][1].item<float>(), 1 - edge, 1e-6);
  const auto r = torch::rand({2, 2, 2});
  EXPECT_TRUE(torch::equal(masker_fill(x, PerturbationOptions().set_replacement(r), Masker::kReplacement, 0), r));
  // The blur masker is shap's blur(k,k) (cv2.blur, a box); the Gaussian is its own masker.
  const auto photo = torch::rand({3, 9, 11});
  EXPECT_TRUE(torch::equal(masker_fill(photo, PerturbationOptions().set_blur_size(4), Masker::kBlur, 0),
                           box_blur(photo, 4, 4)));
  EXPECT_TRUE(torch::equal(masker_fill(photo, PerturbationOptions().set_blur_size(5), Masker::kGaussianBlur, 0),
                           gaussian_blur_kernel(photo, 5)));
}

TEST(PerturbationEngine, Bf16AutocastOnTheCpuStaysCloseToFloat) {
  // A linear model: bf16 keeps 8 bits of mantissa, so scores agree to about 1%; fp16 is
  // refused on the CPU.
  torch::manual_seed(5);
  const auto labels = torch::arange(16, torch::kLong).view({4, 4}).div(2, "floor").remainder(4);
  auto model = make_model({"small_cnn", 3, 4});
  model->eval();
  const auto x = torch::rand({3, 16, 16});
  const auto keep = torch::randint(0, 2, {20, 4}).to(torch::kFloat);
  const auto segments = torch::arange(256, torch::kLong).view({16, 16}).div(64, "floor");
  PerturbationEngine full(*model, PerturbationOptions());
  PerturbationEngine reduced(*model, PerturbationOptions().set_precision(Precision::kBFloat16));
  const auto a = full.evaluate_features(x, torch::zeros_like(x), keep, segments, {class_logit(1)});
  const auto b = reduced.evaluate_features(x, torch::zeros_like(x), keep, segments, {class_logit(1)});
  EXPECT_FALSE(torch::equal(a, b));  // bf16 did run
  EXPECT_TRUE(torch::allclose(a, b, 0.05, 0.05)) << (a - b).abs().max().item<float>();
  EXPECT_LOUPE_ERROR(PerturbationEngine(*model, PerturbationOptions().set_precision(Precision::kHalf)), "fp16");
}

// int8: scores follow the float model's (a few percent of their spread; the quantised copy
// is calibrated on the first batch), and the model's own forward is not what ran. Models
// the quantiser cannot handle are refused when the engine is made.
TEST(PerturbationEngine, Int8OnTheCpuFollowsFloat) {
  torch::manual_seed(6);
  auto model = make_model({"resnet18_small", 3, 4});
  model->eval();
  const auto x = torch::rand({3, 16, 16});
  const auto keep = torch::randint(0, 2, {40, 4}).to(torch::kFloat);
  const auto segments = torch::arange(256, torch::kLong).view({16, 16}).div(64, "floor");
  PerturbationEngine full(*model, PerturbationOptions());
  PerturbationEngine int8(*model, PerturbationOptions().set_precision(Precision::kInt8).set_batch_size(16));
  const auto a = full.evaluate_features(x, torch::zeros_like(x), keep, segments, {class_logit(1)});
  const auto b = int8.evaluate_features(x, torch::zeros_like(x), keep, segments, {class_logit(1)});
  EXPECT_FALSE(torch::equal(a, b));  // int8 did run
  const double spread = (a.max() - a.min()).item<double>();
  EXPECT_LT((a - b).abs().max().item<double>(), 0.1 * spread);
  const auto ca = a - a.mean(), cb = b - b.mean();
  EXPECT_GT(((ca * cb).sum() / (ca.norm() * cb.norm())).item<double>(), 0.99);
  FlattenNet net;
  EXPECT_LOUPE_ERROR(PerturbationEngine(net, PerturbationOptions().set_precision(Precision::kInt8)),
                     "precision int8: quantisation runs the zoo's CNNs on the CPU (got flatten");
}

TEST(Maskers, BadInputsNameTheInput) {
  const auto x = torch::rand({3, 4, 4});
  auto o = PerturbationOptions().set_masker(Masker::kReplacement).set_replacement(torch::rand({3, 5, 4}));
  EXPECT_NE(message_of([&] { masker_fill(x, o, Masker::kAuto, 0); }).find("replacement image"), std::string::npos);
  EXPECT_NE(message_of([&] {
              masker_fill(x, PerturbationOptions().set_masker(Masker::kSegmentMean), Masker::kAuto, 0);
            }).find("segment-mean"),
            std::string::npos);
  const auto wrong = torch::zeros({4, 5}, torch::kLong);
  EXPECT_NE(message_of([&] { check_label_map(wrong, 4, 4, "segments"); }).find("segments: label map of size 4x5"),
            std::string::npos);
  EXPECT_THROW(check_label_map(wrong.to(torch::kFloat), 4, 5, "segments"), Error);
  EXPECT_NE(message_of([&] { image_segments(x, PerturbationOptions().set_segments(wrong), 0); }).find("segments"),
            std::string::npos);
}

TEST(PerturbationEngine, BadInputsAreClearErrors) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 2, 3));
  struct ConvNet : TappedModel {
    explicit ConvNet(torch::nn::Conv2d c) : conv(register_module("conv", c)) {
      add_stage("features", [this](const torch::Tensor& x) { return conv(x); });
      add_stage("out", [](const torch::Tensor& x) { return x.mean({2, 3}); });
    }
    std::string default_cam_tap() const override { return "features"; }
    std::string arch() const override { return "conv"; }
    torch::nn::Conv2d conv;
  } net(conv);
  PerturbationEngine engine(net, PerturbationOptions());
  const auto gray = torch::rand({1, 6, 6});
  const auto ones = [](int64_t b, int64_t e) { return torch::ones({e - b, 6, 6}); };
  EXPECT_NE(message_of([&] { engine.evaluate(gray, gray, 1, ones, {class_logit(0)}); }).find("rejected"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              engine.evaluate(torch::rand({3, 6, 6}), gray, 1, ones, {class_logit(0)});
            }).find("fill image"),
            std::string::npos);
  EXPECT_NE(message_of([&] {
              engine.activations("layer9", torch::rand({3, 6, 6}), {class_logit(0)});
            }).find("layer9"),
            std::string::npos);
  EXPECT_THROW(PerturbationEngine(net, PerturbationOptions().set_batch_size(0)), Error);
}

}  // namespace loupe
