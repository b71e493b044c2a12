// Device choice, thread set-up and seeding.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace loupe {

// "auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N".
// Asking for CUDA on a machine without it is a loupe::Error.
torch::Device resolve_device(const std::string& spec);

// Lets LibTorch use every core this process may run on (or OMP_NUM_THREADS), flushes
// subnormals, keeps OpenBLAS to one thread and, on glibc, keeps freed activation
// buffers on the heap rather than returning them to the kernel after each pass.
// Called once at start-up by the CLI and the benchmarks, and by the library itself on
// first use (see below).
void init_threads();
// The thread count init_threads uses: OMP_NUM_THREADS when set to a whole number, else
// the cores this process may run on (its CPU affinity: taskset, Slurm's cpusets).
int default_threads();
// LibTorch's intra-op threads set to n (at least 1), with subnormals flushed to zero on
// every one of them (init_threads uses it with default_threads()).
void set_threads(int n);

// A program that links loupe gets init_threads() on its first use of the library
// (making or loading a model, making an explainer), once; without it LibTorch runs
// ResNet-18 at 224 on one thread (19-23 images/s instead of 44-50 on 2 cores). Opt out
// to keep your own thread settings: set_auto_init(false) before that first use, or the
// environment variable LOUPE_NO_AUTO_INIT=1.
void set_auto_init(bool enabled);
// Called by the library's entry points: init_threads() once unless opted out.
void ensure_initialised();

// Seeds LibTorch's CPU and CUDA generators; every random choice in loupe draws
// from these or from a generator built from an explicit seed.
void seed_everything(uint64_t seed);

// A CPU generator with its own seed, independent of the global one.
torch::Generator make_generator(uint64_t seed);

}  // namespace loupe
