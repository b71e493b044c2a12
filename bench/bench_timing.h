// What the bench programs share: wall-clock seconds per call after one warm-up (CUDA work
// synchronised so GPU time is counted), and "--name value" flags read from the command line.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <string>

#include "loupe/models/taps.h"

namespace loupe::bench {

inline void sync(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

template <class F>
double seconds_per_call(F&& f, torch::Device device, int repeats) {
  using Clock = std::chrono::steady_clock;
  f();  // warm-up
  sync(device);
  const auto start = Clock::now();
  for (int i = 0; i < repeats; ++i) f();
  sync(device);
  return std::chrono::duration<double>(Clock::now() - start).count() / repeats;
}

// The text after `--name` on the command line, or `fallback` when it is absent.
inline std::string flag(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return argv[i + 1];
  return fallback;
}
inline int64_t flag(int argc, char** argv, const char* name, int64_t fallback) {
  const std::string text = flag(argc, argv, name, std::string());
  return text.empty() ? fallback : std::stoll(text);
}

// Forward + backward to the input (the gradient of the cross-entropy) images per second on
// one resident batch: the yardstick of the gradient-driven benches (attacks, feature
// visualisation).
inline double input_gradient_rate(TappedModel& model, const torch::Tensor& images, const torch::Tensor& targets,
                                  torch::Device device) {
  const double seconds = seconds_per_call(
      [&] {
        auto x = images.detach().requires_grad_(true);
        const auto loss = torch::nn::functional::cross_entropy(model.forward(x), targets);
        torch::autograd::grad({loss}, {x});
      },
      device, 5);
  return static_cast<double>(images.size(0)) / seconds;
}

}  // namespace loupe::bench
