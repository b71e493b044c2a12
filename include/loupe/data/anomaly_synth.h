// Built-in anomaly-detection data in the MVTec AD layout (DESIGN.md workflow 4;
// Bergmann et al. 2019): texture categories cut from scikit-image's photographs (train
// crops from the photo's top part, test crops from the disjoint bottom part: the brick
// photo's perspective tilts the bricks from left to right, not from top to bottom) and a
// procedural hazelnut-like object with pose jitter on a plain background. Defects
// (crack, cut, hole, print; missing for objects) come in a small and a large size; each
// mask is drawn first and only its pixels are painted, so a mask is exactly the set of
// pixels where the defective image differs from the defect-free render of the sample.
// Images are written at the final size (default 128, as the workflow's model reads them);
// small defects cover about 0.3-1% of an image, large ones 2-6%.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "loupe/core/fs.h"

namespace loupe {

struct AnomalySynthOptions {
  int64_t size = 128;           // side of the written images (textures: crops resized to it)
  int64_t train_images = 391;   // defect-free training images per category (as MVTec's hazelnut)
  int64_t test_good = 40;       // defect-free test images
  int64_t test_defective = 70;  // defective test images, spread evenly over the defect kinds
  uint64_t seed = 0;            // every sample is a function of (seed, category, split, kind, index)
  std::vector<std::string> categories = {"brick", "grass", "hazelnut"};  // see anomaly_category_names()
  double train_fraction = 0.7;  // textures: train crops lie in this top part of the photo's height
  double crop_fraction = 0.28;  // textures: crop side as a fraction of the photo's short side
  // clang-format off
  AnomalySynthOptions& set_size(int64_t v) { size = v; return *this; }
  AnomalySynthOptions& set_train_images(int64_t v) { train_images = v; return *this; }
  AnomalySynthOptions& set_test_good(int64_t v) { test_good = v; return *this; }
  AnomalySynthOptions& set_test_defective(int64_t v) { test_defective = v; return *this; }
  AnomalySynthOptions& set_seed(uint64_t v) { seed = v; return *this; }
  AnomalySynthOptions& set_categories(std::vector<std::string> v) { categories = std::move(v); return *this; }
  AnomalySynthOptions& set_train_fraction(double v) { train_fraction = v; return *this; }
  AnomalySynthOptions& set_crop_fraction(double v) { crop_fraction = v; return *this; }
  // clang-format on
};

// "brick", "grass", "gravel" (textures: scikit-image's <name>.png) and "hazelnut" (procedural).
std::vector<std::string> anomaly_category_names();
bool is_texture_category(const std::string& category);
// The defect kinds of a category, sorted: crack, cut, hole, print (+ missing for objects).
std::vector<std::string> anomaly_defect_kinds(const std::string& category);
// Range checks of the options (sizes, counts, fractions, known categories): a loupe::Error
// naming the option.
void check_anomaly_synth_options(const AnomalySynthOptions& options);

// What a category renders from: its name and, for a texture, the photo (float [C,H,W] in
// [0,1], C = 1 or 3; any photo works, tests pass a small synthetic one).
struct AnomalySource {
  std::string category;
  torch::Tensor photo;  // undefined for the procedural object
};
// scikit-image's <category>.png from `photo_dir` (empty: find_skimage_photos()), as RGB; a
// missing photo is a loupe::Error that names scripts/fetch_photos.sh.
AnomalySource load_anomaly_source(const std::string& category, const fs::path& photo_dir = {});

enum class AnomalySplit { train, test };

// One sample to render: its split, kind ("good" or a defect), index within its folder and
// defect size class (odd indices are large).
struct AnomalySampleSpec {
  AnomalySplit split = AnomalySplit::train;
  std::string kind = "good";
  int64_t index = 0;
  bool large = false;
};
// Every sample of a category in writing order: train/good, test/good, then each defect kind.
std::vector<AnomalySampleSpec> anomaly_sample_plan(const std::string& category, const AnomalySynthOptions& options);

struct AnomalySample {
  torch::Tensor image;  // uint8 [3,S,S]
  torch::Tensor clean;  // uint8 [3,S,S]: the same sample without its defect (equal to image when good)
  torch::Tensor mask;   // bool [S,S]: exactly the pixels where image != clean (all false when good)
};
AnomalySample render_anomaly_sample(const AnomalySource& source, const AnomalySampleSpec& spec,
                                    const AnomalySynthOptions& options);

// Writes root/<category>/{train/good, test/good, test/<kind>}/NNN.png and
// ground_truth/<kind>/NNN_mask.png (0 or 255). The category is built in a hidden folder
// beside it and renamed into place when complete, replacing an earlier one.
void write_anomaly_category(const fs::path& root, const AnomalySource& source, const AnomalySynthOptions& options);

// Every category of options.categories under root; photos from `photo_dir` (empty: found).
// All photos are loaded before anything is written.
void write_anomaly_dataset(const fs::path& root, const AnomalySynthOptions& options, const fs::path& photo_dir = {});

}  // namespace loupe
