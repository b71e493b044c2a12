#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "error_matchers.h"
#include "loupe/core/fs.h"
#include "loupe/models/incremental.h"
#include "loupe/models/torchscript.h"
#include "loupe/models/zoo.h"
#include "models/module_checks.h"
#include "models/script_models.h"
#include "test_util.h"

namespace loupe {
namespace {

// An eval-mode zoo model with seeded weights and BatchNorms away from the identity.
std::shared_ptr<TappedModel> seeded_model(const std::string& arch, int64_t channels, uint64_t seed) {
  torch::manual_seed(seed);
  auto model = make_model({arch, channels, 10});
  test::randomise_batch_norms(*model, seed);
  model->eval();
  return model;
}

// Copies of `image` [C,H,W], each with its box [y0,x0,y1,x1] filled by uniform noise.
torch::Tensor occluded_copies(const torch::Tensor& image, const torch::Tensor& boxes) {
  auto out = image.unsqueeze(0).repeat({boxes.size(0), 1, 1, 1});
  for (int64_t i = 0; i < boxes.size(0); ++i) {
    const auto b = boxes[i];
    const int64_t y0 = b[0].item<int64_t>(), x0 = b[1].item<int64_t>();
    const int64_t h = b[2].item<int64_t>() - y0, w = b[3].item<int64_t>() - x0;
    out[i].narrow(1, y0, h).narrow(2, x0, w).copy_(torch::rand({image.size(0), h, w}));
  }
  return out;
}

// Boxes of side `side` (clipped at the image's edge) at seeded random places, plus the four
// corners, which exercise the windows shifted back inside the map.
torch::Tensor boxes_of_side(int64_t side, int64_t height, int64_t width, int64_t random) {
  std::vector<int64_t> v;
  auto push = [&](int64_t y, int64_t x) {
    v.insert(v.end(), {y, x, std::min(height, y + side), std::min(width, x + side)});
  };
  push(0, 0);
  push(0, width - 2);
  push(height - 3, 0);
  push(height - side, width - side);
  for (int64_t i = 0; i < random; ++i)
    push(torch::randint(height, {1}).item<int64_t>(), torch::randint(width, {1}).item<int64_t>());
  return torch::tensor(v, torch::kLong).view({-1, 4});
}

struct Case {
  std::string arch;
  int64_t channels, height, width, side;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.arch << " " << c.channels << "x" << c.height << "x" << c.width << " box " << c.side;
}

class IncrementalEqualsFull : public ::testing::TestWithParam<Case> {};

TEST_P(IncrementalEqualsFull, OnBoxesAnywhere) {
  const auto c = GetParam();
  auto model = seeded_model(c.arch, c.channels, 3);
  torch::manual_seed(4);
  const auto image = torch::rand({c.channels, c.height, c.width});
  const auto boxes = boxes_of_side(c.side, c.height, c.width, 8);
  const auto inputs = occluded_copies(image, boxes);
  torch::NoGradGuard no_grad;
  const auto full = model->forward(inputs);
  IncrementalForward inc(*model);
  EXPECT_TRUE(torch::allclose(inc.set_base(image), model->forward(image.unsqueeze(0)), 1e-5, 1e-5));
  const auto fast = inc.forward(inputs, boxes);
  EXPECT_LT((fast - full).abs().max().item<double>(), 1e-5 * full.abs().max().item<double>() + 1e-6)
      << c.arch << " " << c.height << "x" << c.width;
  EXPECT_GT(inc.last_cost_fraction(), 0.0);
  EXPECT_LE(inc.last_cost_fraction(), 1.0);
}

INSTANTIATE_TEST_SUITE_P(Zoo, IncrementalEqualsFull,
                         ::testing::Values(Case{"small_cnn", 1, 28, 28, 4},
                                           Case{"small_cnn", 3, 29, 31, 5},  // odd sides: ceil-mode pools
                                           Case{"resnet18", 3, 64, 64, 8}, Case{"resnet18", 3, 70, 66, 12},
                                           Case{"resnet18_small", 1, 28, 28, 3}, Case{"resnet50", 3, 64, 64, 8},
                                           Case{"resnet50_small", 3, 32, 32, 4}));

// The saving is real: a small box on ResNet-18 at 224 recomputes under half the
// convolutions' work (the stem and layer1 on a few percent of their maps), a box
// covering the image recomputes everything, and a threshold of 0 forces every layer whole.
TEST(Incremental, ComputesLessForSmallBoxes) {
  auto model = seeded_model("resnet18", 3, 5);
  const auto image = torch::rand({3, 224, 224});
  IncrementalForward inc(*model);
  inc.set_base(image);
  const auto small = torch::tensor({100, 100, 108, 108}, torch::kLong).view({1, 4});
  inc.forward(occluded_copies(image, small), small);
  EXPECT_LT(inc.last_cost_fraction(), 0.5);
  EXPECT_GT(inc.last_cost_fraction(), 0.2);  // layer3 and layer4 are whole already
  const auto everything = torch::tensor({0, 0, 224, 224}, torch::kLong).view({1, 4});
  inc.forward(occluded_copies(image, everything), everything);
  EXPECT_DOUBLE_EQ(inc.last_cost_fraction(), 1.0);

  IncrementalForward whole(*model, 1e-9);
  whole.set_base(image);
  whole.forward(occluded_copies(image, small), small);
  EXPECT_DOUBLE_EQ(whole.last_cost_fraction(), 1.0);
}

// A batch mixing box sizes is computed at the largest size, with the same outputs.
TEST(Incremental, MixedBoxSizesInOneBatch) {
  auto model = seeded_model("resnet18_small", 3, 6);
  const auto image = torch::rand({3, 32, 32});
  const auto boxes = torch::tensor({0, 0, 2, 2, 10, 12, 17, 14, 30, 5, 32, 6, 3, 3, 4, 4}, torch::kLong).view({4, 4});
  const auto inputs = occluded_copies(image, boxes);
  IncrementalForward inc(*model);
  inc.set_base(image);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(inc.forward(inputs, boxes), model->forward(inputs), 1e-4, 1e-5));
}

TEST(Incremental, BadInput) {
  auto model = seeded_model("small_cnn", 1, 1);
  IncrementalForward inc(*model);
  const auto box = torch::tensor({0, 0, 4, 4}, torch::kLong).view({1, 4});
  EXPECT_LOUPE_ERROR(inc.forward(torch::rand({1, 1, 28, 28}), box), "set_base before forward");
  inc.set_base(torch::rand({1, 28, 28}));
  EXPECT_LOUPE_ERROR(inc.forward(torch::rand({1, 1, 20, 28}), box), "like the base image");
  EXPECT_LOUPE_ERROR(inc.forward(torch::rand({2, 1, 28, 28}), box), "expected boxes [2,4]");
  const auto outside = torch::tensor({20, 0, 30, 4}, torch::kLong).view({1, 4});
  EXPECT_LOUPE_ERROR(inc.forward(torch::rand({1, 1, 28, 28}), outside), "box 0 (20,0,30,4)");
  const auto empty = torch::tensor({3, 3, 3, 5}, torch::kLong).view({1, 4});
  EXPECT_LOUPE_ERROR(inc.forward(torch::rand({1, 1, 28, 28}), empty), "0 <= y0 < y1 <= 28");
  EXPECT_LOUPE_ERROR(IncrementalForward(*model, 0.0), "full fraction 0");

  test::TempDir dir;
  testing::write_residual_script(dir.path() / "net.pt", testing::ResidualWeights(1));
  auto scripted = load_torchscript_model(dir.path() / "net.pt");
  EXPECT_FALSE(IncrementalForward::supports(*scripted));
  EXPECT_TRUE(IncrementalForward::supports(*model));
  EXPECT_LOUPE_ERROR(IncrementalForward{*scripted}, "is not one of the zoo's CNNs");
}

}  // namespace
}  // namespace loupe
