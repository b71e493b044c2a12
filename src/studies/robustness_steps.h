// The robustness study's steps and what each hands to the next (internal to the study):
// settings → data → models (trained or loaded) → scores → Grad-CAM rows → attacks →
// report sections.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "loupe/attack/attack.h"
#include "loupe/report/report.h"
#include "loupe/studies/robustness.h"
#include "loupe/studies/shortcut.h"
#include "loupe/train/classifier.h"
#include "loupe/train/history.h"

namespace loupe::robustness_study {

// One model of the comparison: the lazy model (plain cross-entropy on the biased data),
// the grayscale control, or one objective on the biased data.
struct ModelPlan {
  std::string name;  // "lazy", "control" or the objective's name
  TrainObjective objective = TrainObjective::kCrossEntropy;
  bool gray = false;  // the control: trained on, and attacked with, grayscale images
};
std::vector<ModelPlan> model_plans(const RobustnessStudySettings& s);

struct TrainedModel {
  ModelPlan plan;
  std::shared_ptr<TappedModel> model;
  std::string source;  // "trained here" or the checkpoint read
  History steps, epochs;
  int64_t optimiser_steps = 0;
  double train_seconds = 0;  // NaN when a loaded checkpoint does not say
};
ShortcutData load_data(const RobustnessStudyOptions& o, const RobustnessStudySettings& s);
// Every plan's model: its --checkpoint (all read and checked first: the study's
// architecture, 3 channels, 10 classes), or trained on the one training loop into
// out/models/<name>.pt.
std::vector<TrainedModel> obtain_models(const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                                        const ShortcutData& d);

struct Scores {
  Evaluation validation, inverted, gray;  // biased validation, inverted test, the inverted test in grayscale
  RecolouringProbe probe;
  double follows = 0, keeps = 0;  // the probe's off-diagonal means
};
Scores score_model(const RobustnessStudyOptions& o, const ShortcutData& d, TrainedModel& m);

// The conflicting images (the first inverted test image of each class) and every model's
// Grad-CAM of its own prediction; the control sees their grayscale versions.
struct GradcamRows {
  torch::Tensor grid;
  std::vector<std::vector<int64_t>> predictions;  // per model
  std::vector<int64_t> labels;
};
GradcamRows gradcam_rows(const ShortcutData& d, std::vector<TrainedModel>& models, torch::Device device);

// The targeted grid: attack_images_per_class aligned biased validation images per class
// (their colour is their class's), each towards every other class.
struct AttackSet {
  torch::Tensor coloured, gray;  // float [M,3,H,W]: the rows' images (the control attacks the gray ones)
  torch::Tensor source, target;  // int64 [M]: true class and target of each row
  int64_t images = 0;
};
AttackSet attack_set(const ShortcutData& d, int64_t per_class);

struct AttackScores {
  AttackResult at_epsilon;    // the attack at attack_epsilon
  MinimalEpsilon minimal;     // per row; +inf where max_epsilon is not enough
  double success_rate = 0;    // rows reaching the goal at attack_epsilon
  double median_epsilon = 0;  // over all rows, unreached as +inf (so +inf when most are)
  torch::Tensor cell_median;  // double [K,K]: median minimal ε per (source, target); NaN on the diagonal
  std::vector<double> curve;  // fraction of rows with minimal ε <= each of curve_epsilons()
  double seconds = 0;
};
std::vector<double> curve_epsilons(double max_epsilon);
AttackScores attack_model(const RobustnessStudyOptions& o, const RobustnessStudySettings& s, const AttackSet& set,
                          TrainedModel& m);

// The median with +inf counted as the largest value (NaN for no values).
double median_with_unreached(std::vector<double> values);

// Everything the report shows, per model in plan order.
struct Results {
  std::vector<TrainedModel> models;
  std::vector<Scores> scores;
  std::vector<AttackScores> attacks;
  GradcamRows gradcam;
  AttackSet attack_rows;
  struct {
    double data = 0, models = 0, scores = 0, gradcam = 0, attacks = 0;  // seconds per phase
  } timing;
  int64_t best = -1;  // the objective (neither lazy nor control) with the best inverted test accuracy; -1 if none
  double seconds = 0;
};
int64_t best_debiased(const Results& r);
// "Is the model that learned shape harder to fool?", answered from the numbers.
std::string harder_to_fool_answer(const RobustnessStudyOptions& o, const RobustnessStudySettings& s, const Results& r);

void add_summary(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                 const ShortcutData& d, const Results& res);
void add_gradcam_section(report::Report& r, const Results& res, const std::string& tap);
void add_attack_section(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                        const ShortcutData& d, const Results& res);
void add_training_section(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                          const ShortcutData& d, const Results& res);
void add_metrics(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                 const ShortcutData& d, const Results& res);

}  // namespace loupe::robustness_study
