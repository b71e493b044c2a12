// The disentanglement study on procedural Shapes3D (DESIGN.md workflow 3): train a VAE
// (beta-TCVAE by default) or load one, then MIG, DCI, SAP and SSIM on held-out images,
// the latent × factor mutual information, which latent encodes which factor, loss curves,
// reconstructions, traversals ordered by KL (dead dimensions marked) and a latent plane.
// Choice: the quick preset trains on a pool of images rendered once at supersample 1
// (rendering every batch would cost more than the training); paper renders every batch.
#pragma once

#include <optional>
#include <string>

#include "loupe/studies/study.h"

namespace loupe {

struct DisentangleStudyOptions {
  StudyCommon common;
  // Unset ones come from the preset (see resolve()).
  std::optional<std::string> objective;  // vae | beta_vae | beta_tcvae | capacity
  std::optional<double> beta;            // beta-VAE KL weight / beta-TCVAE TC weight
  std::optional<int64_t> latents;        // at least 2 (MIG compares two latents)
  std::optional<int64_t> steps;          // optimiser steps; 0 = the preset's epochs
  std::optional<int64_t> pool;           // training images rendered up front; 0 = render every batch
  std::optional<int64_t> eval_images;    // held-out images for the metrics
  fs::path model;                        // a VAE checkpoint to study instead of training one
  bool resume = false;                   // continue training from out/models/vae.pt if it exists
  int64_t traversal_steps = 7;           // columns of the traversals, offsets -3…3
};

// The fully resolved settings a run uses (preset defaults filled in).
struct DisentangleStudySettings {
  std::string objective;
  double beta = 0;
  int64_t latents = 0, steps = 0, batch_size = 0, pool = 0, eval_images = 0, supersample = 1;
};
DisentangleStudySettings resolve(const DisentangleStudyOptions& options);

// Runs the study and writes the report to options.common.out (the VAE to models/vae.pt).
report::Report run_disentangle_study(const DisentangleStudyOptions& options);

}  // namespace loupe
