// DeepMind's 3dshapes.h5 (datasets `images` uint8 [N,64,64,3] and `labels` float64
// [N,6]) read through the HDF5 C API. Labels are read once and mapped to factor
// indices (nearest of shapes3d_factor_values within 1% of a step, else an error);
// images are read lazily, one hyperslab per run of consecutive indices in a batch.
// Rows may be any subset in any order: index_of looks factor vectors up in a table.
// Only built when LOUPE_HAVE_HDF5 is defined.
#pragma once

#ifdef LOUPE_HAVE_HDF5

#include <memory>
#include <string>

#include "loupe/core/fs.h"
#include "loupe/data/factors.h"

namespace loupe {

class Shapes3DFile : public FactorDataset {
 public:
  // A missing or non-HDF5 file, a missing dataset, wrong shapes or types, or a label
  // that is not a Shapes3D factor value is a loupe::Error naming the path.
  explicit Shapes3DFile(const fs::path& path, const std::string& label_factor_name = "shape");
  ~Shapes3DFile() override;
  Shapes3DFile(const Shapes3DFile&) = delete;
  Shapes3DFile& operator=(const Shapes3DFile&) = delete;

  std::vector<std::string> factor_names() const override;
  std::vector<int64_t> factor_sizes() const override;
  std::vector<std::string> value_names(int64_t factor) const override;
  int64_t label_factor() const override { return label_factor_; }
  int64_t size() const override { return factors_.size(0); }
  torch::Tensor factors(const torch::Tensor& indices) const override;
  // A factor vector absent from the file is an error.
  torch::Tensor index_of(const torch::Tensor& factors) const override;
  Batch get(const torch::Tensor& indices) const override;
  std::array<int64_t, 3> image_shape() const override { return {3, 64, 64}; }

 private:
  struct Handles;
  std::unique_ptr<Handles> h5_;
  fs::path path_;
  int64_t label_factor_;
  torch::Tensor factors_;  // int64 [N,6]
  torch::Tensor row_of_;   // int64 [480000]: row holding each mixed-radix code, -1 if none
};

}  // namespace loupe

#endif  // LOUPE_HAVE_HDF5
