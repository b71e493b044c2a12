// loupe study robustness
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/models/zoo.h"
#include "loupe/studies/robustness.h"
#include "loupe/studies/study.h"
#include "objective_flags.h"

namespace loupe::cli {

namespace {

// "name=FILE" → (name, FILE); names are checked by the study.
std::pair<std::string, fs::path> split_checkpoint_flag(const std::string& text) {
  const auto eq = text.find('=');
  LOUPE_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), "--checkpoint '", text,
              "': expected NAME=FILE, NAME one of ", join_names(robustness_model_names()));
  return {text.substr(0, eq), fs::path(text.substr(eq + 1))};
}

}  // namespace

StudyCommand add_study_robustness(CLI::App& study) {
  auto* cmd = study.add_subcommand("robustness", study_entry("robustness").description);
  cmd->footer(
      "Examples:\n  loupe study robustness --out robustness-report\n"
      "  loupe study robustness --objectives jtt,adversarial --checkpoint lazy=bias-report/models/lazy.pt "
      "--checkpoint control=bias-report/models/control.pt --out robustness\n"
      "  loupe study robustness --preset paper --device cuda --out robustness-paper   # --resume continues it");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/robustness"};
    RobustnessStudyOptions o;
    ObjectiveFlags objective;
    std::string data_dir, preset = "quick";
    std::vector<std::string> objectives, checkpoints;
  };
  auto f = std::make_shared<Flags>();
  std::vector<std::string> objective_choices = {"all"};
  for (const auto& n : train_objective_names())
    if (n != "ce") objective_choices.push_back(n);
  cmd->add_option("--preset", f->preset, "quick (a 2-core CPU, minutes) or paper (ResNet-18, 15 epochs, for a GPU)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  add_shortcut_data_flags(cmd, f->o.base, f->data_dir, f->o.bias, f->o.test_offset);
  cmd->add_option("--objectives", f->objectives,
                  "comma-separated objectives to train beside the lazy model (ce) and the grayscale control, or all "
                  "(default: quick focal,jtt; paper all)")
      ->delimiter(',')
      ->check(CLI::IsMember(objective_choices));
  add_objective_flags(cmd, f->objective);
  cmd->add_option("--checkpoint", f->checkpoints,
                  "NAME=FILE: use this trained model instead of training one (NAME: lazy, control or an objective; "
                  "repeatable)");
  cmd->add_flag("--resume", f->o.resume, "continue each model's checkpoint in OUT/models");
  cmd->add_option("--model", f->o.arch, "architecture (default: small_cnn for quick, resnet18_small for paper)")
      ->check(CLI::IsMember(model_names()));
  cmd->add_option("--optimizer", f->o.optimizer, "adam or sgd")->check(CLI::IsMember({"adam", "sgd"}));
  cmd->add_option("--lr", f->o.lr, "learning rate (preset default: quick 5e-4, paper 1e-4)");
  cmd->add_option("--epochs", f->o.epochs, "epochs of every model (preset default: quick 1, paper 15)");
  cmd->add_option("--batch", f->o.batch_size, "batch size (default 128)");
  cmd->add_option("--train-images", f->o.train_images,
                  "coloured models: train on the first N training images (0 = all; quick preset 12000)");
  cmd->add_option("--probe-images", f->o.probe_images_per_class, "recolouring probe: images per class")
      ->capture_default_str();
  cmd->add_option("--attack-images", f->o.attack_images_per_class,
                  "aligned validation images per class to attack towards every other class (quick 1, paper 10)");
  cmd->add_option("--eps", f->o.attack_epsilon, "the attack's L-inf radius for the success rate")
      ->capture_default_str();
  cmd->add_option("--max-eps", f->o.max_epsilon, "ceiling of the minimal-eps search (quick 0.2, paper 0.25)");
  cmd->add_option("--goal", f->o.attack_goal, "p(target) a targeted attack must reach")->capture_default_str();
  cmd->add_option("--tolerance", f->o.attack_tolerance, "minimal eps bisection tolerance (quick 0.004, paper 0.001)");
  add_common_flags(cmd, f->common, "report folder");
  return {cmd, [f] {
            f->o.common = study_common(f->common, f->preset);
            f->o.data_dir = f->data_dir;
            check_objective_flags(f->objective);
            f->o.parameters = f->objective.o;
            f->o.adversarial_epsilon = f->objective.adv_eps;
            f->o.adversarial_steps = f->objective.adv_steps;
            if (!f->objectives.empty()) {
              std::vector<TrainObjective> chosen;
              for (const auto& n : f->objectives) {
                if (n != "all") {
                  chosen.push_back(parse_train_objective(n, "--objectives"));
                  continue;
                }
                for (const auto& all : train_objective_names())
                  if (all != "ce") chosen.push_back(parse_train_objective(all, "--objectives"));
              }
              f->o.objectives = chosen;
            }
            for (const auto& c : f->checkpoints) {
              auto [name, path] = split_checkpoint_flag(c);
              LOUPE_CHECK(!f->o.checkpoints.count(name), "--checkpoint ", name, ": given twice");
              f->o.checkpoints[name] = path;
            }
            run_robustness_study(f->o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
