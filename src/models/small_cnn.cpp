#include "loupe/models/small_cnn.h"

#include <torch/torch.h>

namespace loupe {

namespace nn = torch::nn;

namespace {
// ceil_mode keeps the last row and column of odd-sized maps.
torch::Tensor halve(const torch::Tensor& x) { return torch::max_pool2d(x, 2, 2, 0, 1, /*ceil_mode=*/true); }
}  // namespace

SmallCnnImpl::SmallCnnImpl(int64_t in_channels, int64_t num_classes) {
  // No conv bias: the BatchNorm that follows would cancel it.
  auto conv = [](int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)); };
  conv1 = register_module("conv1", conv(in_channels, 32));
  bn1 = register_module("bn1", nn::BatchNorm2d(32));
  conv2 = register_module("conv2", conv(32, 64));
  bn2 = register_module("bn2", nn::BatchNorm2d(64));
  conv3 = register_module("conv3", conv(64, 128));
  bn3 = register_module("bn3", nn::BatchNorm2d(128));
  fc = register_module("fc", nn::Linear(128 * 2 * 2, num_classes));
  {
    torch::NoGradGuard no_grad;
    for (auto* c : {conv1.get(), conv2.get(), conv3.get()})
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  }

  add_stage("conv1", [this](const torch::Tensor& x) { return torch::relu(bn1(conv1(x))); });
  add_stage("conv2", [this](const torch::Tensor& x) { return torch::relu(bn2(conv2(halve(x)))); });
  add_stage("conv3", [this](const torch::Tensor& x) { return torch::relu(bn3(conv3(halve(x)))); });
  add_stage("pool", [](const torch::Tensor& x) { return torch::adaptive_avg_pool2d(x, {2, 2}).flatten(1); });
  add_stage("fc", [this](const torch::Tensor& x) { return fc(x); });
}

}  // namespace loupe
