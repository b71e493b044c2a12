// Named datasets for the CLI (`--data NAME`): the name → loader registry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"
#include "loupe/data/factors.h"

namespace loupe {

struct DataSplits {
  std::shared_ptr<TensorDataset> train, validation, test;
  // Generated datasets (shapes3d, dsprites): the generator and each split's indices into
  // it, so that what the generator knows per image (factors, Shapes3D's parts) stays at hand.
  std::shared_ptr<const FactorDataset> source{};
  torch::Tensor train_indices{}, validation_indices{}, test_indices{};  // int64; undefined otherwise
};

struct DataRequest {
  std::string name;    // see dataset_names()
  fs::path dir;        // IDX folder (mnist; fashion-mnist overrides the default) or image-folder root
  uint64_t seed = 0;   // splits and colours
  double bias = 0.95;  // coloured datasets
  int64_t test_offset = 5;
  int64_t images = 0;  // shapes3d, dsprites: training images to render (validation and test get
                       // a tenth each); 0 = 8000 for shapes3d, 20000 for dsprites
};

// "fashion-mnist", "mnist", "coloured-fashion-mnist", "coloured-mnist",
// "gray-fashion-mnist", "gray-mnist" (3-channel grayscale control), "folder"
// (dir/<class>/*.png|jpg; a seeded 80/10/10 split), "shapes3d" and "dsprites" (distinct
// samples drawn at random with the seed and rendered once: procedural Shapes3D at
// supersample 1, labelled by shape; dSprites labelled by shape).
std::vector<std::string> dataset_names();
// Unknown names are a loupe::Error listing the valid ones.
DataSplits load_dataset(const DataRequest& request);

}  // namespace loupe
