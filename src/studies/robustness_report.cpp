// The robustness study's report sections and metrics (robustness_steps.h).
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/studies/toolkit.h"
#include "robustness_steps.h"

namespace loupe::robustness_study {

namespace {

using report::json;

// The reference study's best debiased models on the inverted test split.
constexpr const char* kReferenceFashion = "75–80%";
constexpr const char* kReferenceMnist = "85–90%";

// What each model is, in one line.
std::string model_description(const RobustnessStudyOptions& o, const ModelPlan& p) {
  const auto& q = o.parameters;
  if (p.name == "lazy") return "cross-entropy on the biased data";
  if (p.name == "control") return "cross-entropy on grayscale images (no colour to learn)";
  switch (p.objective) {
    case TrainObjective::kFocal:
      return "focal loss CE·(1 − p_t)^γ, γ = " + study::fixed(q.loss.focal_gamma, 2);
    case TrainObjective::kInputGradient:
      return "CE + λ‖∇ₓ CE‖², λ = " + study::fixed(q.loss.lambda, 3);
    case TrainObjective::kEdgeSaliency:
      return "CE + λ·saliency off the Sobel edges, λ = " + study::fixed(q.loss.lambda, 3);
    case TrainObjective::kOcclusion:
      return "CE with a random " + std::to_string(q.loss.occlusion_size) + "×" + std::to_string(q.loss.occlusion_size) +
             " black square per image";
    case TrainObjective::kAdversarial:
      return "Madry PGD training, L∞ ε = " + study::fixed(o.adversarial_epsilon, 4) + ", " +
             std::to_string(o.adversarial_steps) + " steps";
    case TrainObjective::kJtt:
      return "Just Train Twice: " + std::to_string(q.jtt.identification_epochs) +
             " epoch(s) of ERM, its errors up-sampled ×" + std::to_string(q.jtt.upweight);
    case TrainObjective::kLff:
      return "Learning from Failure: GCE q = " + study::fixed(q.lff.q, 2) + " biased model weights the samples";
    default:
      return "cross-entropy";
  }
}

std::string epsilon_text(double e, double max_epsilon) {
  return std::isfinite(e) ? study::fixed(e, 4) : "> " + study::fixed(max_epsilon, 3);
}

json epsilon_json(double e) { return std::isfinite(e) ? json(e) : json(nullptr); }

std::vector<std::string> model_names(const Results& res) {
  std::vector<std::string> names;
  for (const auto& m : res.models) names.push_back(m.plan.name);
  return names;
}

}  // namespace

std::string harder_to_fool_answer(const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                                  const Results& res) {
  const double max_e = s.max_epsilon;
  if (res.best < 0) return "No debiasing objective was trained (--objectives), so the study cannot compare one.";
  const auto b = static_cast<size_t>(res.best);
  const auto& lazy = res.attacks[0];
  const auto& best = res.attacks[b];
  const auto& name = res.models[b].plan.name;
  const double gain = res.scores[b].inverted.accuracy - res.scores[0].inverted.accuracy;
  std::ostringstream t;
  t << "Is the model that learned shape harder to fool? ";
  // Harder when it needs a clearly larger ε (median over all (image, target) pairs, an
  // unreachable pair counting as larger than ε_max) or falls clearly less often at ε_max.
  const double l_med = lazy.median_epsilon, b_med = best.median_epsilon;
  bool larger = b_med > 1.2 * l_med, smaller = b_med * 1.2 < l_med;
  if (std::isinf(l_med) && std::isinf(b_med)) {  // most pairs of both out of reach: compare how many are not
    const double l_reached = lazy.minimal.reached.to(torch::kDouble).mean().item<double>();
    const double b_reached = best.minimal.reached.to(torch::kDouble).mean().item<double>();
    larger = b_reached + 0.1 < l_reached;
    smaller = l_reached + 0.1 < b_reached;
  }
  const double rate_drop = lazy.success_rate - best.success_rate;
  // The lazy model reads colour when it fails the inverted split; trained long enough on
  // the 5% of conflicting images it reads shape too.
  const bool lazy_reads_colour = res.scores[0].inverted.accuracy < 0.5;
  if (gain < 0.05 && lazy_reads_colour)
    t << "Here no objective learned much shape: the best, " << name << ", gains only " << study::fixed(100 * gain, 1)
      << " points on the inverted test split over the lazy model, so the comparison "
      << "below is between two colour readers. ";
  else if (gain < 0.05)
    t << "Here the lazy model already reads shape (" << study::percent(res.scores[0].inverted.accuracy)
      << " on the inverted test split) and the best objective, " << name << ", adds only "
      << study::fixed(100 * gain, 1) << " points, so the comparison below is between two shape readers. ";
  const bool harder = larger || rate_drop > 0.1, easier = !harder && (smaller || rate_drop < -0.1);
  t << (harder ? "Yes. " : easier ? "No, it is easier. " : "No, not measurably. ");
  t << "To make an aligned validation image read as another class with p ≥ " << study::fixed(o.attack_goal, 2)
    << ", targeted iterative FGSM needs a median ε of " << epsilon_text(b_med, max_e) << " on " << name
    << " (inverted test " << study::percent(res.scores[b].inverted.accuracy) << ") against "
    << epsilon_text(l_med, max_e) << " on the lazy model (" << study::percent(res.scores[0].inverted.accuracy)
    << "), and at ε = " << study::fixed(o.attack_epsilon, 3) << " it succeeds on " << study::percent(best.success_rate)
    << " of (image, target) "
    << "pairs against " << study::percent(lazy.success_rate) << ". ";
  for (size_t i = 0; i < res.models.size(); ++i) {
    const auto& m = res.models[i].plan;
    if (m.name == "control")
      t << "The grayscale control, which never saw colour: median ε "
        << epsilon_text(res.attacks[i].median_epsilon, max_e) << ", success "
        << study::percent(res.attacks[i].success_rate) << ". ";
    if (m.objective == TrainObjective::kAdversarial && i != b)
      t << "Adversarial training, which aims at this directly: median ε "
        << epsilon_text(res.attacks[i].median_epsilon, max_e) << ", success "
        << study::percent(res.attacks[i].success_rate) << ". ";
  }
  if (easier && lazy_reads_colour)
    t << "A colour reader is moved only by changing the colour, which takes a large ε; the shape that " << name
      << " reads is a finer feature that small, structured perturbations change, as in any undefended classifier. "
         "Removing a shortcut is not hardening.";
  else if (easier)
    t << "Debiasing did not make the model harder to fool; removing a shortcut is not hardening.";
  else if (harder)
    t << "Here reading shape also put the decision boundary further from the images.";
  return t.str();
}

void add_summary(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                 const ShortcutData& d, const Results& res) {
  r.section("Summary");
  const auto& lazy = res.scores[0];
  const auto& control = res.scores[1];
  std::ostringstream t;
  t << "Every model but the control trains on the same biased Coloured" << d.base_name << " (" << study::percent(o.bias)
    << " of images in their class colour); only the objective changes. The lazy model scores "
    << study::percent(lazy.validation.accuracy) << " on the biased validation split and "
    << study::percent(lazy.inverted.accuracy) << " on the inverted test split, where class c wears the colour of class "
    << "(c+" << o.test_offset << ") mod 10. ";
  if (res.best >= 0) {
    const auto b = static_cast<size_t>(res.best);
    const double acc = res.scores[b].inverted.accuracy;
    t << "The best objective, " << res.models[b].plan.name << ", scores " << study::percent(acc)
      << " on the inverted test split (the reference study's best debiased models reached "
      << (o.base == "mnist" ? kReferenceMnist : kReferenceFashion) << "). The grayscale control scores "
      << study::percent(control.gray.accuracy) << " on the same test images in grayscale: the best objective is "
      << study::fixed(100 * (control.gray.accuracy - acc), 1) << " points "
      << (acc <= control.gray.accuracy ? "below" : "above") << " it. ";
  }
  t << harder_to_fool_answer(o, s, res);
  r.text(t.str());

  std::vector<std::vector<json>> rows, objectives;
  const double lazy_seconds = res.models[0].train_seconds;
  for (size_t i = 0; i < res.models.size(); ++i) {
    const auto& m = res.models[i];
    const auto& sc = res.scores[i];
    const double secs = m.train_seconds;
    rows.push_back({m.plan.name, sc.validation.accuracy, sc.inverted.accuracy, sc.gray.accuracy, sc.follows, sc.keeps,
                    std::isfinite(secs) ? json(secs) : json(nullptr),
                    std::isfinite(secs / lazy_seconds) ? json(secs / lazy_seconds) : json(nullptr),
                    m.source == "trained here" ? "trained" : "loaded"});
    objectives.push_back({m.plan.name, model_description(o, m.plan)});
  }
  r.table({"Every model on the same splits (accuracy; the control's training images were gray)",
           {"model", "biased validation", "inverted test", "gray test", "probe: follows tint", "probe: keeps class",
            "train time (s)", "time ÷ lazy", "source"},
           rows});
  r.text(
      "Gray test: the inverted test images in grayscale. Probe: gray test images tinted with another class's "
      "colour (" +
      std::to_string(o.probe_images_per_class) +
      " per class); \"follows tint\" is how often the "
      "prediction becomes the tint's class (a colour reader), \"keeps class\" how often it stays right (a shape "
      "reader). Train time of a loaded model is its checkpoint's record (the Training section names the file).");
  r.table({"What each model is", {"model", "training"}, objectives});
  std::vector<double> val, inv, gray;
  for (const auto& sc : res.scores) {
    val.push_back(sc.validation.accuracy);
    inv.push_back(sc.inverted.accuracy);
    gray.push_back(sc.gray.accuracy);
  }
  r.chart("Accuracy by split and model",
          report::bar_chart("model", "accuracy", model_names(res),
                            {{"biased validation", val}, {"inverted test", inv}, {"gray test", gray}}));
}

void add_gradcam_section(report::Report& r, const Results& res, const std::string& tap) {
  r.section("Grad-CAM on conflicting images");
  r.text(
      "The first inverted test image of each class: its colour belongs to another class. Top row: the input and its "
      "true class; below, one row per model with its Grad-CAM (" +
      tap +
      ") of its own prediction (after the "
      "arrow). The control sees the grayscale version. A colour reader's map spreads over the whole garment or "
      "the background; a shape reader's follows outlines and parts.");
  r.figure("Grad-CAM per model on the same conflicting images", res.gradcam.grid);
}

void add_attack_section(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                        const ShortcutData& d, const Results& res) {
  r.section("Attacks");
  const int64_t rows = res.attack_rows.target.size(0);
  const double max_e = s.max_epsilon;
  r.text(
      "Targeted iterative FGSM as the reference study: x ← clip₀¹(Π_ε(x − α·sign ∇ₓ CE(f(x), target))), α = 1/255, "
      "each (image, target) pair stopping once p(target) ≥ " +
      study::fixed(o.attack_goal, 2) + ". " + std::to_string(res.attack_rows.images) +
      " biased validation images in their own class colour, each "
      "towards every other class: " +
      std::to_string(rows) +
      " pairs per model, the control attacked on the gray "
      "versions. The success rate is the attack's at ε = " +
      study::fixed(o.attack_epsilon, 3) +
      " (Kurakin et al.'s ceil(min(255ε + 4, 1.25·255ε)) steps). The minimal ε of each pair is bisected up to "
      "ε_max = " +
      study::fixed(max_e, 3) + " (to " + study::fixed(s.attack_tolerance, 4) +
      "); pairs that need "
      "more are counted as not fooled, not dropped.");
  std::vector<std::vector<json>> table;
  for (size_t i = 0; i < res.models.size(); ++i) {
    const auto& a = res.attacks[i];
    const json median = std::isfinite(a.median_epsilon) ? json(a.median_epsilon) : json("> " + study::fixed(max_e, 3));
    table.push_back({res.models[i].plan.name, a.success_rate, median, a.minimal.reached.sum().item<int64_t>(), rows,
                     a.minimal.rounds, a.seconds});
  }
  r.table({"Attack per model (median minimal ε \"> ε_max\": more than half the pairs need more than ε_max)",
           {"model", "success at ε = " + study::fixed(o.attack_epsilon, 3), "median minimal ε", "fooled within ε_max",
            "pairs", "bisection rounds", "time (s)"},
           table});
  std::vector<std::pair<std::string, std::vector<double>>> curves;
  for (size_t i = 0; i < res.models.size(); ++i) curves.push_back({res.models[i].plan.name, res.attacks[i].curve});
  r.chart("Success rate against ε: the fraction of pairs whose minimal ε is at most ε",
          report::line_chart("ε (L∞)", "pairs fooled", curves, curve_epsilons(max_e)));
  // Cells out of reach are coloured at ε_max (the darkest: hardest) and say so; both maps
  // share the scale [0, ε_max].
  const auto heat = [&](size_t i) {
    const auto& median = res.attacks[i].cell_median;
    std::vector<std::string> text;
    for (const double v : study::to_doubles(median))
      text.push_back(std::isnan(v) ? "" : std::isinf(v) ? ">" + study::fixed(max_e, 2) : study::fixed(v, 3));
    r.chart("Median minimal ε per source (row) and target (column): " + res.models[i].plan.name,
            report::heatmap("source class", "target class", d.classes, d.classes,
                            median.masked_fill(median.isinf(), max_e), "median ε", {text, 0.0, max_e}));
  };
  heat(0);
  if (res.best >= 0) heat(static_cast<size_t>(res.best));
  r.text(harder_to_fool_answer(o, s, res));
}

void add_training_section(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                          const ShortcutData& d, const Results& res) {
  r.section("Training");
  std::vector<std::pair<std::string, std::vector<double>>> accuracy;
  for (const auto& m : res.models)
    if (!m.steps.empty()) accuracy.push_back({m.plan.name, history_moving_mean(m.steps, "accuracy")});
  if (!accuracy.empty())
    r.chart("Training accuracy per step (mean of the last 10 batches; JTT's final stage, LfF's debiased model)",
            report::line_chart("step", "accuracy", accuracy));
  std::vector<std::vector<json>> runs;
  for (const auto& m : res.models)
    runs.push_back({m.plan.name, m.source, m.optimiser_steps,
                    m.epochs.empty() ? json(nullptr) : json(m.epochs.back().value("val_accuracy"))});
  r.table({"Runs", {"model", "source", "optimiser steps", "validation accuracy (own split)"}, runs});
  r.table({"Settings",
           {"setting", "value"},
           {{"base data", d.base_name},
            {"architecture", s.arch},
            {"optimiser", s.optimizer},
            {"learning rate", s.lr},
            {"epochs", s.epochs},
            {"batch size", s.batch_size},
            {"training images (coloured models)", d.lazy_train.size()},
            {"training images (control)", d.control_train.size()},
            {"bias", o.bias},
            {"test colour offset", o.test_offset},
            {"attack images per class", s.attack_images_per_class},
            {"attack ε", o.attack_epsilon},
            {"minimal ε search ceiling", s.max_epsilon},
            {"bisection tolerance", s.attack_tolerance},
            {"seed", static_cast<int64_t>(o.common.seed)},
            {"device", o.common.device.str()},
            {"run time (s)", res.seconds}}});
}

void add_metrics(report::Report& r, const RobustnessStudyOptions& o, const RobustnessStudySettings& s,
                 const ShortcutData& d, const Results& res) {
  r.metric("study", "robustness");
  std::vector<std::string> objectives;
  for (const auto obj : s.objectives) objectives.push_back(train_objective_name(obj));
  r.metric("settings", {{"preset", preset_name(o.common.preset)},
                        {"base", o.base},
                        {"arch", s.arch},
                        {"optimizer", s.optimizer},
                        {"lr", s.lr},
                        {"epochs", s.epochs},
                        {"batch_size", s.batch_size},
                        {"train_images", d.lazy_train.size()},
                        {"control_train_images", d.control_train.size()},
                        {"objectives", objectives},
                        {"bias", o.bias},
                        {"test_offset", o.test_offset},
                        {"attack_images_per_class", s.attack_images_per_class},
                        {"attack_epsilon", o.attack_epsilon},
                        {"max_epsilon", s.max_epsilon},
                        {"attack_goal", o.attack_goal},
                        {"attack_tolerance", s.attack_tolerance},
                        {"seed", o.common.seed},
                        {"device", o.common.device.str()}});
  r.metric("models", model_names(res));
  for (size_t i = 0; i < res.models.size(); ++i) {
    const auto& m = res.models[i];
    const auto& sc = res.scores[i];
    const auto& a = res.attacks[i];
    const std::string k = "model." + m.plan.name + ".";
    r.metric(k + "source", m.source);
    r.metric(k + "validation_accuracy", sc.validation.accuracy);
    r.metric(k + "inverted_test_accuracy", sc.inverted.accuracy);
    r.metric(k + "gray_test_accuracy", sc.gray.accuracy);
    r.metric(k + "probe_follows_colour", sc.follows);
    r.metric(k + "probe_keeps_class", sc.keeps);
    r.metric(k + "train_seconds", m.train_seconds);
    r.metric(k + "optimiser_steps", m.optimiser_steps);
    r.metric(k + "gradcam_predictions", res.gradcam.predictions[i]);
    r.metric(k + "attack.success_rate", a.success_rate);
    r.metric(k + "attack.median_minimal_epsilon", epsilon_json(a.median_epsilon));
    std::vector<json> eps;
    for (const double e : study::to_doubles(a.minimal.epsilon)) eps.push_back(epsilon_json(e));
    r.metric(k + "attack.minimal_epsilon", eps);
    r.metric(k + "attack.curve", a.curve);
    r.metric(k + "attack.seconds", a.seconds);
  }
  r.metric("attack.rows.source", study::to_int64s(res.attack_rows.source));
  r.metric("attack.rows.target", study::to_int64s(res.attack_rows.target));
  r.metric("attack.curve_epsilons", curve_epsilons(s.max_epsilon));
  r.metric("gradcam.labels", res.gradcam.labels);
  r.metric("best_debiased", res.best >= 0 ? json(res.models[static_cast<size_t>(res.best)].plan.name) : json(nullptr));
  r.metric("answer", harder_to_fool_answer(o, s, res));
  r.metric("timing.seconds", res.seconds);
  r.metric("timing.data_seconds", res.timing.data);
  r.metric("timing.models_seconds", res.timing.models);
  r.metric("timing.scores_seconds", res.timing.scores);
  r.metric("timing.gradcam_seconds", res.timing.gradcam);
  r.metric("timing.attacks_seconds", res.timing.attacks);
}

}  // namespace loupe::robustness_study
