// Wall-clock timing shared by the bench programs: seconds per call after one warm-up,
// with CUDA work synchronised so GPU time is counted.
#pragma once

#include <torch/torch.h>

#include <chrono>

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

}  // namespace loupe::bench
