// NumPy .npy files (format 1.0, as numpy.save writes it: header padded so the data
// starts at a multiple of 64 bytes), for float32, float64, int64, int32, uint8 and bool
// in C order, little-endian. Reading also accepts format 2.0 and 3.0 headers.
#pragma once

#include <torch/types.h>

#include <string>

#include "loupe/core/fs.h"

namespace loupe {

// The .npy bytes of a tensor (any device; copied to the CPU, made contiguous). Other
// dtypes are a loupe::Error naming the dtype and the supported ones.
std::string encode_npy(const torch::Tensor& tensor);
// Parses .npy bytes; `name` (e.g. the path) is named in errors for a bad magic, a
// truncated file, an unsupported dtype, big-endian data or fortran_order = True.
torch::Tensor decode_npy(const std::string& bytes, const std::string& name);

// Writes encode_npy(tensor) atomically (see fs.h).
void write_npy(const fs::path& path, const torch::Tensor& tensor);
torch::Tensor read_npy(const fs::path& path);

}  // namespace loupe
