#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/models/taps.h"

namespace loupe {
namespace {

// y = 3 * (2 * x + 1): stages "double", "plus1", "triple".
class ToyModel : public TappedModel {
 public:
  ToyModel() {
    add_stage("double", [](const torch::Tensor& x) { return 2 * x; });
    add_stage("plus1", [](const torch::Tensor& x) { return x + 1; });
    add_stage("triple", [](const torch::Tensor& x) { return 3 * x; });
  }
  std::string default_cam_tap() const override { return "plus1"; }
  std::string arch() const override { return "toy"; }
};

}  // namespace

TEST(Taps, RecordKeepsIntermediateAndGradientFlows) {
  ToyModel model;
  auto x = torch::tensor({1.0f, 2.0f}, torch::requires_grad());
  Taps taps;
  taps.record("plus1");
  auto y = model.forward(x, &taps);
  EXPECT_TRUE(torch::equal(y, torch::tensor({9.0f, 15.0f})));
  const auto& mid = taps.recorded("plus1");
  EXPECT_TRUE(torch::equal(mid, torch::tensor({3.0f, 5.0f})));
  auto g = torch::autograd::grad({y.sum()}, {mid})[0];
  EXPECT_TRUE(torch::equal(g, torch::tensor({3.0f, 3.0f})));
}

TEST(Taps, ReplaceChangesDownstream) {
  ToyModel model;
  Taps taps;
  taps.replace("double", [](const torch::Tensor& t) { return torch::zeros_like(t); });
  auto y = model.forward(torch::tensor({5.0f}), &taps);
  EXPECT_FLOAT_EQ(y.item<float>(), 3.0f);
}

TEST(Taps, ForwardFromRunsOnlyLaterStages) {
  ToyModel model;
  auto y = model.forward_from("double", torch::tensor({10.0f}));
  EXPECT_FLOAT_EQ(y.item<float>(), 33.0f);
  EXPECT_FLOAT_EQ(model.forward_from("triple", torch::tensor({10.0f})).item<float>(), 10.0f);
}

TEST(Taps, ForwardUntilStopsAtTheTap) {
  ToyModel model;
  EXPECT_FLOAT_EQ(model.forward_until("double", torch::tensor({10.0f})).item<float>(), 20.0f);
  EXPECT_FLOAT_EQ(model.forward_until("plus1", torch::tensor({10.0f})).item<float>(), 21.0f);
  EXPECT_FLOAT_EQ(model.forward_until("triple", torch::tensor({10.0f})).item<float>(), 63.0f);
  // An edit at the tap itself is in the result.
  Taps taps;
  taps.replace("plus1", [](const torch::Tensor& t) { return -t; });
  EXPECT_FLOAT_EQ(model.forward_until("plus1", torch::tensor({10.0f}), &taps).item<float>(), -21.0f);
  EXPECT_THROW(model.forward_until("nope", torch::ones({1})), Error);
}

TEST(Taps, UnknownNameListsValidOnes) {
  ToyModel model;
  Taps taps;
  taps.record("layer9");
  try {
    model.forward(torch::ones({1}), &taps);
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer9"), std::string::npos);
    EXPECT_NE(msg.find("double, plus1, triple"), std::string::npos);
  }
  EXPECT_THROW(model.forward_from("nope", torch::ones({1})), Error);
  EXPECT_THROW(taps.recorded("double"), Error);
}

}  // namespace loupe
