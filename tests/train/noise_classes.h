// A tiny two-class dataset for training tests: class 0 is dark noise in [0,100], class 1
// bright noise in [155,255]; 1 channel, 10x10, labels alternating 0,1,0,1,...
#pragma once

#include <torch/torch.h>

#include "loupe/core/device.h"
#include "loupe/data/dataset.h"

namespace loupe::test {

inline TensorDataset dark_and_bright_noise(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  const auto labels = torch::arange(n, torch::kLong) % 2;
  const auto images =
      (torch::randint(0, 101, {n, 1, 10, 10}, gen, torch::kLong) + 155 * labels.view({n, 1, 1, 1})).to(torch::kUInt8);
  return TensorDataset(images, labels, {"dark", "bright"});
}

}  // namespace loupe::test
