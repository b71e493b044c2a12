// Pieces shared by the checkpoint readers and writers (checkpoint.cpp, vae_checkpoint.cpp).
#pragma once

#include <string>

#include <torch/torch.h>

namespace loupe::detail {

// The first line of a LibTorch error (its message without the C++ backtrace).
inline std::string first_line(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return msg;
}

// The device of a module's first parameter (or buffer); CPU for an empty module.
inline torch::Device device_of(const torch::nn::Module& model) {
  for (const auto& p : model.parameters()) return p.device();
  for (const auto& b : model.buffers()) return b.device();
  return torch::kCPU;
}

}  // namespace loupe::detail
