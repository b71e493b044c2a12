// Mild training-time augmentation for reconstruction models (workflow 4, as the
// reference's Keras ImageDataGenerator): a random rotation, shift and zoom in one affine
// resampling (bilinear; outside pixels take the nearest edge pixel, Keras' fill_mode
// "nearest"), optional flips, and a brightness factor. Random draws come from the global
// generator, which the training loop reseeds every epoch, so a resumed run sees the
// same augmented batches as an uninterrupted one.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/data/dataset.h"

namespace loupe {

struct AugmentOptions {
  double rotation_degrees = 10;  // angle uniform in [-r, r]
  double shift = 0.05;           // translation uniform in [-s, s] of the side, per axis
  double zoom = 0.05;            // scale uniform in [1 - z, 1 + z]
  double brightness_low = 0.8;   // pixel values times a factor uniform in [low, high],
  double brightness_high = 1.2;  // then clamped to [0, 1]
  bool horizontal_flip = false;  // mirror left-right with probability 1/2
  bool vertical_flip = false;    // mirror top-bottom with probability 1/2
  // clang-format off
  AugmentOptions& set_rotation_degrees(double v) { rotation_degrees = v; return *this; }
  AugmentOptions& set_shift(double v) { shift = v; return *this; }
  AugmentOptions& set_zoom(double v) { zoom = v; return *this; }
  AugmentOptions& set_brightness(double low, double high) { brightness_low = low; brightness_high = high; return *this; }
  AugmentOptions& set_horizontal_flip(bool v) { horizontal_flip = v; return *this; }
  AugmentOptions& set_vertical_flip(bool v) { vertical_flip = v; return *this; }
  // clang-format on
};
// None at all: the identity.
AugmentOptions no_augmentation();
// A loupe::Error naming the first option out of range.
void check_augment_options(const AugmentOptions& options);

// The affine resampling itself, per image: rotation by angles[n] degrees
// (counter-clockwise as seen on screen), then zoom by scales[n] (> 1 enlarges), then a
// shift by shifts[n] = (dx, dy) in fractions of the side (positive = right / down).
// images [N,C,H,W] float; angles, scales [N]; shifts [N,2].
torch::Tensor affine_resample(const torch::Tensor& images, const torch::Tensor& angles, const torch::Tensor& scales,
                              const torch::Tensor& shifts);

// images [N,C,H,W] float in [0,1] -> augmented copies (the global generator).
torch::Tensor augment_images(const torch::Tensor& images, const AugmentOptions& options);

// A dataset whose batches are augmented as they are drawn (labels unchanged).
class AugmentedDataset : public Dataset {
 public:
  AugmentedDataset(const Dataset& data, AugmentOptions options);
  int64_t size() const override { return data_.size(); }
  Batch get(const torch::Tensor& indices) const override;
  std::vector<std::string> class_names() const override { return data_.class_names(); }
  std::array<int64_t, 3> image_shape() const override { return data_.image_shape(); }

 private:
  const Dataset& data_;
  AugmentOptions options_;
};

}  // namespace loupe
