// The 2-channel 2x2 toy shared by the CAM-family tests: activations A (the input, through
// LinearNet's identity "features" tap) and a linear score Y = Σ V ⊙ A, so dY/dA = V.
//   A0 = [[1,2],[0,1]]   A1 = [[3,0],[1,0]]   V0 = [[1,-1],[0.5,2]]   V1 = [[-1,0],[2,1]]
#pragma once

#include "explain/toy_models.h"
#include "loupe/explain/explainer.h"

namespace loupe::testing {

inline torch::Tensor toy_activations() {
  return torch::tensor({1.f, 2.f, 0.f, 1.f, 3.f, 0.f, 1.f, 0.f}).view({1, 2, 2, 2});
}
inline torch::Tensor toy_gradients() {
  return torch::tensor({1.f, -1.f, 0.5f, 2.f, -1.f, 0.f, 2.f, 1.f}).view({1, 2, 2, 2});
}
inline LinearNet toy_net() { return LinearNet(toy_gradients()); }

// The raw map (no ReLU, no scaling) and channel weights of `method` on the toy.
inline Attribution raw_toy_attribution(const std::string& method) {
  auto net = toy_net();
  return make_explainer(method, ExplainOptions().set_signed(true).set_normalize(false))
      ->explain(net, toy_activations(), class_logit(0));
}

}  // namespace loupe::testing
