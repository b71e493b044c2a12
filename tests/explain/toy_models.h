// Tiny models with hand-set weights for the explainer tests.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>

#include "loupe/models/taps.h"

namespace loupe::testing {

// One stage "out" = fn(x), e.g. a polynomial whose gradient is known in closed form.
class LambdaNet : public TappedModel {
 public:
  explicit LambdaNet(std::function<torch::Tensor(const torch::Tensor&)> fn) { add_stage("out", std::move(fn)); }
  std::string default_cam_tap() const override { return "out"; }
  std::string arch() const override { return "lambda"; }
};

// "features" = x (the identity, so CAM methods see the input as activations), then
// output k = Σ_chw W[k] ⊙ features + b[k]: dY_k/dA = W[k] everywhere.
class LinearNet : public TappedModel {
 public:
  explicit LinearNet(torch::Tensor weights, torch::Tensor bias = {})
      : weights_(std::move(weights)), bias_(bias.defined() ? bias : torch::zeros({weights_.size(0)})) {
    add_stage("features", [](const torch::Tensor& x) { return x * 1.0; });
    add_stage("fc",
              [this](const torch::Tensor& a) { return torch::matmul(a.flatten(1), weights_.flatten(1).t()) + bias_; });
  }
  std::string default_cam_tap() const override { return "features"; }
  std::string arch() const override { return "linear"; }

 private:
  torch::Tensor weights_, bias_;
};

// features = conv(x) [N,K,h,w] → global average pool → linear: Grad-CAM's gradient is
// W_ck/(h·w) at every location, the setting where it equals CAM (Zhou et al. 2016).
class GapLinearNet : public TappedModel {
 public:
  GapLinearNet(int64_t channels, int64_t classes) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, channels, 3).padding(1).stride(2)));
    fc = register_module("fc", torch::nn::Linear(channels, classes));
    add_stage("features", [this](const torch::Tensor& x) { return conv(x); });
    add_stage("pool", [](const torch::Tensor& x) { return x.mean({2, 3}); });
    add_stage("fc", [this](const torch::Tensor& x) { return fc(x); });
  }
  std::string default_cam_tap() const override { return "features"; }
  std::string arch() const override { return "gap_linear"; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};
};

// A small smooth nonlinear CNN (tanh), seeded: conv → tanh → conv → tanh → GAP → linear.
class TanhNet : public TappedModel {
 public:
  explicit TanhNet(int64_t in_channels = 3) {
    torch::manual_seed(7);
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, 6, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 8, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(8, 3));
    add_stage("conv1", [this](const torch::Tensor& x) { return torch::tanh(conv1(x)); });
    add_stage("conv2", [this](const torch::Tensor& x) { return torch::tanh(conv2(x)); });
    add_stage("pool", [](const torch::Tensor& x) { return x.mean({2, 3}); });
    add_stage("fc", [this](const torch::Tensor& x) { return fc(x); });
  }
  std::string default_cam_tap() const override { return "conv2"; }
  std::string arch() const override { return "tanh_net"; }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace loupe::testing
