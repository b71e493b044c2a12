// Every difference between the LibTorch versions loupe builds against lives here:
// Debian 12's LibTorch 1.13 (CPU) and PyTorch 2.x wheels (CUDA).
#pragma once

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#define LOUPE_TORCH2 1
#else
#define LOUPE_TORCH2 0
#endif

namespace loupe::compat {

// "1.13.1" / "2.11.0": shown in reports and `loupe --version`.
inline const char* torch_version() { return TORCH_VERSION; }

}  // namespace loupe::compat
