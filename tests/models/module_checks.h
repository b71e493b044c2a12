// Helpers the model tests share (one definition, so unity batches never see two): a
// module's parameter count and a tensor's shape as a vector (for EXPECT_EQ).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace loupe::test {

inline int64_t parameter_count(torch::nn::Module& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

inline std::vector<int64_t> shape(const torch::Tensor& t) { return t.sizes().vec(); }

}  // namespace loupe::test
