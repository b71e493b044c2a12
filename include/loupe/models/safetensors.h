// The safetensors format (Hugging Face): an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {str: str}}, then raw little-endian tensor bytes. Used to import torchvision
// weights and to exchange tensors with Python.
#pragma once

#include <map>
#include <string>

#include <torch/types.h>

#include "loupe/core/fs.h"

namespace loupe {

struct SafeTensors {
  std::map<std::string, torch::Tensor> tensors;  // CPU, contiguous
  std::map<std::string, std::string> metadata;
};

// Malformed headers, offsets out of range or overlapping, unknown dtypes and
// shape/size mismatches are loupe::Errors naming the file and the tensor. Unused
// gaps in the byte buffer are accepted (the reference reader rejects them).
SafeTensors read_safetensors(const fs::path& path);
SafeTensors parse_safetensors(const std::string& bytes, const std::string& name);
// Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL. Data is laid out
// in name order; the header is padded with spaces to a multiple of 8 bytes.
std::string serialize_safetensors(const SafeTensors& st);
void write_safetensors(const fs::path& path, const SafeTensors& st);  // atomic

}  // namespace loupe
