#include "loupe/studies/bias.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/data/coloured.h"
#include "loupe/data/mnist.h"
#include "loupe/explain/gradcam.h"
#include "loupe/metrics/classification.h"
#include "loupe/models/checkpoint.h"
#include "loupe/studies/shortcut.h"
#include "loupe/studies/toolkit.h"
#include "loupe/train/classifier.h"

namespace loupe {

BiasStudySettings resolve(const BiasStudyOptions& o) {
  const bool paper = o.common.preset == Preset::kPaper;
  BiasStudySettings s;
  // paper: the settings that gave ~96% biased / ~18% inverted accuracy on FashionMNIST.
  // quick: a small CNN stopped early (94 Adam steps on 12k images) learns the colour,
  // which is learned first, but little shape (FashionMNIST: ~96% biased, ~24%
  // inverted); the control gets the whole grayscale set so it reaches its usual ~85%.
  s.arch = o.arch.value_or(paper ? "resnet18_small" : "small_cnn");
  s.optimizer = o.optimizer.value_or("adam");
  s.lr = o.lr.value_or(paper ? 1e-5 : 5e-4);
  s.epochs = o.epochs.value_or(paper ? 2 : 1);
  s.batch_size = o.batch_size.value_or(paper ? 300 : 128);
  s.train_images = o.train_images.value_or(paper ? 0 : 12000);
  s.control_train_images = o.control_train_images.value_or(0);
  check_count("--epochs", s.epochs, 1, 10000);
  check_count("--batch", s.batch_size, 1, 65536);
  LOUPE_CHECK(s.lr > 0 && std::isfinite(s.lr), "--lr ", s.lr, ": expected a positive learning rate");
  check_count("--train-images", s.train_images, 0, kNoLimit, "0 = all");
  check_count("--control-train-images", s.control_train_images, 0, kNoLimit, "0 = all");
  check_count("--probe-images", o.probe_images_per_class, 1, 100000, "images per class");
  check_shortcut_data_options(ShortcutDataOptions{o.base, o.data_dir, o.bias, o.test_offset});
  return s;
}

namespace {

using report::json;

// A control below this validation accuracy is undertrained: a small CNN reaches ~85%
// on grayscale FashionMNIST and ~98% on MNIST, so the comparison would say nothing.
constexpr double kControlSanity = 0.75;

// The quick preset's step budgets (94 and 375 Adam steps at batch 128: one epoch of 12k
// and of 48k images); a smaller dataset gets as many epochs as reach them.
constexpr int64_t kQuickLazySteps = 94, kQuickControlSteps = 375;

int64_t epochs_for_steps(int64_t steps, int64_t images, int64_t batch_size) {
  const int64_t per_epoch = std::max<int64_t>(1, (images + batch_size - 1) / batch_size);
  return std::max<int64_t>(1, (steps + per_epoch - 1) / per_epoch);
}

using BiasData = ShortcutData;

BiasData load_bias_data(const BiasStudyOptions& o, const BiasStudySettings& s) {
  ShortcutDataOptions d{o.base, o.data_dir, o.bias, o.test_offset, o.common.seed, s.train_images};
  d.control_train_images = s.control_train_images;
  return load_shortcut_data(d);
}

struct TrainedModel {
  std::shared_ptr<TappedModel> model;
  TrainResult run;
  int64_t epochs = 0;
};

TrainedModel train_bias_model(const BiasStudyOptions& o, const BiasStudySettings& s, const BiasData& d,
                              const std::string& who, int64_t epochs) {
  ShortcutTrainOptions t;
  t.arch = s.arch;
  t.optimizer = s.optimizer;
  t.lr = s.lr;
  t.epochs = epochs;
  t.batch_size = s.batch_size;
  t.seed = o.common.seed;
  t.checkpoint = o.common.out / "models" / (who + ".pt");
  t.label = "train " + who;
  auto trained = train_shortcut_model(d, who == "control", t, o.common.device);
  return {trained.model, std::move(trained.run), epochs};
}

// Every number the report and metrics.json show.
struct BiasResults {
  Evaluation lazy_val, lazy_test, lazy_gray, control_val, control_test, control_coloured;
  RecolouringProbe lazy_probe, control_probe;
  bool control_sane = true;
};

BiasResults evaluate_models(const BiasStudyOptions& o, const BiasData& d, TappedModel& lazy, TappedModel& control) {
  const auto device = o.common.device;
  BiasResults r;
  r.lazy_val = evaluate_classifier(lazy, d.coloured.validation, device);
  r.lazy_test = evaluate_classifier(lazy, d.coloured.test, device);
  r.lazy_gray = evaluate_classifier(lazy, d.gray.test, device);
  r.control_val = evaluate_classifier(control, d.gray.validation, device);
  r.control_test = evaluate_classifier(control, d.gray.test, device);
  r.control_coloured = evaluate_classifier(control, d.coloured.test, device);
  r.lazy_probe = recolouring_probe(lazy, d.gray.test, o.probe_images_per_class, device);
  r.control_probe = recolouring_probe(control, d.gray.test, o.probe_images_per_class, device);
  r.control_sane = r.control_val.accuracy >= kControlSanity;
  return r;
}

std::vector<std::string> short_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (auto n : names) out.push_back(n.size() > 11 ? n.substr(0, 10) + "." : n);
  return out;
}

struct Panel {
  torch::Tensor grid;
  std::vector<int64_t> lazy_pred, control_pred;
};

// Rows: the coloured input, the lazy model's Grad-CAM, the control's Grad-CAM on the
// gray version of the same image. Each CAM explains that model's own prediction.
Panel gradcam_panel(TappedModel& lazy, TappedModel& control, const Batch& coloured, const Batch& gray,
                    const std::vector<std::string>& classes, torch::Device device) {
  GradCam cam{ExplainOptions()};
  const auto lazy_maps = cam.explain(lazy, coloured.images, top1_logit()).maps;
  const auto control_maps = cam.explain(control, gray.images, top1_logit()).maps;
  const auto lazy_pred = study::predict_classes(lazy, coloured.images, device, 512);
  const auto control_pred = study::predict_classes(control, gray.images, device, 512);
  const auto names = short_names(classes);
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions;
  Panel panel;
  const int64_t n = coloured.images.size(0);
  for (int64_t i = 0; i < n; ++i) {
    cells.push_back(coloured.images[i]);
    captions.push_back(names[coloured.labels[i].item<int64_t>()]);
  }
  for (int64_t i = 0; i < n; ++i) {
    cells.push_back(overlay_heatmap(coloured.images[i], lazy_maps[i], 0.5));
    panel.lazy_pred.push_back(lazy_pred[i].item<int64_t>());
    captions.push_back(">" + names[panel.lazy_pred.back()]);
  }
  for (int64_t i = 0; i < n; ++i) {
    cells.push_back(overlay_heatmap(gray.images[i], control_maps[i], 0.5));
    panel.control_pred.push_back(control_pred[i].item<int64_t>());
    captions.push_back(">" + names[panel.control_pred.back()]);
  }
  panel.grid = image_grid(cells, captions, GridOptions(n).cell_size(84).padding(6), {"input", "lazy", "control"});
  return panel;
}

// One aligned validation example (its colour is its class's) and one conflicting
// (inverted) test example per class, each with the lazy and the control model's Grad-CAM.
struct GradcamPanels {
  Panel aligned, conflicting;
};

GradcamPanels gradcam_panels(const BiasData& d, TappedModel& lazy, TappedModel& control, torch::Device device) {
  std::vector<int64_t> aligned_idx, conflict_idx;
  const auto vl = d.coloured.validation.labels(), tl = d.coloured.test.labels();
  for (int64_t c = 0; c < static_cast<int64_t>(d.classes.size()); ++c) {
    for (int64_t i = 0; i < d.coloured.validation.size(); ++i)
      if (vl[i].item<int64_t>() == c && d.coloured.validation_colours[i] == c) {
        aligned_idx.push_back(i);
        break;
      }
    for (int64_t i = 0; i < d.coloured.test.size(); ++i)
      if (tl[i].item<int64_t>() == c) {
        conflict_idx.push_back(i);
        break;
      }
  }
  const auto aligned = torch::tensor(aligned_idx, torch::kLong),
             conflicting = torch::tensor(conflict_idx, torch::kLong);
  return {
      gradcam_panel(lazy, control, d.coloured.validation.get(aligned), d.gray.validation.get(aligned), d.classes,
                    device),
      gradcam_panel(lazy, control, d.coloured.test.get(conflicting), d.gray.test.get(conflicting), d.classes, device)};
}

void add_summary(report::Report& r, const BiasStudyOptions& o, const BiasStudySettings& s, const BiasData& d,
                 const TrainedModel& lazy, const TrainedModel& control, const BiasResults& res, double seconds) {
  r.section("Summary");
  std::ostringstream headline;
  headline << "The lazy model, trained where " << study::percent(o.bias)
           << " of images carry their class colour, scores " << study::percent(res.lazy_val.accuracy)
           << " on the biased validation split but " << study::percent(res.lazy_test.accuracy)
           << " on the inverted test split, where class c wears the colour of class (c+" << o.test_offset
           << ") mod 10. The control, trained on grayscale images, scores " << study::percent(res.control_val.accuracy)
           << " and " << study::percent(res.control_test.accuracy) << " on the same two splits in grayscale. ";
  if (!res.control_sane)
    headline << "But the control reached only " << study::percent(res.control_val.accuracy)
             << " on grayscale validation images, below the " << study::percent(kControlSanity, 0)
             << " a working baseline reaches: it is undertrained (" << control.run.step << " steps on "
             << d.control_train.size()
             << " images), so the gap between the two models says nothing about shortcuts. Train longer (--epochs) "
                "or on more images before reading the rest of this report.";
  else if (res.lazy_test.accuracy < 0.5 * res.control_test.accuracy)
    headline << "The lazy model learned the colour shortcut, not the shapes.";
  else
    headline << "The gap is small: this lazy model learned more shape than colour.";
  r.text(headline.str());
  r.table({"Accuracy by split",
           {"model", "input", "biased validation", "inverted test"},
           {{"lazy", "coloured", res.lazy_val.accuracy, res.lazy_test.accuracy},
            {"control", "grayscale", res.control_val.accuracy, res.control_test.accuracy}}});
  r.table({"Each model on the other's input (inverted test split)",
           {"model", "input", "accuracy"},
           {{"lazy", "grayscale (colour removed)", res.lazy_gray.accuracy},
            {"control", "coloured (never seen in training)", res.control_coloured.accuracy}}});
  r.table(
      {"Settings",
       {"setting", "value"},
       {{"base data", d.base_name},
        {"architecture", s.arch},
        {"optimiser", s.optimizer},
        {"learning rate", s.lr},
        {"epochs (lazy)", lazy.epochs},
        {"epochs (control)", control.epochs},
        {"optimiser steps (lazy, control)", std::to_string(lazy.run.step) + ", " + std::to_string(control.run.step)},
        {"batch size", s.batch_size},
        {"training images (lazy)", d.lazy_train.size()},
        {"training images (control)", d.control_train.size()},
        {"bias", o.bias},
        {"test colour offset", o.test_offset},
        {"seed", static_cast<int64_t>(o.common.seed)},
        {"device", o.common.device.str()},
        {"run time (s)", seconds}}});
}

void add_confusion_matrices(report::Report& r, const BiasData& d, const BiasResults& res) {
  r.section("Confusion matrices");
  r.text(
      "Rows are the true class, columns the prediction, on the inverted test split. A lazy model's mass sits near the "
      "diagonal shifted by the colour offset: it predicts the class whose colour it sees, or one of a similar colour.");
  r.chart("Lazy model, inverted test split",
          report::heatmap("true class", "predicted", d.classes, d.classes, res.lazy_test.confusion, "images"));
  r.chart("Control model, grayscale test split",
          report::heatmap("true class", "predicted", d.classes, d.classes, res.control_test.confusion, "images"));
}

void add_recolouring_probe(report::Report& r, const BiasData& d, const BiasResults& res) {
  r.section("Recolouring probe");
  const auto& lazy = res.lazy_probe;
  const auto& control = res.control_probe;
  r.text(
      "Grayscale test images of class a (rows), tinted with the colour of class b (columns): the fraction the model "
      "assigns to class b. Off the diagonal the tint is foreign, and the probe has two readings. How often the "
      "prediction follows the tint: lazy " +
      study::percent(mean_off_diagonal(lazy.follows)) + ", control " +
      study::percent(mean_off_diagonal(control.follows)) +
      ". How often it keeps the true class despite a foreign tint: lazy " +
      study::percent(mean_off_diagonal(lazy.keeps)) + ", control " + study::percent(mean_off_diagonal(control.keeps)) +
      ". A shortcut learner follows the tint; a shape learner keeps its class. A model that does neither (low on "
      "both, as a control trained without colour can be) is thrown by tinted images it never saw: a low "
      "off-diagonal rate alone does not show that a model ignores colour.");
  std::vector<std::string> colour_cols;
  for (size_t b = 0; b < d.classes.size(); ++b)
    colour_cols.push_back(coloured_palette_names()[b] + " (" + d.classes[b] + ")");
  r.chart("Lazy model: P(predict b | class a tinted with b's colour)",
          report::heatmap("true class a", "tint colour of class b", d.classes, colour_cols, lazy.follows, "fraction"));
  r.chart("Control model: the same probe", report::heatmap("true class a", "tint colour of class b", d.classes,
                                                           colour_cols, control.follows, "fraction"));
}

void add_gradcam_sections(report::Report& r, const GradcamPanels& panels, const std::string& tap) {
  r.section("Grad-CAM: aligned examples");
  r.text(
      "Validation images whose colour matches their class. Top row: input and true class; below, each model's "
      "Grad-CAM (" +
      tap + ") for its own prediction (after the arrow). The control sees the gray version.");
  r.figure("Aligned examples (biased validation split)", panels.aligned.grid);
  r.section("Grad-CAM: conflicting examples");
  r.text(
      "Inverted test images: the colour belongs to another class. Where the lazy model follows the colour, its "
      "prediction is that other class.");
  r.figure("Conflicting examples (inverted test split)", panels.conflicting.grid);
}

double images_per_second(const TrainResult& run) { return run.images_seen / std::max(1e-9, run.train_seconds); }

void add_training_section(report::Report& r, const TrainedModel& lazy, const TrainedModel& control,
                          torch::Device device) {
  r.section("Training");
  r.chart("Training loss per step (mean of the last 10 batches)",
          report::line_chart("step", "cross-entropy",
                             {{"lazy", history_moving_mean(lazy.run.steps, "loss")},
                              {"control", history_moving_mean(control.run.steps, "loss")}}));
  r.chart("Training accuracy per step (mean of the last 10 batches)",
          report::line_chart("step", "accuracy",
                             {{"lazy", history_moving_mean(lazy.run.steps, "accuracy")},
                              {"control", history_moving_mean(control.run.steps, "accuracy")}}));
  if (lazy.epochs > 1 || control.epochs > 1) {
    const auto& a = lazy.run.history;
    const auto& b = control.run.history;
    r.chart("Loss per epoch", report::line_chart("epoch", "cross-entropy",
                                                 {{"lazy train", history_series(a, "loss")},
                                                  {"lazy validation", history_series(a, "val_loss")},
                                                  {"control train", history_series(b, "loss")},
                                                  {"control validation", history_series(b, "val_loss")}}));
    r.chart("Accuracy per epoch", report::line_chart("epoch", "accuracy",
                                                     {{"lazy train", history_series(a, "accuracy")},
                                                      {"lazy validation", history_series(a, "val_accuracy")},
                                                      {"control train", history_series(b, "accuracy")},
                                                      {"control validation", history_series(b, "val_accuracy")}}));
  }
  r.text("Training throughput: lazy " + std::to_string(static_cast<int64_t>(images_per_second(lazy.run))) +
         " images/s, control " + std::to_string(static_cast<int64_t>(images_per_second(control.run))) +
         " images/s on " + device.str() + ".");
}

json epoch_series(const History& h) {
  json rows = json::array();
  for (const auto& r : h)
    rows.push_back({{"epoch", r.epoch},
                    {"train_loss", r.value("loss")},
                    {"train_accuracy", r.value("accuracy")},
                    {"val_loss", r.value("val_loss")},
                    {"val_accuracy", r.value("val_accuracy")},
                    {"seconds", r.value("seconds")}});
  return rows;
}

void add_metrics(report::Report& r, const BiasStudyOptions& o, const BiasStudySettings& s, const BiasData& d,
                 const TrainedModel& lazy, const TrainedModel& control, const BiasResults& res,
                 const GradcamPanels& panels, double seconds) {
  const auto rows = [](const torch::Tensor& m) { return study::matrix_json(m.to(torch::kDouble)); };
  r.metric("study", "bias");
  r.metric("settings", {{"preset", preset_name(o.common.preset)},
                        {"base", o.base},
                        {"arch", s.arch},
                        {"optimizer", s.optimizer},
                        {"lr", s.lr},
                        {"epochs", lazy.epochs},
                        {"control_epochs", control.epochs},
                        {"batch_size", s.batch_size},
                        {"train_images", d.lazy_train.size()},
                        {"control_train_images", d.control_train.size()},
                        {"bias", o.bias},
                        {"test_offset", o.test_offset},
                        {"seed", o.common.seed},
                        {"device", o.common.device.str()}});
  r.metric("lazy.validation_accuracy", res.lazy_val.accuracy);
  r.metric("lazy.inverted_test_accuracy", res.lazy_test.accuracy);
  r.metric("lazy.gray_test_accuracy", res.lazy_gray.accuracy);
  r.metric("control.validation_accuracy", res.control_val.accuracy);
  r.metric("control.gray_test_accuracy", res.control_test.accuracy);  // the inverted split's images in grayscale
  r.metric("control.coloured_inverted_test_accuracy", res.control_coloured.accuracy);
  r.metric("control.undertrained", !res.control_sane);
  r.metric("lazy.confusion_inverted_test", rows(res.lazy_test.confusion));
  r.metric("control.confusion_test", rows(res.control_test.confusion));
  r.metric("probe.lazy", rows(res.lazy_probe.follows));
  r.metric("probe.control", rows(res.control_probe.follows));
  r.metric("probe.lazy_follows_colour", mean_off_diagonal(res.lazy_probe.follows));
  r.metric("probe.control_follows_colour", mean_off_diagonal(res.control_probe.follows));
  r.metric("probe.lazy_keeps_class", mean_off_diagonal(res.lazy_probe.keeps));
  r.metric("probe.control_keeps_class", mean_off_diagonal(res.control_probe.keeps));
  r.metric("gradcam.aligned.lazy_predictions", panels.aligned.lazy_pred);
  r.metric("gradcam.conflicting.lazy_predictions", panels.conflicting.lazy_pred);
  r.metric("gradcam.conflicting.control_predictions", panels.conflicting.control_pred);
  r.metric("lazy.history", epoch_series(lazy.run.history));
  r.metric("control.history", epoch_series(control.run.history));
  r.metric("timing.seconds", seconds);
  r.metric("timing.lazy_train_images_per_second", images_per_second(lazy.run));
  r.metric("timing.control_train_images_per_second", images_per_second(control.run));
}

}  // namespace

report::Report run_bias_study(const BiasStudyOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  const auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models"}));
  const auto d = load_bias_data(o, s);
  const bool quick = o.common.preset == Preset::kQuick && !o.epochs;
  const auto lazy = train_bias_model(
      o, s, d, "lazy", quick ? epochs_for_steps(kQuickLazySteps, d.lazy_train.size(), s.batch_size) : s.epochs);
  const auto control =
      train_bias_model(o, s, d, "control",
                       quick ? epochs_for_steps(kQuickControlSteps, d.control_train.size(), s.batch_size) : s.epochs);
  const auto results = evaluate_models(o, d, *lazy.model, *control.model);
  const auto panels = gradcam_panels(d, *lazy.model, *control.model, o.common.device);
  const double seconds = seconds_since(started);

  report::Report r("Shortcut study: Coloured" + d.base_name, "preset " + preset_name(o.common.preset) + " · " + s.arch +
                                                                 " · " + std::to_string(lazy.epochs) +
                                                                 " epoch(s) · bias " + study::percent(o.bias));
  add_summary(r, o, s, d, lazy, control, results, seconds);
  add_confusion_matrices(r, d, results);
  add_recolouring_probe(r, d, results);
  add_gradcam_sections(r, panels, lazy.model->default_cam_tap());
  add_training_section(r, lazy, control, o.common.device);
  add_metrics(r, o, s, d, lazy, control, results, panels, seconds);
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
