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
#include "loupe/data/image_stream.h"
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
  cmd->footer(
      "Examples:\n  loupe eval --checkpoint lazy.pt --data coloured-fashion-mnist --split test\n"
      "  loupe eval --checkpoint fm.pt --images /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
      "  loupe eval --model resnet50 --weights r50.safetensors --images val/ --size 224   # val/<class>/*.jpg\n"
      "--images streams the dataset in batches (memory bounded by --batch): an IDX file with its labels-idx1 twin,\n"
      "an HDF5 file with 'images' and 'labels', or a folder of class folders (classes sorted by name).");
  struct Flags {
    CommonFlags common;
    DataFlags data;
    ClassifierSource model;
    std::string split = "test";
    std::vector<std::string> images;
    int64_t size = 0, batch = 256;
  };
  auto f = std::make_shared<Flags>();
  add_classifier_flags(cmd, f->model);
  auto* data_option = add_data_flags(cmd, f->data, false);
  cmd->add_option("--images", f->images, "a labelled dataset to stream instead of --data (see below)")
      ->excludes(data_option);
  cmd->add_option("--size", f->size, "--images: resize to SIZE x SIZE (0 = keep)")->capture_default_str();
  cmd->add_option("--batch", f->batch, "images per forward pass")->capture_default_str();
  cmd->add_option("--split", f->split, "validation or test")
      ->check(CLI::IsMember({"validation", "test"}))
      ->capture_default_str();
  add_common_flags(cmd, f->common, "optional report folder (report.html + metrics.json)");
  return [f] {
    check_common_flags(f->common);
    check_data_flags(f->data);
    LOUPE_CHECK(!f->data.name.empty() || !f->images.empty(), "eval: expected --data NAME or --images DATASET");
    if (f->size != 0) check_image_side("--size", f->size, 3, "or 0 to keep each image's size");
    check_count("--batch", f->batch, 1, 65536);
    const auto device = resolve_device(f->common.device);
    std::optional<OutputDir> report_folder;
    if (!f->common.out.empty()) report_folder.emplace(f->common.out);
    check_classifier_flags(f->model);
    // Either a named dataset's split in memory, or --images streamed.
    DataSplits splits;
    std::unique_ptr<ImageStream> stream;
    std::unique_ptr<StreamDataset> streamed;
    auto source = f->model;
    std::string data_name = f->data.name, split = f->split;
    if (f->images.empty()) {
      splits = load_data(f->data, static_cast<uint64_t>(f->common.seed));
      source.probe_size = (f->split == "test" ? *splits.test : *splits.validation).image_shape()[1];
    } else {
      const auto probe = open_image_stream(f->images, ImageStreamOptions().set_size(f->size));
      source.probe_size = probe->image_size() ? probe->image_size()->first : 224;
      data_name = probe->describe();
      split = "all";
    }
    auto [model, spec] = load_classifier(source);
    model->to(device);
    if (!f->images.empty()) {
      stream = open_image_stream(f->images, ImageStreamOptions().set_channels(spec.in_channels).set_size(f->size));
      streamed = std::make_unique<StreamDataset>(*stream, spec.num_classes);
    }
    const Dataset& data =
        streamed ? static_cast<const Dataset&>(*streamed) : (f->split == "test" ? *splits.test : *splits.validation);
    const std::string model_name = source.checkpoint.empty() ? source.model : source.checkpoint.string();
    LOUPE_CHECK(data.image_shape()[0] == spec.in_channels, "--data ", f->data.name, ": images have ",
                data.image_shape()[0], " channel(s) but model ", model_name, " expects ", spec.in_channels);
    LOUPE_CHECK(data.num_classes() == spec.num_classes, "--data ", f->data.name, ": ", data.num_classes(),
                " classes but model ", model_name, " has ", spec.num_classes);
    const auto e = evaluate_classifier(*model, data, device, f->batch, /*progress=*/true);
    std::cout << spec.arch << " on " << data_name << " (" << split << ", " << data.size() << " images): accuracy "
              << std::fixed << std::setprecision(4) << e.accuracy << ", loss " << e.loss << "\n";
    print_confusion(e, data.class_names());
    if (!f->common.out.empty()) {
      report::Report r("Evaluation of " + fs::path(model_name).filename().string(), data_name + " · " + split);
      r.section("Accuracy");
      r.table({"",
               {"model", "data", "split", "images", "accuracy", "loss"},
               {{spec.arch, data_name, split, data.size(), e.accuracy, e.loss}}});
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
