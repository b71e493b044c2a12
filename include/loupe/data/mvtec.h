// Reader for one category of MVTec AD (Bergmann et al. 2019) in its folder layout:
// CATEGORY/train/good/*.png, CATEGORY/test/{good,<defect>}/*.png and
// CATEGORY/ground_truth/<defect>/<stem>_mask.png. Images become RGB (gray replicated) at
// size x size with resize_image (area averaging when shrinking, bilinear when growing);
// masks are resized with nearest neighbour (centre-aligned, as PIL's NEAREST) and
// binarised at > 0.5, so they stay exactly binary. Files are read in sorted order.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"

namespace loupe {

struct MvtecOptions {
  int64_t size = 128;  // side of the square images and masks
  // clang-format off
  MvtecOptions& set_size(int64_t v) { size = v; return *this; }
  // clang-format on
};

// The images of one split with their ground truth.
struct MvtecSplit {
  torch::Tensor images;                 // uint8 [N,3,S,S]
  torch::Tensor masks;                  // bool [N,1,S,S]; all false for good images
  torch::Tensor kinds;                  // int64 [N]: index into kind_names (0 = good)
  std::vector<std::string> kind_names;  // "good", then the test's defect folders sorted by name
  std::vector<fs::path> files;          // the image file of each row

  int64_t size() const { return images.size(0); }
  // The images labelled by kind (for training: train holds only kind 0).
  TensorDataset dataset() const;
};

struct MvtecCategory {
  std::string name;        // the category folder's name
  MvtecSplit train, test;  // both with the same kind_names
};

// A missing or empty train/good or test folder, a defect image without its mask, a mask
// whose aspect ratio differs from its image's, or an unreadable file is a loupe::Error
// naming the file or folder and what was expected.
MvtecCategory load_mvtec_category(const fs::path& category_dir, const MvtecOptions& options = {});

// Mask [1,h,w] (any values) → bool [1,size,size]: nearest-neighbour resize, then > 0.5.
torch::Tensor resize_mask(const torch::Tensor& mask, int64_t size);

}  // namespace loupe
