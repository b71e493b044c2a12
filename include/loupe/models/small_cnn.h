// A small, fast CNN for the CPU presets: three 3x3 conv-BN-ReLU blocks (32, 64, 128
// channels; the last two stride 2), global average pooling and a linear classifier.
// Built for 28x28 images; global pooling makes it work on any size >= 16.
#pragma once

#include <cstdint>
#include <string>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "loupe/models/taps.h"

namespace loupe {

// Taps: "conv1" [N,32,H,W], "conv2" [N,64,H/2,W/2], "conv3" [N,128,H/4,W/4], "pool" [N,128], "fc".
class SmallCnnImpl : public TappedModel {
 public:
  SmallCnnImpl(int64_t in_channels, int64_t num_classes);
  std::string default_cam_tap() const override { return "conv3"; }
  std::string arch() const override { return "small_cnn"; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(SmallCnn);

}  // namespace loupe
