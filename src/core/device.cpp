#include "loupe/core/device.h"

#include <dlfcn.h>

#include <thread>

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {

torch::Device resolve_device(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec.rfind("cuda", 0) == 0) {
    LOUPE_CHECK(torch::cuda::is_available(), "--device ", spec,
                ": CUDA is not available on this machine (no GPU or a CPU-only LibTorch); use --device cpu or auto");
    torch::Device device(torch::kCPU);
    try {
      device = torch::Device(spec);
    } catch (const c10::Error&) {
      fail("--device ", spec, ": expected auto, cpu, cuda or cuda:N");
    }
    LOUPE_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()), "--device ",
                spec, ": only ", torch::cuda::device_count(), " CUDA device(s) present");
    return device;
  }
  fail("--device ", spec, ": expected auto, cpu, cuda or cuda:N");
}

void init_threads() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(static_cast<int>(cores));
  // OpenBLAS (Debian's BLAS behind LibTorch) keeps its own thread pool, which
  // oversubscribes the cores under LibTorch's threads: one BLAS thread made a
  // FashionMNIST epoch 19% faster on 2 cores. Looked up at run time so loupe
  // neither links OpenBLAS nor needs it (a reference BLAS or MKL is left alone).
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
}

torch::Generator make_generator(uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return gen;
}

}  // namespace loupe
