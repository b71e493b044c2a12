// Dataset: images kept as uint8 on the host, converted to float [0,1] per batch.
#pragma once

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace loupe {

struct Batch {
  torch::Tensor images;  // float [B,C,H,W] in [0,1], CPU
  torch::Tensor labels;  // int64 [B], CPU
  // int64 [B]: each sample's position in the dataset, set by the training loop for
  // objectives that keep per-sample state (LfF's loss averages); may be undefined.
  torch::Tensor indices{};
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // indices: int64 [B] on the CPU, each in [0, size()).
  virtual Batch get(const torch::Tensor& indices) const = 0;
  virtual std::vector<std::string> class_names() const = 0;
  virtual std::array<int64_t, 3> image_shape() const = 0;  // C, H, W
  int64_t num_classes() const { return static_cast<int64_t>(class_names().size()); }
  // Every sample, in order (for small datasets and tests).
  Batch all() const;
};

// Images held in memory as uint8 [N,C,H,W] with int64 labels [N].
class TensorDataset : public Dataset {
 public:
  TensorDataset(torch::Tensor images_u8, torch::Tensor labels, std::vector<std::string> class_names);
  int64_t size() const override;
  Batch get(const torch::Tensor& indices) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  std::array<int64_t, 3> image_shape() const override;
  const torch::Tensor& images_u8() const { return images_; }
  const torch::Tensor& labels() const { return labels_; }
  // The samples at `indices`, as a new dataset (a split or subset).
  TensorDataset subset(const torch::Tensor& indices) const;

 private:
  torch::Tensor images_;
  torch::Tensor labels_;
  std::vector<std::string> class_names_;
};

// The samples of `data` at `indices` (int64 [N], each in [0, data.size())), fetched from
// `data` on every get: a split of a procedural dataset without rendering it up front.
// `data` must outlive the view.
class DatasetView : public Dataset {
 public:
  DatasetView(const Dataset& data, torch::Tensor indices);
  int64_t size() const override;
  Batch get(const torch::Tensor& indices) const override;
  std::vector<std::string> class_names() const override { return data_.class_names(); }
  std::array<int64_t, 3> image_shape() const override { return data_.image_shape(); }

 private:
  const Dataset& data_;
  torch::Tensor indices_;
};

// The samples of `data` at `indices` (int64 [N]) held in memory as uint8, fetched
// `batch_size` at a time (e.g. a rendered pool of a procedural dataset).
TensorDataset to_tensor_dataset(const Dataset& data, const torch::Tensor& indices, int64_t batch_size = 256);

}  // namespace loupe
