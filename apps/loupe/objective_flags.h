// The parameters of the training objectives (train/train_objective.h), declared once for
// `loupe train` and `loupe study robustness`.
#pragma once

#include <CLI/CLI.hpp>

#include "loupe/attack/attack.h"
#include "loupe/core/option_checks.h"
#include "loupe/train/train_objective.h"

namespace loupe::cli {

struct ObjectiveFlags {
  TrainObjectiveOptions o;
  double adv_eps = 8.0 / 255.0;
  int64_t adv_steps = 7;
};

inline void add_objective_flags(CLI::App* cmd, ObjectiveFlags& f) {
  cmd->add_option("--gamma", f.o.loss.focal_gamma, "focal: the exponent gamma")->capture_default_str();
  cmd->add_option("--lambda", f.o.loss.lambda, "input-grad, edge-saliency: the penalty weight")->capture_default_str();
  cmd->add_option("--occlusion-size", f.o.loss.occlusion_size, "occlusion: side of the black square in pixels")
      ->capture_default_str();
  cmd->add_option("--jtt-epochs", f.o.jtt.identification_epochs, "jtt: epochs of the identification model")
      ->capture_default_str();
  cmd->add_option("--upweight", f.o.jtt.upweight, "jtt: copies of each misclassified training image per epoch")
      ->capture_default_str();
  cmd->add_option("--lff-q", f.o.lff.q, "lff: exponent q of the biased model's generalised cross-entropy")
      ->capture_default_str();
  cmd->add_option("--adv-eps", f.adv_eps, "adversarial: the L-inf radius of the training attack")
      ->capture_default_str();
  cmd->add_option("--adv-steps", f.adv_steps, "adversarial: PGD steps of the training attack")->capture_default_str();
}

// Range checks, each naming its flag.
inline void check_objective_flags(const ObjectiveFlags& f) {
  check_real("--gamma", f.o.loss.focal_gamma, 0, 100, "0 is plain cross-entropy");
  check_real("--lambda", f.o.loss.lambda, 0, 1e6);
  check_count("--occlusion-size", f.o.loss.occlusion_size, 1, 4096);
  check_count("--jtt-epochs", f.o.jtt.identification_epochs, 1, 10000);
  check_count("--upweight", f.o.jtt.upweight, 1, 100000);
  check_real("--lff-q", f.o.lff.q, 1e-6, 1, "GCE's exponent");
  check_real("--adv-eps", f.adv_eps, 0, 1);
  check_count("--adv-steps", f.adv_steps, 1, 1000);
}

}  // namespace loupe::cli
