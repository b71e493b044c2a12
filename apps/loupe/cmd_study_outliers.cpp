// loupe study outliers
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/studies/outliers.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

StudyCommand add_study_outliers(CLI::App& study) {
  auto* cmd = study.add_subcommand("outliers", study_entry("outliers").description);
  cmd->footer(
      "Examples:\n  loupe study outliers --out outliers-report\n"
      "  loupe study outliers --normal 'wall_hue=green,shape=sphere' --normals 300 --outliers 20\n"
      "  loupe study outliers --model outliers-report/models/vae.pt --reference 200 --threshold fpr\n"
      "  loupe study outliers --model outliers-report/models/vae.pt --robust\n"
      "  loupe study outliers --preset paper --device cuda --out outliers-paper");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/outliers"};
    OutliersStudyOptions o;
    std::string preset = "quick", model, shrinkage = "none", threshold = "gap";
    double lambda = 0.1;
    bool robust = false;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--preset", f->preset, "quick (a 2-core CPU, minutes) or paper (50 epochs, for a GPU)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  cmd->add_option("--normal", f->o.criterion,
                  "normalcy criterion: factor=value terms, e.g. wall_hue=green,shape=sphere|cube,orientation=7 "
                  "(factors floor_hue wall_hue object_hue scale shape orientation; value names or indices)")
      ->capture_default_str();
  cmd->add_option("--normals", f->o.normals, "scored samples satisfying the criterion")->capture_default_str();
  cmd->add_option("--outliers", f->o.outliers, "scored samples violating it")->capture_default_str();
  cmd->add_option("--reference", f->o.reference,
                  "fit the Gaussian on this many other normals instead of the scored batch (0 = the batch)")
      ->capture_default_str();
  cmd->add_option("--latents", f->o.latents, "VAE latent dimensions (default 12, or the checkpoint's)");
  cmd->add_option("--model", f->model,
                  "reuse this VAE checkpoint (e.g. an earlier run's models/vae.pt) instead of training")
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", f->o.steps, "training steps (preset default: quick 1200, paper all 50 epochs)");
  cmd->add_option("--pool", f->o.pool, "training images rendered at random (preset default: quick 3000, paper 30000)");
  cmd->add_option("--shrinkage", f->shrinkage, "covariance shrinkage: none, ledoit-wolf or fixed (with --lambda)")
      ->check(CLI::IsMember({"none", "ledoit-wolf", "fixed"}))
      ->capture_default_str();
  cmd->add_option("--lambda", f->lambda, "weight of the scaled identity with --shrinkage fixed")->capture_default_str();
  cmd->add_flag("--robust", f->robust,
                "fit the Gaussian by Minimum Covariance Determinant (FastMCD, as sklearn's MinCovDet), so that "
                "outliers in the fitted set do not inflate its covariance");
  cmd->add_option("--threshold", f->threshold,
                  "gap (widest gap in the sorted distances, weighted by how many lie above it), percentile, or fpr "
                  "(needs --reference)")
      ->check(CLI::IsMember(threshold_rule_names()))
      ->capture_default_str();
  cmd->add_option("--threshold-value", f->o.threshold_value,
                  "gap: fraction assumed normal (0.5); percentile: q (95); fpr: target rate (0.05)");
  cmd->add_option("--counterfactuals", f->o.counterfactuals, "morph strips for the top outliers")
      ->capture_default_str();
  cmd->add_option("--morph-steps", f->o.morph_steps, "frames per morph strip")->capture_default_str();
  cmd->add_option("--gradcam-dims", f->o.gradcam_dims, "latent dims with signed Grad-CAM panels")
      ->capture_default_str();
  cmd->add_option("--gradcam-inputs", f->o.gradcam_inputs, "inputs per Grad-CAM panel")->capture_default_str();
  cmd->add_option("--gradcam-tap", f->o.gradcam_tap, "encoder tap for Grad-CAM")
      ->check(CLI::IsMember({"conv1", "conv2", "conv3", "conv4"}))
      ->capture_default_str();
  add_common_flags(cmd, f->common, "report folder");
  return {cmd, [f] {
            f->o.common = study_common(f->common, f->preset);
            f->o.model = f->model;
            f->o.threshold = parse_threshold_rule(f->threshold, "--threshold");
            f->o.fit
                .set_shrinkage(f->shrinkage == "ledoit-wolf" ? Shrinkage::kLedoitWolf
                               : f->shrinkage == "fixed"     ? Shrinkage::kFixed
                                                             : Shrinkage::kNone)
                .set_lambda(f->lambda)
                .set_robust(f->robust);
            run_outliers_study(f->o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
