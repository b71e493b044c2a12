// IDX files from tensors for the stream and audit tests (format_builders.h's idx_bytes).
#pragma once

#include <torch/torch.h>

#include "format_builders.h"
#include "loupe/core/fs.h"

namespace loupe::test {

// uint8 [N,H,W] images or [N] labels as an IDX file.
inline void write_idx(const fs::path& path, const torch::Tensor& u8) {
  const auto bytes = u8.to(torch::kByte).contiguous();
  std::vector<uint32_t> dims;
  for (const auto d : bytes.sizes()) dims.push_back(static_cast<uint32_t>(d));
  const std::vector<uint8_t> data(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  write_file_atomic(path, idx_bytes(dims, data));
}

}  // namespace loupe::test
