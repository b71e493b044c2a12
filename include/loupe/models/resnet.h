// ResNet-18/50 (He et al. 2016, "Deep Residual Learning"), torchvision's v1.5 layout:
// the Bottleneck's stride sits on its 3x3 conv, and every parameter and buffer has
// torchvision's state_dict name ("layer2.0.downsample.1.running_var"), so its weights load.
// The "small" stem (3x3 stride-1 conv1, no max-pool) keeps 28x28..64x64 inputs usable.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "loupe/models/taps.h"

namespace loupe {

// BasicBlock: 3x3 → 3x3, expansion 1. Bottleneck: 1x1 → 3x3 → 1x1, expansion 4.
enum class ResidualKind { kBasic, kBottleneck };

struct ResNetOptions {
  ResNetOptions(ResidualKind block_kind, std::array<int64_t, 4> blocks_per_stage)
      : block(block_kind), layers(blocks_per_stage) {}
  ResidualKind block;
  std::array<int64_t, 4> layers;  // blocks in layer1..layer4
  int64_t in_channels = 3;        // conv1's input channels
  int64_t num_classes = 1000;     // fc outputs
  bool small_stem = false;        // 3x3 stride-1 conv1 and no max-pool
  std::string arch = "resnet";    // the zoo name the model reports
  // clang-format off
  ResNetOptions& set_in_channels(int64_t v) { in_channels = v; return *this; }
  ResNetOptions& set_num_classes(int64_t v) { num_classes = v; return *this; }
  ResNetOptions& set_small_stem(bool v) { small_stem = v; return *this; }
  ResNetOptions& set_arch(std::string v) { arch = std::move(v); return *this; }
  // clang-format on
};

// One residual block of either kind; convs and BNs are registered as conv1.., bn1..
// and the projection shortcut as "downsample" (0 = 1x1 conv, 1 = BN), as torchvision does.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(ResidualKind kind, int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  static int64_t expansion(ResidualKind kind) { return kind == ResidualKind::kBasic ? 1 : 4; }

  std::vector<torch::nn::Conv2d> convs;
  std::vector<torch::nn::BatchNorm2d> bns;
  torch::nn::Sequential downsample{nullptr};  // null when the shortcut is the identity
};
TORCH_MODULE(ResidualBlock);

// Taps: "stem", "layer1".."layer4", "pool" ([N,C] after global average pooling), "fc".
class ResNetImpl : public TappedModel {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  std::string default_cam_tap() const override { return "layer4"; }
  std::string arch() const override { return options_.arch; }
  const ResNetOptions& options() const { return options_; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  ResNetOptions options_;
};
TORCH_MODULE(ResNet);

// The zoo's variants: {Basic, [2,2,2,2]} and {Bottleneck, [3,4,6,3]}.
ResNet resnet18(int64_t in_channels, int64_t num_classes, bool small_stem);
ResNet resnet50(int64_t in_channels, int64_t num_classes, bool small_stem);

}  // namespace loupe
