// Device choice, thread set-up and seeding.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace loupe {

// "auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N".
// Asking for CUDA on a machine without it is a loupe::Error.
torch::Device resolve_device(const std::string& spec);

// Lets LibTorch use every core (intra-op threads = hardware concurrency), flushes
// subnormals, keeps OpenBLAS to one thread and, on glibc, keeps freed activation
// buffers on the heap rather than returning them to the kernel after each pass.
// Called once at start-up by the CLI and the benchmarks.
void init_threads();

// Seeds LibTorch's CPU and CUDA generators; every random choice in loupe draws
// from these or from a generator built from an explicit seed.
void seed_everything(uint64_t seed);

// A CPU generator with its own seed, independent of the global one.
torch::Generator make_generator(uint64_t seed);

}  // namespace loupe
