// IDX files (MNIST, FashionMNIST), plain or gzip-compressed.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"

namespace loupe {

// Reads a uint8 IDX file (magic 00 00 08 ndim, e.g. 0x00000803 images or 0x00000801
// labels; gzip optional, detected by content) into a uint8 tensor of the file's shape.
// Truncated files, trailing bytes, other element types and corrupt gzip streams are
// loupe::Errors naming the path and the expected and found byte counts.
torch::Tensor read_idx(const fs::path& path);
// The same for the file's bytes; `name` (e.g. the path) is named in errors.
torch::Tensor decode_idx(std::string bytes, const std::string& name);

// Where the Debian package dataset-fashion-mnist puts the files.
inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

std::vector<std::string> fashion_mnist_classes();  // "T-shirt/top", "Trouser", ...
std::vector<std::string> mnist_classes();          // "0" ... "9"

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (or the dotted
// "train-images.idx3-ubyte" some mirrors use) from dir as a dataset of uint8
// [N,1,28,28]. split: "train" (60k) or "test" (10k). A missing folder or file names
// what was looked for (and, for FashionMNIST, the Debian package).
TensorDataset load_mnist_like(const fs::path& dir, const std::string& split, std::vector<std::string> classes);
TensorDataset load_fashion_mnist(const std::string& split, const fs::path& dir = kFashionMnistDir);
TensorDataset load_mnist(const fs::path& dir, const std::string& split);

}  // namespace loupe
