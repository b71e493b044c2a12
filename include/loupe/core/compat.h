// Every difference between the LibTorch versions loupe builds against lives here:
// Debian 12's LibTorch 1.13 (CPU) and PyTorch 2.x wheels (CUDA).
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#define LOUPE_TORCH2 1
#else
#define LOUPE_TORCH2 0
#endif

// PyTorch 2.4 moved autocast's switches to per-device-type functions.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define LOUPE_AUTOCAST_BY_DEVICE 1
#else
#define LOUPE_AUTOCAST_BY_DEVICE 0
#endif

namespace loupe::compat {

// "1.13.1" / "2.11.0": shown in reports and `loupe --version`.
inline const char* torch_version() { return TORCH_VERSION; }

// CUDA autocast to `dtype` for the guard's lifetime when `enable`; restores the
// previous state on exit.
class CudaAutocast {
 public:
  CudaAutocast(bool enable, at::ScalarType dtype) : enable_(enable) {
    if (!enable_) return;
#if LOUPE_AUTOCAST_BY_DEVICE
    was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    old_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    was_enabled_ = at::autocast::is_enabled();
    old_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CudaAutocast() {
    if (!enable_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if LOUPE_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, old_dtype_);
#else
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(old_dtype_);
#endif
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool enable_;
  bool was_enabled_ = false;
  at::ScalarType old_dtype_ = at::kFloat;
};

}  // namespace loupe::compat
