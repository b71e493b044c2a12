#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

#include "loupe/core/error.h"
#include "loupe/models/safetensors.h"
#include "loupe/models/zoo.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::message_of;
namespace {

// conv1 → bn1 → ReLU → global pool → fc, registered under torchvision's names.
class TinyNet : public TappedModel {
 public:
  TinyNet() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3).bias(false)));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(2));
    fc = register_module("fc", torch::nn::Linear(2, 3));
    add_stage("layer1", [this](const torch::Tensor& x) { return torch::relu(bn1(conv1(x))); });
    add_stage("pool", [](const torch::Tensor& x) { return x.mean({2, 3}); });
    add_stage("fc", [this](const torch::Tensor& x) { return fc(x); });
  }
  std::string default_cam_tap() const override { return "layer1"; }
  std::string arch() const override { return "tiny"; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

// Every parameter and buffer set to distinct, seeded values, so a copy that skipped or
// swapped a tensor would show.
void randomise(TinyNet& net, int64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& p : net.parameters()) p.copy_(at::randn(p.sizes(), gen));
  net.bn1->running_mean.copy_(at::randn({2}, gen));
  net.bn1->running_var.copy_(at::rand({2}, gen) + 0.5);
  net.bn1->num_batches_tracked.fill_(seed + 7);
}

std::map<std::string, torch::Tensor> state(TinyNet& net) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : net.named_parameters()) out[p.key()] = p.value().detach().clone();
  for (const auto& b : net.named_buffers()) out[b.key()] = b.value().clone();
  return out;
}

bool same_state(TinyNet& a, TinyNet& b) {
  const auto sa = state(a), sb = state(b);
  if (sa.size() != sb.size()) return false;
  for (const auto& [name, t] : sa)
    if (!sb.count(name) || !torch::equal(t, sb.at(name))) return false;
  return true;
}

std::string load_error(TinyNet& net, const fs::path& path) {
  try {
    load_torchvision_weights(net, path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a loupe::Error loading " << path;
  return "";
}

}  // namespace

TEST(TorchvisionWeights, RoundTripCopiesEveryParameterAndBuffer) {
  TempDir dir;
  TinyNet a, b;
  randomise(a, 1);
  randomise(b, 2);
  ASSERT_FALSE(same_state(a, b));
  const auto path = dir.path() / "tiny.safetensors";
  save_torchvision_weights(a, path);

  const auto st = read_safetensors(path);
  std::vector<std::string> names;
  for (const auto& [name, t] : st.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"bn1.bias", "bn1.num_batches_tracked", "bn1.running_mean",
                                             "bn1.running_var", "bn1.weight", "conv1.weight", "fc.bias", "fc.weight"}));
  EXPECT_EQ(st.tensors.at("bn1.num_batches_tracked").scalar_type(), torch::kLong);
  EXPECT_EQ(st.metadata.at("arch"), "tiny");

  load_torchvision_weights(b, path);
  EXPECT_TRUE(same_state(a, b));
  EXPECT_EQ(b.bn1->num_batches_tracked.item<int64_t>(), 8);
  // Same weights, same function: eval-mode outputs agree exactly.
  a.eval(), b.eval();
  const auto x = torch::rand({2, 1, 6, 6});
  EXPECT_TRUE(torch::equal(a.forward(x), b.forward(x)));
  // Loading must not make parameters leaves without gradients.
  EXPECT_TRUE(b.fc->weight.requires_grad());
}

TEST(TorchvisionWeights, ConvertsDtypeAndToleratesMissingStepCounter) {
  TempDir dir;
  TinyNet a, b;
  randomise(a, 3);
  SafeTensors st;
  for (const auto& [name, t] : state(a))
    if (name != "bn1.num_batches_tracked") st.tensors[name] = t.to(torch::kDouble);
  const auto path = dir.path() / "f64.safetensors";
  write_safetensors(path, st);
  const int64_t steps_before = b.bn1->num_batches_tracked.item<int64_t>();
  load_torchvision_weights(b, path);
  EXPECT_TRUE(torch::equal(b.fc->weight, state(a).at("fc.weight")));
  EXPECT_EQ(b.fc->weight.scalar_type(), torch::kFloat);
  EXPECT_EQ(b.bn1->num_batches_tracked.item<int64_t>(), steps_before);
}

TEST(TorchvisionWeights, WrongShapeMissingAndExtraKeysFailClearly) {
  TempDir dir;
  TinyNet a, b;
  randomise(a, 4);
  randomise(b, 5);
  const auto before = state(b);
  const auto good = dir.path() / "good.safetensors";
  save_torchvision_weights(a, good);

  auto st = read_safetensors(good);
  st.tensors["fc.weight"] = torch::zeros({4, 2});
  const auto wrong_shape = dir.path() / "wrong_shape.safetensors";
  write_safetensors(wrong_shape, st);
  auto msg = load_error(b, wrong_shape);
  EXPECT_TRUE(contains(msg, "wrong_shape.safetensors") && contains(msg, "fc.weight")) << msg;
  EXPECT_TRUE(contains(msg, "[4, 2]") && contains(msg, "[3, 2]")) << msg;

  st = read_safetensors(good);
  st.tensors.erase("conv1.weight");
  const auto missing = dir.path() / "missing.safetensors";
  write_safetensors(missing, st);
  msg = load_error(b, missing);
  EXPECT_TRUE(contains(msg, "missing.safetensors") && contains(msg, "conv1.weight") && contains(msg, "missing")) << msg;

  st = read_safetensors(good);
  for (int i = 0; i < 7; ++i) st.tensors["layer9." + std::to_string(i) + ".weight"] = torch::zeros({1});
  const auto extra = dir.path() / "extra.safetensors";
  write_safetensors(extra, st);
  msg = load_error(b, extra);
  EXPECT_TRUE(contains(msg, "extra.safetensors") && contains(msg, "layer9.0.weight")) << msg;
  EXPECT_TRUE(contains(msg, "2 more")) << msg;  // lists 5 of the 7
  EXPECT_FALSE(contains(msg, "layer9.6.weight")) << msg;

  // A file from another architecture says so.
  st = read_safetensors(good);
  st.metadata["arch"] = "resnet18";
  st.tensors.erase("fc.bias");
  const auto other = dir.path() / "other.safetensors";
  write_safetensors(other, st);
  msg = load_error(b, other);
  EXPECT_TRUE(contains(msg, "resnet18") && contains(msg, "fc.bias")) << msg;

  // Every check runs before any copy: failed loads left the model untouched.
  const auto after = state(b);
  for (const auto& [name, t] : before) EXPECT_TRUE(torch::equal(t, after.at(name))) << name;
}

}  // namespace loupe
