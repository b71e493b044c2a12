#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "loupe/models/resnet.h"
#include "loupe/models/zoo.h"
#include "models/module_checks.h"

namespace loupe {
using test::parameter_count;
using test::randomise_batch_norms;
using test::shape;
namespace {

using State = std::map<std::string, torch::Tensor>;

State state_of(torch::nn::Module& model) {
  State s;
  for (const auto& p : model.named_parameters()) s[p.key()] = p.value().detach();
  for (const auto& b : model.named_buffers()) s[b.key()] = b.value();
  return s;
}

// torchvision's state_dict keys, written out from torchvision/models/resnet.py: blocks with
// 2 (BasicBlock) or 3 (Bottleneck) conv/bn pairs, a projection where the shape changes.
std::set<std::string> torchvision_keys(int convs_per_block, std::array<int, 4> layers, bool downsample_in_layer1) {
  const std::vector<std::string> bn = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
  std::set<std::string> keys = {"conv1.weight", "fc.weight", "fc.bias"};
  for (const auto& b : bn) keys.insert("bn1." + b);
  for (int l = 1; l <= 4; ++l) {
    for (int i = 0; i < layers[l - 1]; ++i) {
      const std::string p = "layer" + std::to_string(l) + "." + std::to_string(i) + ".";
      for (int c = 1; c <= convs_per_block; ++c) {
        keys.insert(p + "conv" + std::to_string(c) + ".weight");
        for (const auto& b : bn) keys.insert(p + "bn" + std::to_string(c) + "." + b);
      }
      if (i == 0 && (l > 1 || downsample_in_layer1)) {
        keys.insert(p + "downsample.0.weight");
        for (const auto& b : bn) keys.insert(p + "downsample.1." + b);
      }
    }
  }
  return keys;
}

std::set<std::string> key_set(const State& s) {
  std::set<std::string> keys;
  for (const auto& [k, v] : s) keys.insert(k);
  return keys;
}

// torchvision's forward, re-written with functional ops from the state_dict alone: it fixes
// where strides, paddings and projections go, independently of how resnet.cpp wires modules.
torch::Tensor reference_forward(const State& s, torch::Tensor x, bool bottleneck, std::array<int, 4> layers,
                                bool small_stem) {
  auto conv = [&](const std::string& p, const torch::Tensor& in, int64_t stride, int64_t pad) {
    return torch::conv2d(in, s.at(p + ".weight"), {}, stride, pad);
  };
  auto bn = [&](const std::string& p, const torch::Tensor& in) {
    return torch::batch_norm(in, s.at(p + ".weight"), s.at(p + ".bias"), s.at(p + ".running_mean"),
                             s.at(p + ".running_var"), false, 0.1, 1e-5, false);
  };
  x = torch::relu(bn("bn1", small_stem ? conv("conv1", x, 1, 1) : conv("conv1", x, 2, 3)));
  if (!small_stem) x = torch::max_pool2d(x, 3, 2, 1);
  for (int l = 1; l <= 4; ++l) {
    for (int i = 0; i < layers[l - 1]; ++i) {
      const std::string p = "layer" + std::to_string(l) + "." + std::to_string(i);
      const int64_t stride = (i == 0 && l > 1) ? 2 : 1;
      const auto identity =
          s.count(p + ".downsample.0.weight") ? bn(p + ".downsample.1", conv(p + ".downsample.0", x, stride, 0)) : x;
      torch::Tensor out;
      if (!bottleneck) {
        out = torch::relu(bn(p + ".bn1", conv(p + ".conv1", x, stride, 1)));
        out = bn(p + ".bn2", conv(p + ".conv2", out, 1, 1));
      } else {  // v1.5: the stride is on the 3x3 conv
        out = torch::relu(bn(p + ".bn1", conv(p + ".conv1", x, 1, 0)));
        out = torch::relu(bn(p + ".bn2", conv(p + ".conv2", out, stride, 1)));
        out = bn(p + ".bn3", conv(p + ".conv3", out, 1, 0));
      }
      x = torch::relu(out + identity);
    }
  }
  return torch::linear(x.mean({2, 3}), s.at("fc.weight"), s.at("fc.bias"));
}

void expect_matches_reference(const std::string& arch, int64_t channels, int64_t size) {
  torch::manual_seed(3);
  auto model = make_model({arch, channels, 7});
  randomise_batch_norms(*model, 11);
  model->eval();
  const auto x = torch::rand({2, channels, size, size});
  const bool bottleneck = arch.rfind("resnet50", 0) == 0;
  const bool small = arch.find("_small") != std::string::npos;
  const std::array<int, 4> layers = bottleneck ? std::array<int, 4>{3, 4, 6, 3} : std::array<int, 4>{2, 2, 2, 2};
  torch::NoGradGuard no_grad;
  const auto got = model->forward(x);
  const auto want = reference_forward(state_of(*model), x, bottleneck, layers, small);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_GT(want.abs().max().item<double>(), 1e-2) << "degenerate reference output";
  EXPECT_TRUE(torch::allclose(got, want, 1e-4, 1e-4 * want.abs().max().item<double>()))
      << arch << ": max diff " << (got - want).abs().max().item<double>();
}

}  // namespace

TEST(ResNet, ParameterCountsMatchTorchvision) {
  auto r18 = make_model({"resnet18", 3, 1000});
  auto r50 = make_model({"resnet50", 3, 1000});
  EXPECT_EQ(parameter_count(*r18), 11689512);
  EXPECT_EQ(parameter_count(*r50), 25557032);
  // The small stem trades the 7x7 conv1 (9408 weights) for a 3x3 one (1728).
  EXPECT_EQ(parameter_count(*make_model({"resnet18_small", 3, 1000})), 11689512 - 9408 + 1728);
  // Grey input and 10 classes: conv1 loses 2/3 of its weights, fc keeps 10 of 1000 rows.
  EXPECT_EQ(parameter_count(*make_model({"resnet18", 1, 10})), 11689512 - 6272 - 990 * 513);
}

TEST(ResNet, StateDictKeysMatchTorchvision) {
  auto r18 = make_model({"resnet18", 3, 1000});
  const State s18 = state_of(*r18);
  EXPECT_EQ(r18->named_parameters().size(), 62u);
  EXPECT_EQ(r18->named_buffers().size(), 60u);
  EXPECT_EQ(s18.size(), 122u);
  EXPECT_EQ(key_set(s18), torchvision_keys(2, {2, 2, 2, 2}, false));

  const std::map<std::string, std::vector<int64_t>> shapes18 = {{"conv1.weight", {64, 3, 7, 7}},
                                                                {"bn1.running_mean", {64}},
                                                                {"layer1.0.conv1.weight", {64, 64, 3, 3}},
                                                                {"layer1.0.bn1.running_mean", {64}},
                                                                {"layer1.1.bn2.num_batches_tracked", {}},
                                                                {"layer2.0.conv1.weight", {128, 64, 3, 3}},
                                                                {"layer2.0.downsample.0.weight", {128, 64, 1, 1}},
                                                                {"layer2.0.downsample.1.weight", {128}},
                                                                {"layer2.0.downsample.1.running_var", {128}},
                                                                {"layer3.0.downsample.0.weight", {256, 128, 1, 1}},
                                                                {"layer4.1.conv2.weight", {512, 512, 3, 3}},
                                                                {"fc.weight", {1000, 512}},
                                                                {"fc.bias", {1000}}};
  for (const auto& [key, expected] : shapes18) {
    ASSERT_TRUE(s18.count(key)) << key;
    EXPECT_EQ(shape(s18.at(key)), expected) << key;
  }
  EXPECT_EQ(s18.at("layer1.1.bn2.num_batches_tracked").scalar_type(), torch::kLong);

  auto r50 = make_model({"resnet50", 3, 1000});
  const State s50 = state_of(*r50);
  EXPECT_EQ(r50->named_parameters().size(), 161u);
  EXPECT_EQ(s50.size(), 320u);
  EXPECT_EQ(key_set(s50), torchvision_keys(3, {3, 4, 6, 3}, true));
  const std::map<std::string, std::vector<int64_t>> shapes50 = {{"layer1.0.conv1.weight", {64, 64, 1, 1}},
                                                                {"layer1.0.conv3.weight", {256, 64, 1, 1}},
                                                                {"layer1.0.downsample.0.weight", {256, 64, 1, 1}},
                                                                {"layer2.0.conv1.weight", {128, 256, 1, 1}},
                                                                {"layer2.0.conv2.weight", {128, 128, 3, 3}},
                                                                {"layer2.0.downsample.0.weight", {512, 256, 1, 1}},
                                                                {"layer4.2.conv3.weight", {2048, 512, 1, 1}},
                                                                {"layer4.2.bn3.running_var", {2048}},
                                                                {"fc.weight", {1000, 2048}}};
  for (const auto& [key, expected] : shapes50) {
    ASSERT_TRUE(s50.count(key)) << key;
    EXPECT_EQ(shape(s50.at(key)), expected) << key;
  }
}

TEST(ResNet, MatchesFunctionalTorchvisionForward) {
  expect_matches_reference("resnet18", 3, 64);
  expect_matches_reference("resnet18_small", 1, 28);
  expect_matches_reference("resnet50", 3, 64);
  expect_matches_reference("resnet50_small", 3, 28);
}

TEST(ResNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = make_model({"resnet18", 3, 1000});
  const State s = state_of(*model);
  // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (out * k * k)).
  const double std_conv = s.at("layer4.0.conv2.weight").std().item<double>();
  EXPECT_NEAR(std_conv, std::sqrt(2.0 / (512 * 9)), 0.01 * std::sqrt(2.0 / (512 * 9)));
  const double std_proj = s.at("layer3.0.downsample.0.weight").std().item<double>();
  EXPECT_NEAR(std_proj, std::sqrt(2.0 / 256), 0.03 * std::sqrt(2.0 / 256));
  EXPECT_TRUE(torch::equal(s.at("layer2.1.bn1.weight"), torch::ones({128})));
  EXPECT_TRUE(torch::equal(s.at("layer2.0.downsample.1.bias"), torch::zeros({128})));
  // nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
  EXPECT_LE(s.at("fc.weight").abs().max().item<double>(), 1.0 / std::sqrt(512.0));
  EXPECT_GT(s.at("fc.weight").abs().max().item<double>(), 0.99 / std::sqrt(512.0));
  for (auto& m : model->modules(false))
    if (auto* b = m->as<torch::nn::BatchNorm2dImpl>()) {
      EXPECT_DOUBLE_EQ(b->options.eps(), 1e-5);
      EXPECT_DOUBLE_EQ(b->options.momentum().value(), 0.1);
    }
}

TEST(ResNet, TapShapesWithStandardStemAt224) {
  auto model = make_model({"resnet18", 3, 1000});
  model->eval();
  EXPECT_EQ(model->tap_names(),
            (std::vector<std::string>{"stem", "layer1", "layer2", "layer3", "layer4", "pool", "fc"}));
  EXPECT_EQ(model->default_cam_tap(), "layer4");
  Taps taps;
  for (const auto& t : model->tap_names()) taps.record(t);
  torch::NoGradGuard no_grad;
  const auto out = model->forward(torch::rand({1, 3, 224, 224}), &taps);
  EXPECT_EQ(shape(out), (std::vector<int64_t>{1, 1000}));
  EXPECT_EQ(shape(taps.recorded("stem")), (std::vector<int64_t>{1, 64, 56, 56}));
  EXPECT_EQ(shape(taps.recorded("layer1")), (std::vector<int64_t>{1, 64, 56, 56}));
  EXPECT_EQ(shape(taps.recorded("layer2")), (std::vector<int64_t>{1, 128, 28, 28}));
  EXPECT_EQ(shape(taps.recorded("layer3")), (std::vector<int64_t>{1, 256, 14, 14}));
  EXPECT_EQ(shape(taps.recorded("layer4")), (std::vector<int64_t>{1, 512, 7, 7}));
  EXPECT_EQ(shape(taps.recorded("pool")), (std::vector<int64_t>{1, 512}));

  auto r50 = make_model({"resnet50", 3, 1000});
  r50->eval();
  Taps t50;
  t50.record("layer4").record("pool");
  EXPECT_EQ(shape(r50->forward(torch::rand({1, 3, 224, 224}), &t50)), (std::vector<int64_t>{1, 1000}));
  EXPECT_EQ(shape(t50.recorded("layer4")), (std::vector<int64_t>{1, 2048, 7, 7}));
  EXPECT_EQ(shape(t50.recorded("pool")), (std::vector<int64_t>{1, 2048}));
}

TEST(ResNet, TapShapesWithSmallStemAt28) {
  auto model = make_model({"resnet18_small", 1, 10});
  model->eval();
  Taps taps;
  for (const auto& t : model->tap_names()) taps.record(t);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(shape(model->forward(torch::rand({2, 1, 28, 28}), &taps)), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(shape(taps.recorded("stem")), (std::vector<int64_t>{2, 64, 28, 28}));
  EXPECT_EQ(shape(taps.recorded("layer1")), (std::vector<int64_t>{2, 64, 28, 28}));
  EXPECT_EQ(shape(taps.recorded("layer2")), (std::vector<int64_t>{2, 128, 14, 14}));
  EXPECT_EQ(shape(taps.recorded("layer3")), (std::vector<int64_t>{2, 256, 7, 7}));
  EXPECT_EQ(shape(taps.recorded("layer4")), (std::vector<int64_t>{2, 512, 4, 4}));
  EXPECT_EQ(shape(taps.recorded("pool")), (std::vector<int64_t>{2, 512}));
  EXPECT_EQ(shape(state_of(*model).at("conv1.weight")), (std::vector<int64_t>{64, 1, 3, 3}));
}

TEST(ResNet, ForwardFromEveryTapEqualsForward) {
  for (const std::string arch : {"resnet18", "resnet50_small"}) {
    torch::manual_seed(5);
    auto model = make_model({arch, 3, 10});
    randomise_batch_norms(*model, 2);
    model->eval();
    Taps taps;
    for (const auto& t : model->tap_names()) taps.record(t);
    torch::NoGradGuard no_grad;
    const auto full = model->forward(torch::rand({2, 3, 32, 32}), &taps);
    for (const auto& t : model->tap_names()) {
      const auto from = model->forward_from(t, taps.recorded(t));
      EXPECT_TRUE(torch::allclose(from, full, 1e-5, 1e-6)) << arch << " from " << t;
    }
  }
}

}  // namespace loupe
