// The method-comparison study (DESIGN.md workflow 2): on a set of photos and a
// classifier, maps from Grad-CAM, AblationCAM, ScoreCAM, LIME and KernelSHAP, the
// IoU(Grad-CAM, LIME) table sorted by agreement with each photo's group (single object
// vs cluttered), deletion / insertion AUC per method and the time each method took.
// Default photos: scikit-image's data folder (Debian's python3-skimage; fetched by
// scripts/fetch_photos.sh). No ImageNet weights ship with Debian, so the quick preset
// trains its own classifier: a small CNN that tells the photos apart from random crops
// (instance discrimination); with --model/--weights the study explains a torchvision
// classifier's top-1 class on any folder instead.
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "loupe/data/photos.h"  // find_skimage_photos, which the study uses
#include "loupe/studies/study.h"

namespace loupe {

struct CompareStudyOptions {
  StudyCommon common;
  fs::path images;  // a folder of photos (subfolders = groups); empty = scikit-image's photos
  std::vector<std::string> methods = {"gradcam", "ablationcam", "scorecam", "lime", "kernelshap"};
  // A pretrained classifier instead of the instance-discrimination one: a zoo arch with
  // `weights`, or a TorchScript file (models/torchscript.h) and no weights.
  std::string arch;
  fs::path weights;
  int64_t num_classes = 1000;  // of a zoo arch (a TorchScript model's are its own)
  std::optional<int64_t> size;                // side of the square images (quick: 64; torchvision: 224)
  std::optional<int64_t> train_steps;         // instance classifier: optimiser steps (quick 500)
  std::optional<int64_t> samples;             // LIME / KernelSHAP samples per image (quick 500)
  std::optional<int64_t> faithfulness_steps;  // deletion / insertion steps (quick 32)
  std::string iou_threshold = "top:20";       // how maps are binarised for IoU (see compare.h)
};

// Photos and their groups ("single object", "cluttered", a subfolder's name, or "").
struct PhotoSet {
  torch::Tensor images;  // float [N,3,S,S] in [0,1]: centre square crop, resized
  std::vector<std::string> names, groups;
  std::vector<fs::path> files;
  std::vector<torch::Tensor> originals;  // each photo as read, RGB [3,h,w] (before cropping)
};

// scikit-image's photos with their groups (those present in `dir`), or every PNG/JPEG of a
// user folder (subfolders name the groups). Gray photos become RGB; transparent pixels
// become white. An empty folder is a loupe::Error.
PhotoSet load_photos(const fs::path& dir, int64_t size, bool skimage_groups);

report::Report run_compare_study(const CompareStudyOptions& options);

}  // namespace loupe
