// Training a reconstruction model (models/vaegan.h) on good images only, as the
// reference implementation of workflow 4 does, on the one training loop:
//   reconstruction R = BCE(x', x) summed over pixels, mean over the batch;
//   KL = KL(q(z|x) || N(0, I)) summed over latents, mean over the batch (not for kAe);
//   discriminator L_D = BCE(D(x), 0) + BCE(D(x'), 1), each a batch mean (real -> 0,
//   reconstruction -> 1, the reference's labels);
//   generator term G = max(BCE(D(x'), 0) - L_D, 1e-4), added to R + KL (VAE-GAN only).
// Each step updates the autoencoder (Adam) with R + KL + G, then the discriminator
// (its own Adam) with L_D on the detached reconstruction. L_D inside G is a constant
// (detached): G only moves the autoencoder.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "loupe/core/preset.h"
#include "loupe/data/dataset.h"
#include "loupe/models/vaegan.h"
#include "loupe/train/augment.h"
#include "loupe/train/objective.h"
#include "loupe/train/trainer.h"

namespace loupe {

class VaeGanObjective : public Objective {
 public:
  // discriminator: required for kVaeGan, ignored otherwise.
  VaeGanObjective(VaeGanImpl& model, VaeGanDiscriminatorImpl* discriminator);
  void step(const Batch& batch, const TrainContext& ctx, const Optimizers& optimizers, StepLog& log) override;
  std::string progress(const RecordAccumulator& record) const override;

 private:
  VaeGanImpl& model_;
  VaeGanDiscriminatorImpl* discriminator_;
};

struct ReconstructionPreset {
  VaeGanSpec spec;
  OptimizerOptions autoencoder, discriminator;  // Adam 1e-3 each (the reference)
  AugmentOptions augment;
  TrainOptions train;
};
// kPaper: 128x128, 30,000 steps of batch 64 (for a GPU). kQuick: 64x64, a few minutes
// on a 2-core CPU. Both latent 32, Adam 1e-3, mild augmentation without flips (the
// caller turns flips on where a category allows them).
ReconstructionPreset reconstruction_preset(Preset preset, ReconstructionKind kind = ReconstructionKind::kVaeGan);

// Trains `model` (and `discriminator` for a VAE-GAN) on `data` augmented by `augment`;
// the checkpoint holds modules "autoencoder" and "discriminator" with both optimiser
// states. Both modules end on `device` in eval mode. Images must be [C,S,S] of the
// model's spec; other shapes are a loupe::Error naming both.
TrainResult train_reconstruction_model(VaeGanImpl& model, VaeGanDiscriminatorImpl* discriminator, const Dataset& data,
                                       const ReconstructionPreset& preset, torch::Device device);

}  // namespace loupe
