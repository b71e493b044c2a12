// ColouredMNIST: a shortcut-learning benchmark. Each class c has a dominant colour;
// with probability `bias` a train/validation image's strokes are tinted with its
// class colour, otherwise with a uniformly random one of the 10. The test split
// rotates the mapping: class c gets colour (c + offset) mod 10, so colour misleads.
// Strokes are multiplied by the colour; the background stays black. Deterministic
// from the seed.
// As in the usual definition, the random colour may be the class's own, so the
// fraction of images with their class colour is bias + (1 - bias) / 10.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "loupe/data/dataset.h"

namespace loupe {

// red, green, blue, yellow, cyan, magenta, orange (1,.5,0), dark green (0,.5,0),
// purple (.5,0,1), teal (0,.5,.5).
const std::vector<std::array<float, 3>>& coloured_palette();
const std::vector<std::string>& coloured_palette_names();

struct ColouredOptions {
  double bias = 0.95;       // fraction of train/val images with their class colour
  int64_t test_offset = 5;  // test colour of class c: (c + offset) mod 10
  // Images (after a seeded shuffle) that go to train; the rest are validation. A base
  // set of at most train_size images (a subset) is split 80/20 instead.
  int64_t train_size = 48000;
  uint64_t seed = 0;  // drives the shuffle and the colour draws (not the global RNG)
};

struct ColouredSplits {
  TensorDataset train;                                                   // biased, uint8 [N,3,H,W]
  TensorDataset validation;                                              // biased like train
  TensorDataset test;                                                    // colours rotated by test_offset
  std::vector<int64_t> train_colours, validation_colours, test_colours;  // colour index per image
};

// gray_train: the 60k base training images [N,1,H,W]; gray_test: the 10k test images.
ColouredSplits make_coloured(const TensorDataset& gray_train, const TensorDataset& gray_test,
                             const ColouredOptions& options);

// Tints gray uint8 [N,1,H,W] images with one palette colour per image → uint8 [N,3,H,W]:
// out[c] = floor(gray * colour[c] + 0.5), so 200 in orange is (200, 100, 0).
torch::Tensor tint(const torch::Tensor& gray_u8, const std::vector<int64_t>& colour_index);

// A probe set whose colours say nothing about the class: each image of `gray` (1 channel,
// or 3 equal ones) tinted with a palette colour drawn uniformly and independently (seeded).
struct RecolouredSet {
  TensorDataset data;            // uint8 [N,3,H,W]
  std::vector<int64_t> colours;  // colour index per image
};
RecolouredSet recolour_randomly(const TensorDataset& gray, uint64_t seed);

// The grayscale control: the same split (same seed → same 48k/12k partition) with
// the gray image replicated to 3 channels, so the same architecture can be used.
struct GraySplits {
  TensorDataset train, validation, test;
};
GraySplits make_gray_control(const TensorDataset& gray_train, const TensorDataset& gray_test,
                             const ColouredOptions& options);

}  // namespace loupe
