// The robustness study (DESIGN.md workflow 1, second half): on the biased
// ColouredFashionMNIST of the shortcut study (ColouredMNIST with --base mnist), a lazy
// model (plain cross-entropy), a grayscale control and one model per debiasing or
// hardening objective (train/train_objective.h), trained on the same biased data or
// loaded; per model the accuracy on the biased validation, inverted and grayscale test
// splits, the recolouring probe, Grad-CAM on the same conflicting images, and targeted
// iterative-FGSM attacks over the source × target grid (success at ε, minimal ε, success
// vs ε); and, from the numbers, whether the model that learned shape is harder to fool.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loupe/studies/study.h"
#include "loupe/train/train_objective.h"

namespace loupe {

struct RobustnessStudyOptions {
  StudyCommon common;
  std::string base = "fashion-mnist";  // "fashion-mnist" | "mnist"
  fs::path data_dir;                   // IDX folder; default for FashionMNIST is the Debian package's
  double bias = 0.95;
  int64_t test_offset = 5;
  // Training settings shared by every model; unset ones come from the preset (resolve()).
  std::optional<std::string> arch, optimizer;
  std::optional<double> lr;
  std::optional<int64_t> epochs, batch_size, train_images;
  // The objectives trained besides the lazy model (ce) and the control; unset = the
  // preset's (quick: focal, jtt; paper: all). ce is the lazy model.
  std::optional<std::vector<TrainObjective>> objectives;
  TrainObjectiveOptions parameters;          // γ, λ, occlusion size, JTT and LfF settings
  double adversarial_epsilon = 8.0 / 255.0;  // adversarial training's L∞ PGD
  int64_t adversarial_steps = 7;
  // Trained models to use instead of training: "lazy", "control" or an objective's name
  // → checkpoint (a classifier of the study's architecture, 3 channels, 10 classes).
  std::map<std::string, fs::path> checkpoints;
  bool resume = false;  // continue each model's checkpoint in out/models
  int64_t probe_images_per_class = 50;
  // The attacks: targeted iterative FGSM (the reference study's) from aligned biased
  // validation images towards every other class: the success rate at attack_epsilon, and
  // the minimal ε of every pair searched up to max_epsilon.
  std::optional<int64_t> attack_images_per_class;  // quick 1, paper 10
  double attack_epsilon = 0.05;
  std::optional<double> max_epsilon;  // quick 0.2, paper 0.25
  double attack_goal = 0.9;
  std::optional<double> attack_tolerance;  // bisection bracket width; quick 0.004, paper 0.001
};

struct RobustnessStudySettings {
  std::string arch, optimizer;
  double lr = 0;
  int64_t epochs = 0, control_epochs = 0, batch_size = 0, train_images = 0;
  std::vector<TrainObjective> objectives;  // the trained ones beside the lazy model and the control
  int64_t attack_images_per_class = 0;
  double max_epsilon = 0, attack_tolerance = 0;
};
RobustnessStudySettings resolve(const RobustnessStudyOptions& options);

// The names --checkpoint accepts: "lazy", "control" and every objective but ce.
std::vector<std::string> robustness_model_names();

// Runs the study and writes the report to options.common.out.
report::Report run_robustness_study(const RobustnessStudyOptions& options);

}  // namespace loupe
