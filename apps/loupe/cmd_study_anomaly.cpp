// loupe study anomaly
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/data/anomaly_synth.h"
#include "loupe/studies/anomaly.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

StudyCommand add_study_anomaly(CLI::App& study) {
  auto* cmd = study.add_subcommand("anomaly", study_entry("anomaly").description);
  cmd->footer(
      "Examples:\n  loupe study anomaly --out anomaly-report                      (built-in hazelnut)\n"
      "  loupe study anomaly --category brick --model vae --out anomaly-brick\n"
      "  loupe study anomaly --data ~/mvtec_ad --category hazelnut --preset paper --device cuda --out hazelnut\n"
      "  loupe study anomaly --checkpoint anomaly-report/models/vaegan.pt --explain 0 --samples 5000 --out again\n"
      "  loupe study anomaly --preset paper --steps 30000 --resume --out anomaly-paper  (a long run in pieces)");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/anomaly"};
    AnomalyStudyOptions o;
    std::string preset = "quick", model = "vaegan", data, checkpoint, score = "max", target = "error", flips = "auto";
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--preset", f->preset,
                  "quick (a 2-core CPU, minutes: 64x64, 400 steps of 16) or paper (128x128, 30000 steps of 64)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  cmd->add_option("--data", f->data,
                  "an MVTec AD folder (CATEGORY/train/good, test/<kind>, ground_truth/<kind>); default: built-in data "
                  "written to OUT/data");
  cmd->add_option("--category", f->o.category,
                  "category folder under --data, or a built-in category: " + join_names(anomaly_category_names()))
      ->capture_default_str();
  cmd->add_option("--model", f->model,
                  "vaegan (the reference), vae (no discriminator) or ae (deterministic); a --checkpoint's own wins")
      ->check(CLI::IsMember(reconstruction_kind_names()))
      ->capture_default_str();
  cmd->add_option("--steps", f->o.steps, "training steps (preset default: quick 400, paper 30000)");
  cmd->add_option("--size", f->o.size, "image side, a multiple of 32 (preset default: quick 64, paper 128)");
  cmd->add_flag("--resume", f->o.resume,
                "continue training from OUT/models/<model>.pt up to --steps; give the settings it was started with");
  cmd->add_option("--checkpoint", f->checkpoint, "score and explain with this trained model instead of training one")
      ->check(CLI::ExistingFile);
  cmd->add_option("--flips", f->flips,
                  "mirror training images: auto (for categories known to be mirror-symmetric), on or off")
      ->check(CLI::IsMember(flip_policy_names()))
      ->capture_default_str();
  cmd->add_option("--score", f->score, "anomaly score: max (of the map m, the seed), topk (mean of the top k%) or ssim")
      ->check(CLI::IsMember(anomaly_score_names()))
      ->capture_default_str();
  cmd->add_option("--top-percent", f->o.score.top_percent, "k of --score topk, in percent of the pixels")
      ->capture_default_str();
  cmd->add_option("--calibration", f->o.calibration,
                  "fraction of the test set (per kind) to choose τ* on, the rest evaluated at it; 0 = all (the seed)")
      ->capture_default_str();
  cmd->add_option("--explain-target", f->target,
                  "what LIME and SHAP explain: error (reconstruction error of the perturbed image), score (its anomaly "
                  "score) or difference (MSE between image and perturbed image, the paper's literal f)")
      ->check(CLI::IsMember(anomaly_explain_target_names()))
      ->capture_default_str();
  cmd->add_option("--explain", f->o.explain,
                  "defective samples explained, spread over the kinds (preset default: quick 6, paper 0 = all)");
  cmd->add_option("--samples", f->o.samples,
                  "LIME samples and Partition SHAP evaluations per image (preset default: quick 1000, paper 5000)");
  cmd->add_option("--segments", f->o.segments, "quickshift superpixels wanted per image (S1, S2)")
      ->capture_default_str();
  cmd->add_option("--wrong-reason", f->o.wrong_reason,
                  "a flagged sample whose explanation's J* (S1) is below this is right for the wrong reason")
      ->capture_default_str();
  cmd->add_option("--grid-samples", f->o.grid_samples, "rows of each sample grid in the report")->capture_default_str();
  add_common_flags(cmd, f->common, "report folder");
  return {cmd, [f] {
            f->o.common = study_common(f->common, f->preset);
            f->o.data = f->data;
            f->o.checkpoint = f->checkpoint;
            f->o.model = parse_reconstruction_kind(f->model);
            f->o.flips = parse_flip_policy(f->flips, "--flips");
            f->o.score.set_score(parse_anomaly_score(f->score, "--score"));
            f->o.explain_target = parse_anomaly_explain_target(f->target, "--explain-target");
            run_anomaly_study(f->o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
