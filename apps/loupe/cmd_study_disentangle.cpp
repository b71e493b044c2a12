// loupe study disentangle
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/studies/disentangle.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

StudyCommand add_study_disentangle(CLI::App& study) {
  auto* cmd = study.add_subcommand("disentangle", study_entry("disentangle").description);
  cmd->footer(
      "Examples:\n  loupe study disentangle --out dis-report\n"
      "  loupe study disentangle --objective beta_vae --beta 4 --latents 10 --out dis-beta\n"
      "  loupe study disentangle --model dis-report/models/vae.pt --out dis-again\n"
      "  loupe study disentangle --preset paper --device cuda --out dis-paper\n"
      "  loupe study disentangle --preset paper --steps 40000 --resume --out dis-paper  (a CPU run in pieces)");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/disentangle"};
    DisentangleStudyOptions o;
    std::string preset = "quick", model;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--preset", f->preset, "quick (a 2-core CPU, minutes) or paper (50 epochs, for a GPU)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  cmd->add_option("--objective", f->o.objective, "vae, beta_vae, beta_tcvae or capacity (default beta_tcvae)")
      ->check(CLI::IsMember({"vae", "beta_vae", "beta_tcvae", "capacity"}));
  cmd->add_option("--beta", f->o.beta, "beta-VAE KL weight / beta-TCVAE TC weight (default 6)");
  cmd->add_option("--latents", f->o.latents, "latent dimensions (default 12)");
  cmd->add_option("--steps", f->o.steps, "optimiser steps (quick 1200; 0 = the preset's epochs)");
  cmd->add_option("--pool", f->o.pool,
                  "training images rendered once (quick 3000; 0 = render every batch, as paper does)");
  cmd->add_option("--eval-images", f->o.eval_images, "held-out images for the metrics (quick 1000, paper 10000)");
  cmd->add_option("--model", f->model, "study this VAE checkpoint instead of training one");
  cmd->add_flag("--resume", f->o.resume,
                "continue from OUT/models/vae.pt (saved every epoch) up to --steps; give the settings it was "
                "started with");
  add_common_flags(cmd, f->common, "report folder");
  return {cmd, [f] {
            f->o.common = study_common(f->common, f->preset);
            f->o.model = f->model;
            run_disentangle_study(f->o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
