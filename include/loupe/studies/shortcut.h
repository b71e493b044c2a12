// The shortcut setting (DESIGN.md workflow 1) that the bias study and the robustness
// study share: ColouredMNIST-style splits of FashionMNIST or MNIST with a grayscale
// control, each model's training subset, and the recolouring probe.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/coloured.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/taps.h"
#include "loupe/train/train_objective.h"

namespace loupe {

struct ShortcutDataOptions {
  std::string base = "fashion-mnist";  // "fashion-mnist" | "mnist"
  fs::path data_dir;                   // IDX folder; empty = the Debian FashionMNIST package's
  double bias = 0.95;                  // fraction of train/validation images in their class colour
  int64_t test_offset = 5;             // inverted test: class c gets colour (c + offset) mod 10
  uint64_t seed = 0;
  int64_t train_images = 0;          // the lazy model's first N coloured training images (0 = all)
  int64_t control_train_images = 0;  // the control's first N grayscale training images (0 = all)
};

// A loupe::Error naming the first flag out of range (--bias, --test-offset, --base, and
// --data for MNIST, which has no default folder).
void check_shortcut_data_options(const ShortcutDataOptions& options);

// The coloured and grayscale splits and each model's training subset.
struct ShortcutData {
  std::vector<std::string> classes;
  ColouredSplits coloured;
  GraySplits gray;
  TensorDataset lazy_train, control_train;
  std::string base_name;  // "FashionMNIST" or "MNIST"
};
ShortcutData load_shortcut_data(const ShortcutDataOptions& options);

// How the shortcut studies train a model: the same settings for the lazy model, the
// control and every objective, so that only the objective (or the gray input) differs.
struct ShortcutTrainOptions {
  std::string arch = "small_cnn", optimizer = "adam";
  double lr = 5e-4;
  int64_t epochs = 1, batch_size = 128;
  uint64_t seed = 0;
  fs::path checkpoint;  // written after every epoch
  bool resume = false;  // continue from `checkpoint` if it exists
  std::string label;    // the progress bar's
};
struct ShortcutModel {
  std::shared_ptr<TappedModel> model;  // eval mode, on the device
  TrainResult run;
  double seconds = 0;  // wall time of the training
};
// Trains a fresh model (seeded with options.seed) on the lazy model's coloured training
// subset, or with `gray` on the control's grayscale set, validated on the matching split,
// with `objective` (plain cross-entropy by default), logging every step.
ShortcutModel train_shortcut_model(const ShortcutData& data, bool gray, const ShortcutTrainOptions& options,
                                   torch::Device device, const TrainObjectiveOptions& objective = {});

// A trained model of the shortcut setting read from `path`: a classifier of 3 channels
// and 10 classes (and of `arch` unless empty), on `device` in eval mode. Every error
// names `what` (the flag that gave the file); info, if given, gets the checkpoint's header.
std::shared_ptr<TappedModel> load_shortcut_model(const fs::path& path, const std::string& what, torch::Device device,
                                                 const std::string& arch = "", CheckpointInfo* info = nullptr);

// probe[a][b] over gray test images of class a tinted with class b's colour: `follows`,
// the fraction predicted as b; `keeps`, the fraction still predicted as a.
struct RecolouringProbe {
  torch::Tensor follows, keeps;  // double [K,K]
};
// The first `per_class` gray test images of each class, tinted with every class colour.
RecolouringProbe recolouring_probe(TappedModel& model, const TensorDataset& gray_test, int64_t per_class,
                                   torch::Device device);
// Mean over the off-diagonal cells of a square matrix (a foreign tint).
double mean_off_diagonal(const torch::Tensor& m);

}  // namespace loupe
