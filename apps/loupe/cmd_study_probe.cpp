// loupe study probe
#include <torch/torch.h>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/studies/probe.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

StudyCommand add_study_probe(CLI::App& study) {
  auto* cmd = study.add_subcommand("probe", study_entry("probe").description);
  cmd->footer(
      "Examples:\n  loupe study probe --out probe-report\n"
      "  loupe study probe --lazy bias/models/lazy.pt --control bias/models/control.pt --out probe");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/probe"};
    ProbeStudyOptions o;
    std::string data_dir, preset = "quick", lazy, control;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--preset", f->preset, "quick (a 2-core CPU, minutes) or paper")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  add_shortcut_data_flags(cmd, f->o.base, f->data_dir, f->o.bias, f->o.test_offset);
  cmd->add_option("--lazy", f->lazy, "the lazy model's checkpoint (default: train it as loupe study bias does)");
  cmd->add_option("--control", f->control, "the grayscale control's checkpoint (default: train it)");
  cmd->add_option("--taps", f->o.taps, "comma-separated feature-map taps (default: all)")->delimiter(',');
  cmd->add_option("--units", f->o.units_shown, "units per tap visualised (quick 16, paper 64)");
  cmd->add_option("--probe-images", f->o.probe_images, "random-colour probe images (quick 2000, paper 10000)");
  cmd->add_option("--steps", f->o.steps, "feature visualisation steps (300)");
  cmd->add_option("--top-k", f->o.top_k, "top activating images per unit")->capture_default_str();
  cmd->add_option("--quantile", f->o.quantile, "NetDissect's top quantile")->capture_default_str();
  cmd->add_option("--sae", f->o.sae_kind, "sparse autoencoder: relu (L1) or topk")
      ->check(CLI::IsMember({"relu", "topk"}))
      ->capture_default_str();
  cmd->add_option("--sae-features", f->o.sae_features, "SAE dictionary size (quick 512, paper 4096)");
  cmd->add_option("--sae-steps", f->o.sae_steps, "SAE training steps (quick 400, paper 5000)");
  cmd->add_option("--sae-k", f->o.sae_k, "topk: active features per sample")->capture_default_str();
  cmd->add_option("--sae-l1", f->o.sae_l1, "relu: the L1 coefficient")->capture_default_str();
  add_common_flags(cmd, f->common, "report folder");
  return {cmd, [f] {
            f->o.common = study_common(f->common, f->preset);
            f->o.data_dir = f->data_dir;
            f->o.lazy = f->lazy;
            f->o.control = f->control;
            run_probe_study(f->o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
