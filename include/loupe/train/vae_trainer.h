// Trains the conv VAE on a Dataset's images (labels ignored) with Adam and one of the
// objectives of vae_objectives.h: fixed seed, progress bar with loss and ETA, the
// history of every loss component for report charts, an atomic checkpoint after every
// epoch (and at the end) and resume from it. Presets as data: "paper" (Chen et al.'s
// beta-TCVAE settings) and "quick" (a few minutes on a 2-core CPU).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"
#include "loupe/models/vae.h"
#include "loupe/train/vae_objectives.h"

namespace loupe {

struct VaeTrainOptions {
  VaeObjectiveOptions objective;  // likelihood is taken from the VAE's spec
  double lr = 5e-4;               // Adam learning rate
  int64_t epochs = 1;             // passes over the data when max_steps is 0
  int64_t max_steps = 0;          // exactly this many optimiser steps, over as many epochs as they take; 0 = `epochs`
  int64_t batch_size = 64;
  uint64_t seed = 0;          // shuffling (seed + epoch) and the reparameterisation noise
  int64_t log_every = 1;      // one history record per this many steps (their means)
  fs::path checkpoint;        // empty = no checkpoints
  bool resume = false;        // continue from `checkpoint` if it exists
  std::string label = "vae";  // progress bar label
  // clang-format off
  VaeTrainOptions& set_objective(VaeObjectiveOptions v) { objective = v; return *this; }
  VaeTrainOptions& set_lr(double v) { lr = v; return *this; }
  VaeTrainOptions& set_epochs(int64_t v) { epochs = v; return *this; }
  VaeTrainOptions& set_max_steps(int64_t v) { max_steps = v; return *this; }
  VaeTrainOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  VaeTrainOptions& set_seed(uint64_t v) { seed = v; return *this; }
  VaeTrainOptions& set_log_every(int64_t v) { log_every = v; return *this; }
  VaeTrainOptions& set_checkpoint(fs::path v) { checkpoint = std::move(v); return *this; }
  VaeTrainOptions& set_resume(bool v) { resume = v; return *this; }
  VaeTrainOptions& set_label(std::string v) { label = std::move(v); return *this; }
  // clang-format on
};

struct VaePreset {
  VaeSpec spec;
  VaeTrainOptions train;
};

// "paper": beta-TCVAE, beta 6, gamma_max 1 annealed over N = 5000 steps, Adam 5e-4,
// 50 epochs, 12 latents, batch 64. "quick": the same objective, 1200 steps (anneal over
// 400), batch 32: a few minutes on a 2-core CPU. Unknown names are a loupe::Error listing both.
VaePreset vae_preset(const std::string& name, int64_t channels = 3);

// Means of the loss components over `steps` consecutive optimiser steps ending at `step`.
struct VaeStepRecord {
  int64_t step = 0;   // 1-based index of the last step covered
  int64_t epoch = 0;  // 1-based
  double loss = 0, reconstruction = 0, kl = 0;
  double mutual_information = 0, total_correlation = 0, dimension_kl = 0;  // NaN if not in the objective
  double weight = 0, capacity = 0;
};

struct VaeTrainResult {
  std::vector<VaeStepRecord> history;
  int64_t steps = 0;  // optimiser steps completed, including resumed ones
  double seconds = 0;
};

// The VAE is moved to `device` and left in eval mode.
VaeTrainResult train_vae(VaeImpl& vae, const Dataset& data, const VaeTrainOptions& options, torch::Device device);

// Encoder means of every image [N,L] (CPU), in eval mode without gradients.
torch::Tensor encode_dataset(VaeImpl& vae, const Dataset& data, torch::Device device, int64_t batch_size = 256);

// History as JSON (an array of records; NaN as null), for checkpoints and reports.
std::string vae_history_to_json(const std::vector<VaeStepRecord>& history);
std::vector<VaeStepRecord> vae_history_from_json(const std::string& json);

}  // namespace loupe
