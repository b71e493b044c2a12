#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/explain/occlusion.h"
#include "loupe/models/zoo.h"

namespace loupe {
namespace {

// f(x) = Σ_p a_p x_p over a one-channel image: the drop of a window is Σ_{p∈window} a_p x_p.
class PixelLinearNet : public TappedModel {
 public:
  explicit PixelLinearNet(torch::Tensor a) : a_(std::move(a)) {
    add_stage("out", [this](const torch::Tensor& x) { return (x.flatten(1) * a_.flatten()).sum(1, true); });
  }
  std::string default_cam_tap() const override { return "out"; }
  std::string arch() const override { return "pixel_linear"; }

 private:
  torch::Tensor a_;
};

// Brute force: windows at multiples of the stride, ceil((n−w)/s)+1 per axis, clipped.
torch::Tensor expected_map(const torch::Tensor& contrib, int64_t window, int64_t stride) {
  const int64_t n = contrib.size(0), count = (n - window + stride - 1) / stride + 1;
  auto total = torch::zeros({n, n}), times = torch::zeros({n, n});
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < count; ++j) {
      const auto rows = torch::indexing::Slice(i * stride, std::min(n, i * stride + window));
      const auto cols = torch::indexing::Slice(j * stride, std::min(n, j * stride + window));
      const auto drop = contrib.index({rows, cols}).sum();
      total.index({rows, cols}) += drop;
      times.index({rows, cols}) += 1;
    }
  return total / times;
}

}  // namespace

TEST(Occlusion, HandCaseAverageDropOverCoveringWindows) {
  const auto a = torch::tensor({1.f, -2.f, 0.5f, 3.f, 1.f, 0.f, -1.f, 2.f, 4.f}).view({3, 3});
  const auto x = torch::tensor({0.5f, 1.f, 0.25f, 1.f, 0.f, 0.75f, 0.5f, 0.5f, 1.f}).view({1, 1, 3, 3});
  PixelLinearNet net(a);
  const auto o = ExplainOptions().set_normalize(false).set_signed(true);
  // Window 2 stride 1: four windows; pixel (0,0) only in the first: drop = 0.5 − 2 + 3 + 0 = 1.5.
  const auto attr = Occlusion(ExplainOptions(o).set_perturbation(PerturbationOptions().set_window(2).set_stride(1)))
                        .explain(net, x, class_logit(0));
  EXPECT_NEAR(attr.maps[0][0][0].item<float>(), 1.5f, 1e-6);
  EXPECT_TRUE(torch::allclose(attr.maps[0], expected_map(a * x[0][0], 2, 1), 1e-5, 1e-6));
  EXPECT_EQ(attr.model_evaluations, 5);
  EXPECT_NEAR(attr.scores[0].item<float>(), (a * x[0][0]).sum().item<float>(), 1e-6);
  // Window 2 stride 2: ceil(1/2)+1 = 2 positions per axis, the last clipped to one pixel.
  const auto clipped = Occlusion(ExplainOptions(o).set_perturbation(PerturbationOptions().set_window(2).set_stride(2)))
                           .explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(clipped.maps[0], expected_map(a * x[0][0], 2, 2), 1e-5, 1e-6));
  EXPECT_NEAR(clipped.maps[0][2][2].item<float>(), 4.f, 1e-6);  // the 1-pixel corner window
}

TEST(Occlusion, BaselineFillAndBadWindow) {
  const auto a = torch::ones({2, 2});
  PixelLinearNet net(a);
  const auto x = torch::full({1, 1, 2, 2}, 1.f);
  // Fill 0.25: every one-pixel window drops 0.75.
  const auto attr = Occlusion(ExplainOptions().set_normalize(false).set_perturbation(
                                  PerturbationOptions().set_window(1).set_stride(1).set_fill_value(0.25)))
                        .explain(net, x, class_logit(0));
  EXPECT_TRUE(torch::allclose(attr.maps[0], torch::full({2, 2}, 0.75f)));
  try {
    Occlusion(ExplainOptions().set_perturbation(PerturbationOptions().set_window(3))).explain(net, x, class_logit(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("occlusion window 3"), std::string::npos) << e.what();
  }
}

// On a zoo CNN the windows are computed incrementally (only each layer's occluded region);
// the maps equal those of full forwards, with the constant and the blur fills, for windows
// clipped by the edge too, and the model runs once more (the cached unoccluded pass).
TEST(Occlusion, IncrementalEqualsFullForwards) {
  torch::manual_seed(8);
  auto model = make_model({"resnet18_small", 3, 10});
  torch::manual_seed(9);
  const auto x = torch::rand({2, 3, 30, 30});
  for (const auto masker : {Masker::kConstant, Masker::kBlur}) {
    const auto p = PerturbationOptions().set_window(7).set_stride(4).set_masker(masker).set_blur_size(5);
    const auto o = ExplainOptions().set_normalize(false).set_signed(true);
    const auto fast = Occlusion(ExplainOptions(o).set_perturbation(p)).explain(*model, x, class_logit(3));
    const auto full = Occlusion(ExplainOptions(o).set_perturbation(PerturbationOptions(p).set_incremental(false)))
                          .explain(*model, x, class_logit(3));
    const double scale = full.maps.abs().max().item<double>();
    EXPECT_GT(scale, 0.0);
    EXPECT_LT((fast.maps - full.maps).abs().max().item<double>(), 1e-4 * scale);
    EXPECT_EQ(fast.model_evaluations, full.model_evaluations + 2);  // one cached base pass per image
  }
}

}  // namespace loupe
