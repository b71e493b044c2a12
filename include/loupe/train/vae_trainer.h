// Trains the conv VAE on a Dataset's images (labels ignored) with Adam and one of the
// objectives of vae_objectives.h, on the one training loop (train/trainer.h): the
// checkpoint holds the VAE as module "vae". Presets as data: "paper" (Chen et al.'s
// beta-TCVAE settings) and "quick" (a few minutes on a 2-core CPU).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "loupe/core/preset.h"
#include "loupe/data/dataset.h"
#include "loupe/models/vae.h"
#include "loupe/train/trainer.h"
#include "loupe/train/vae_objectives.h"

namespace loupe {

// Training options as a VAE uses them: Adam 5e-4, batch 64, a history record every
// step, epochs seeded from 0 (as since loupe 0.1).
TrainOptions vae_train_options();

struct VaePreset {
  VaeSpec spec;
  VaeObjectiveOptions objective;
  TrainOptions train;
};

// kPaper: beta-TCVAE, beta 6, gamma_max 1 annealed over N = 5000 steps, Adam 5e-4,
// 50 epochs, 12 latents, batch 64. kQuick: the same objective, 1200 steps (anneal over
// 400), batch 32: a few minutes on a 2-core CPU.
VaePreset vae_preset(Preset preset, int64_t channels = 3);

// Trains with `objective` (its likelihood is taken from the VAE's spec, its dataset size
// defaults to the data's). The VAE is moved to `device` and left in eval mode.
TrainResult train_vae(VaeImpl& vae, const Dataset& data, const VaeObjectiveOptions& objective,
                      const TrainOptions& options, torch::Device device);

}  // namespace loupe
