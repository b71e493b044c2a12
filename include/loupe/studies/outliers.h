// The latent outlier study on procedural Shapes3D (DESIGN.md workflow 3, outlier part):
// a beta-TCVAE (trained, or loaded), a curated sample of normals satisfying a criterion
// and outliers violating it, the Mahalanobis distance of encoder means to the batch (or
// to a reference set of normals), a threshold, AUROC, z-score counterfactual morphs, the
// outliers over their most deviant dimension and signed latent Grad-CAM panels.
#pragma once

#include <optional>
#include <string>

#include "loupe/anomaly/mahalanobis.h"
#include "loupe/anomaly/thresholds.h"
#include "loupe/studies/study.h"

namespace loupe {

struct OutliersStudyOptions {
  StudyCommon common;
  // Normalcy criterion (curated_sampler.h); the default is the workflow's example
  // (orientation index 7 is 0 degrees).
  std::string criterion = "wall_hue=green,shape=sphere,orientation=7";
  int64_t normals = 300;           // scored samples satisfying the criterion
  int64_t outliers = 20;           // scored samples violating it
  int64_t reference = 0;           // extra normals the Gaussian is fitted on; 0 = fit on the scored batch
  fs::path model;                  // a VAE checkpoint to reuse instead of training one
  std::optional<int64_t> latents;  // VAE latents (default 12, or the checkpoint's)
  std::optional<int64_t> steps;    // training steps (quick 1200; paper: all 50 epochs)
  std::optional<int64_t> pool;     // training images rendered at random (quick 3000; paper 30000)
  GaussianFitOptions fit;          // shrinkage of the covariance
  ThresholdRule threshold = ThresholdRule::kLargestGap;  // fpr needs reference normals
  // gap: the fraction assumed normal (0.5); percentile: q (95); fpr: the target rate (0.05).
  std::optional<double> threshold_value;
  int64_t counterfactuals = 5;        // morph strips for the top outliers by distance
  int64_t morph_steps = 7;            // frames per strip, outlier to counterfactual
  int64_t gradcam_dims = 3;           // latent dims with Grad-CAM panels (most often most deviant)
  int64_t gradcam_inputs = 8;         // inputs per panel: half normals, half top outliers
  std::string gradcam_tap = "conv3";  // encoder tap (conv3 is 8x8)
};

// The fully resolved settings a run uses (preset defaults filled in).
struct OutliersStudySettings {
  int64_t latents = 0, steps = 0, pool = 0, supersample = 0;
  double threshold_value = 0;
};
OutliersStudySettings resolve(const OutliersStudyOptions& options);

// Runs the study and writes the report (and models/vae.pt when it trains) to
// options.common.out. Criterion errors (unknown factor or value, no sample satisfying
// it, more outliers than exist) are loupe::Errors raised before any training.
report::Report run_outliers_study(const OutliersStudyOptions& options);

}  // namespace loupe
