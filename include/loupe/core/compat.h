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

// Autocast on `device` (CUDA or CPU) to `dtype` for the guard's lifetime when `enable`;
// restores the previous state on exit. CPU autocast takes bfloat16 only.
class Autocast {
 public:
  Autocast(bool enable, c10::DeviceType device, at::ScalarType dtype) : enable_(enable), device_(device) {
    if (!enable_) return;
#if LOUPE_AUTOCAST_BY_DEVICE
    was_enabled_ = at::autocast::is_autocast_enabled(device_);
    old_dtype_ = at::autocast::get_autocast_dtype(device_);
    at::autocast::set_autocast_dtype(device_, dtype);
    at::autocast::set_autocast_enabled(device_, true);
#else
    if (device_ == c10::DeviceType::CPU) {
      was_enabled_ = at::autocast::is_cpu_enabled();
      old_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_autocast_cpu_dtype(dtype);
      at::autocast::set_cpu_enabled(true);
    } else {
      was_enabled_ = at::autocast::is_enabled();
      old_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_autocast_gpu_dtype(dtype);
      at::autocast::set_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!enable_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if LOUPE_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, old_dtype_);
#else
    if (device_ == c10::DeviceType::CPU) {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(old_dtype_);
    } else {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(old_dtype_);
    }
#endif
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool enable_;
  c10::DeviceType device_;
  bool was_enabled_ = false;
  at::ScalarType old_dtype_ = at::kFloat;
};

}  // namespace loupe::compat
