// loupe eval
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <optional>

#include "common.h"
#include "data_flags.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/report/report.h"
#include "loupe/train/classifier.h"

namespace loupe::cli {
namespace {

void print_confusion(const Evaluation& e, const std::vector<std::string>& classes) {
  std::cout << "confusion matrix (rows = true class, columns = predicted):\n";
  for (int64_t a = 0; a < e.confusion.size(0); ++a) {
    std::cout << std::setw(14) << classes[a].substr(0, 13);
    for (int64_t b = 0; b < e.confusion.size(1); ++b) std::cout << std::setw(6) << e.confusion[a][b].item<int64_t>();
    std::cout << "\n";
  }
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Evaluate a classifier (checkpoint or TorchScript) on a dataset split: accuracy and confusion matrix");
  cmd->footer("Example:\n  loupe eval --checkpoint lazy.pt --data coloured-fashion-mnist --split test");
  struct Flags {
    CommonFlags common;
    DataFlags data;
    ClassifierSource model;
    std::string split = "test";
  };
  auto f = std::make_shared<Flags>();
  add_classifier_flags(cmd, f->model);
  add_data_flags(cmd, f->data);
  cmd->add_option("--split", f->split, "validation or test")
      ->check(CLI::IsMember({"validation", "test"}))
      ->capture_default_str();
  add_common_flags(cmd, f->common, "optional report folder (report.html + metrics.json)");
  return [f] {
    check_common_flags(f->common);
    check_data_flags(f->data);
    const auto device = resolve_device(f->common.device);
    std::optional<OutputDir> report_folder;
    if (!f->common.out.empty()) report_folder.emplace(f->common.out);
    check_classifier_flags(f->model);
    auto splits = load_data(f->data, static_cast<uint64_t>(f->common.seed));
    const auto& data = f->split == "test" ? *splits.test : *splits.validation;
    auto source = f->model;
    source.probe_size = data.image_shape()[1];
    auto [model, spec] = load_classifier(source);
    model->to(device);
    const std::string model_name = source.checkpoint.empty() ? source.model : source.checkpoint.string();
    LOUPE_CHECK(data.image_shape()[0] == spec.in_channels, "--data ", f->data.name, ": images have ",
                data.image_shape()[0], " channel(s) but model ", model_name, " expects ", spec.in_channels);
    LOUPE_CHECK(data.num_classes() == spec.num_classes, "--data ", f->data.name, ": ", data.num_classes(),
                " classes but model ", model_name, " has ", spec.num_classes);
    const auto e = evaluate_classifier(*model, data, device);
    std::cout << spec.arch << " on " << f->data.name << " (" << f->split << ", " << data.size() << " images): accuracy "
              << std::fixed << std::setprecision(4) << e.accuracy << ", loss " << e.loss << "\n";
    print_confusion(e, data.class_names());
    if (!f->common.out.empty()) {
      report::Report r("Evaluation of " + fs::path(model_name).filename().string(), f->data.name + " · " + f->split);
      r.section("Accuracy");
      r.table({"",
               {"model", "data", "split", "images", "accuracy", "loss"},
               {{spec.arch, f->data.name, f->split, data.size(), e.accuracy, e.loss}}});
      r.chart("Confusion matrix", report::heatmap("true class", "predicted", data.class_names(), data.class_names(),
                                                  e.confusion, "images"));
      r.metric("accuracy", e.accuracy);
      r.metric("loss", e.loss);
      r.write(f->common.out);
      std::cout << "report: " << (fs::path(f->common.out) / "report.html").string() << "\n";
    }
  };
}

}  // namespace loupe::cli
