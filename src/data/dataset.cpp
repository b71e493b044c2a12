#include "loupe/data/dataset.h"

#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/core/progress.h"

namespace loupe {

Batch Dataset::all() const { return get(torch::arange(size(), torch::kLong)); }

TensorDataset::TensorDataset(torch::Tensor images_u8, torch::Tensor labels, std::vector<std::string> class_names)
    : images_(std::move(images_u8)), labels_(std::move(labels)), class_names_(std::move(class_names)) {
  LOUPE_CHECK(images_.dim() == 4 && images_.scalar_type() == torch::kUInt8,
              "dataset images: expected uint8 [N,C,H,W], got ", images_.scalar_type(), " ", images_.sizes());
  LOUPE_CHECK(labels_.dim() == 1 && labels_.size(0) == images_.size(0), "dataset labels: expected [", images_.size(0),
              "], got ", labels_.sizes());
  labels_ = labels_.to(torch::kLong);
  if (labels_.numel() > 0) {
    const int64_t hi = labels_.max().item<int64_t>(), lo = labels_.min().item<int64_t>();
    LOUPE_CHECK(lo >= 0 && hi < static_cast<int64_t>(class_names_.size()), "dataset labels: expected values in [0,",
                class_names_.size(), "), found [", lo, ",", hi, "]");
  }
}

int64_t TensorDataset::size() const { return images_.size(0); }

Batch TensorDataset::get(const torch::Tensor& indices) const {
  return {images_.index_select(0, indices).to(torch::kFloat).div_(255.0f), labels_.index_select(0, indices)};
}

std::array<int64_t, 3> TensorDataset::image_shape() const {
  return {images_.size(1), images_.size(2), images_.size(3)};
}

TensorDataset TensorDataset::subset(const torch::Tensor& indices) const {
  return TensorDataset(images_.index_select(0, indices), labels_.index_select(0, indices), class_names_);
}

DatasetView::DatasetView(const Dataset& data, torch::Tensor indices) : data_(data) {
  LOUPE_CHECK(indices.defined() && indices.dim() == 1, "dataset view: expected a 1-D index tensor");
  indices_ = indices.to(torch::kCPU, torch::kLong).contiguous();
  if (indices_.numel() > 0) {
    const int64_t lo = indices_.min().item<int64_t>(), hi = indices_.max().item<int64_t>();
    LOUPE_CHECK(lo >= 0 && hi < data.size(), "dataset view: indices span [", lo, ", ", hi, "]; expected [0, ",
                data.size() - 1, "]");
  }
}

int64_t DatasetView::size() const { return indices_.size(0); }

Batch DatasetView::get(const torch::Tensor& indices) const { return data_.get(indices_.index_select(0, indices)); }

TensorDataset to_tensor_dataset(const Dataset& data, const torch::Tensor& indices, int64_t batch_size) {
  LOUPE_CHECK(batch_size > 0, "to_tensor_dataset batch_size ", batch_size, ": expected a positive count");
  std::vector<torch::Tensor> images, labels;
  Progress bar("load", indices.size(0), "img");
  for (int64_t i = 0; i < indices.size(0); i += batch_size) {
    const auto b = data.get(indices.slice(0, i, std::min(indices.size(0), i + batch_size)));
    images.push_back(b.images.mul(255.0f).round_().clamp_(0, 255).to(torch::kUInt8));
    labels.push_back(b.labels);
    bar.advance(b.labels.size(0));
  }
  const auto shape = data.image_shape();
  if (images.empty())
    return TensorDataset(torch::empty({0, shape[0], shape[1], shape[2]}, torch::kUInt8),
                         torch::empty({0}, torch::kLong), data.class_names());
  return TensorDataset(torch::cat(images), torch::cat(labels), data.class_names());
}

}  // namespace loupe
