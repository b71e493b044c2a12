// Checkpoints of the conv VAE: model state, optimiser state, step, the VaeSpec (so the
// VAE can be rebuilt from the file alone) and a JSON string of extras (e.g. the loss
// history). Written atomically; loading into another spec (latents, channels,
// likelihood) or from a classifier checkpoint is a loupe::Error and loads nothing.
#pragma once

#include <torch/optim/optimizer.h>

#include <string>

#include "loupe/core/fs.h"
#include "loupe/models/vae.h"

namespace loupe {

struct VaeCheckpointInfo {
  VaeSpec spec;
  int64_t step = 0;  // optimiser steps completed
  std::string extra_json = "{}";
};

void save_vae_checkpoint(const fs::path& path, VaeImpl& vae, torch::optim::Optimizer* optimizer, int64_t step,
                         const std::string& extra_json = "{}");

// Reads only the header part (spec, step, extras).
VaeCheckpointInfo read_vae_checkpoint_info(const fs::path& path);

// Loads into `vae` (and the optimiser, if given and stored) on the VAE's device.
VaeCheckpointInfo load_vae_checkpoint(const fs::path& path, VaeImpl& vae, torch::optim::Optimizer* optimizer = nullptr);

// Builds the VAE the checkpoint describes (on the CPU) and loads it.
Vae load_vae(const fs::path& path, VaeCheckpointInfo* info = nullptr);

}  // namespace loupe
