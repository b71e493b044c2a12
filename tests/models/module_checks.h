// Helpers the model tests share (one definition, so unity batches never see two): a
// module's parameter count, a tensor's shape as a vector (for EXPECT_EQ), BatchNorms away
// from the identity.
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

// Running statistics and affine BN parameters away from the identity, so that eval-mode
// outputs depend on every buffer.
inline void randomise_batch_norms(torch::nn::Module& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& m : model.modules(false)) {
    if (auto* b = m->as<torch::nn::BatchNorm2dImpl>()) {
      const auto n = b->weight.size(0);
      b->weight.copy_(at::rand({n}, gen) + 0.5);
      b->bias.copy_(at::randn({n}, gen) * 0.1);
      b->running_mean.copy_(at::randn({n}, gen) * 0.1);
      b->running_var.copy_(at::rand({n}, gen) + 0.5);
    }
  }
}

inline std::vector<int64_t> shape(const torch::Tensor& t) { return t.sizes().vec(); }

}  // namespace loupe::test
