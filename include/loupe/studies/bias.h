// The shortcut (bias) study on ColouredMNIST (DESIGN.md workflow 1): a "lazy" model
// trained on colour-biased data and a control trained on grayscale data; accuracy on
// the biased validation and the colour-inverted test split, confusion matrices, the
// recolouring probe, Grad-CAM panels for aligned and conflicting examples, curves.
#pragma once

#include <optional>
#include <string>

#include "loupe/studies/study.h"

namespace loupe {

struct BiasStudyOptions {
  StudyCommon common;
  std::string base = "fashion-mnist";  // "fashion-mnist" | "mnist"
  fs::path data_dir;                   // IDX folder; default for FashionMNIST is the Debian package's
  double bias = 0.95;                  // fraction of train/validation images in their class colour
  int64_t test_offset = 5;             // inverted test: class c gets colour (c + offset) mod 10
  // Training settings; unset ones come from the preset (see resolve()).
  std::optional<std::string> arch;
  std::optional<std::string> optimizer;
  std::optional<double> lr;
  std::optional<int64_t> epochs;
  std::optional<int64_t> batch_size;
  std::optional<int64_t> train_images;          // lazy model: first N training images (0 = all 48k)
  std::optional<int64_t> control_train_images;  // control model: first N grayscale training images (0 = all)
  int64_t probe_images_per_class = 50;          // recolouring probe: gray test images per class
};

// The fully resolved settings a run uses (preset defaults filled in).
struct BiasStudySettings {
  std::string arch, optimizer;
  double lr = 0;
  int64_t epochs = 0, batch_size = 0, train_images = 0, control_train_images = 0;
};
BiasStudySettings resolve(const BiasStudyOptions& options);

// Runs the study and writes the report to options.common.out.
report::Report run_bias_study(const BiasStudyOptions& options);

}  // namespace loupe
