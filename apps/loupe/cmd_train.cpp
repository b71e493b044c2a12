// loupe train / loupe eval
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <optional>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/data/registry.h"
#include "loupe/models/checkpoint.h"
#include "loupe/report/report.h"
#include "loupe/train/classifier.h"
#include "objective_flags.h"

namespace loupe::cli {
namespace {

struct DataFlags {
  std::string name;
  std::string dir;
  double bias = 0.95;
  int64_t test_offset = 5;
};

void add_data_flags(CLI::App* cmd, DataFlags& d) {
  cmd->add_option("--data", d.name, "dataset name")->required()->check(CLI::IsMember(dataset_names()));
  cmd->add_option("--data-dir", d.dir,
                  "folder with the IDX files (mnist; fashion-mnist defaults to /usr/share/datasets/fashion-mnist) "
                  "or the image-folder root (folder)");
  cmd->add_option("--bias", d.bias, "coloured datasets: fraction of train images in their class colour")
      ->capture_default_str();
  cmd->add_option("--test-offset", d.test_offset, "coloured datasets: test colour of class c is (c+offset) mod 10")
      ->capture_default_str();
}

void check_data_flags(const DataFlags& d) {
  check_real("--bias", d.bias, 0, 1, "fraction of train images in their class colour");
  check_count("--test-offset", d.test_offset, 0, 9, "class c's test colour is (c + offset) mod 10");
}

DataSplits load(const DataFlags& d, uint64_t seed) {
  DataRequest r;
  r.name = d.name;
  r.dir = d.dir;
  r.seed = seed;
  r.bias = d.bias;
  r.test_offset = d.test_offset;
  return load_dataset(r);
}

void print_confusion(const Evaluation& e, const std::vector<std::string>& classes) {
  std::cout << "confusion matrix (rows = true class, columns = predicted):\n";
  for (int64_t a = 0; a < e.confusion.size(0); ++a) {
    std::cout << std::setw(14) << classes[a].substr(0, 13);
    for (int64_t b = 0; b < e.confusion.size(1); ++b) std::cout << std::setw(6) << e.confusion[a][b].item<int64_t>();
    std::cout << "\n";
  }
}

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "Train a classifier from the zoo (or fine-tune a TorchScript model) on a named dataset");
  cmd->footer(
      "Examples:\n  loupe train --data coloured-fashion-mnist --model small_cnn --epochs 1 --out lazy.pt\n"
      "  loupe train --data coloured-fashion-mnist --objective edge-saliency --lambda 1 --epochs 3 --out edges.pt");
  struct Flags {
    CommonFlags common{"auto", 0, "model.pt"};
    DataFlags data;
    std::string model = "small_cnn", optimizer = "adam";
    double lr = 1e-3;
    int64_t epochs = 1, batch = 128, train_images = 0;
    bool resume = false;
    std::string objective = "ce";
    ObjectiveFlags objective_flags;
  };
  auto f = std::make_shared<Flags>();
  add_data_flags(cmd, f->data);
  cmd->add_option("--model", f->model,
                  "a zoo architecture, or a TorchScript file to fine-tune (its checkpoint refers to the file, which "
                  "must stay; a traced module keeps the train/eval behaviour it was traced in)")
      ->check(zoo_or_torchscript())
      ->capture_default_str();
  cmd->add_option("--optimizer", f->optimizer, "adam or sgd (momentum 0.9)")
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--lr", f->lr, "learning rate")->capture_default_str();
  cmd->add_option("--epochs", f->epochs, "epochs")->capture_default_str();
  cmd->add_option("--batch", f->batch, "batch size")->capture_default_str();
  cmd->add_option("--train-images", f->train_images, "use only the first N training images (0 = all)")
      ->capture_default_str();
  cmd->add_flag("--resume", f->resume, "continue from the checkpoint at --out if it exists");
  cmd->add_option("--objective", f->objective,
                  "ce (cross-entropy), focal (CE·(1-p)^gamma), input-grad (CE + lambda·|grad_x CE|^2), edge-saliency "
                  "(CE + lambda·saliency off the Sobel edges), occlusion (a random black square per image) or "
                  "adversarial (CE on L-inf PGD examples), or jtt (Just Train Twice: retrain with the images a "
                  "first model misclassifies up-weighted) or lff (Learning from Failure: a biased model trained "
                  "with generalised CE weights the debiased model's samples)")
      ->check(CLI::IsMember(train_objective_names()))
      ->capture_default_str();
  add_objective_flags(cmd, f->objective_flags);
  add_common_flags(cmd, f->common, "checkpoint file (written atomically after every epoch)");
  return [f] {
    check_common_flags(f->common);
    check_data_flags(f->data);
    check_positive("--lr", f->lr);
    check_count("--epochs", f->epochs, 1, 10000);
    check_count("--batch", f->batch, 1, 65536);
    check_count("--train-images", f->train_images, 0, kNoLimit, "0 = all");
    auto& objective = f->objective_flags.o;
    objective.set_objective(parse_train_objective(f->objective, "--objective"));
    check_objective_flags(f->objective_flags);
    if (objective.objective == TrainObjective::kAdversarial)
      objective.loss.set_adversary(pgd_adversary(f->objective_flags.adv_eps, f->objective_flags.adv_steps));
    const fs::path checkpoint = f->common.out;
    LOUPE_CHECK(!fs::is_directory(checkpoint), "--out ", checkpoint.string(),
                ": is a folder; expected the checkpoint file to write, e.g. ", (checkpoint / "model.pt").string());
    const auto device = resolve_device(f->common.device);
    // One training per checkpoint at a time; creating the lock also proves the folder writable.
    fs::path lock_file = checkpoint;
    lock_file += ".lock";
    const FileLock lock(lock_file, "--out " + checkpoint.string());
    const auto seed = static_cast<uint64_t>(f->common.seed);
    seed_everything(seed);
    auto splits = load(f->data, seed);
    std::shared_ptr<TensorDataset> train = splits.train;
    if (f->train_images > 0 && f->train_images < train->size())
      train = std::make_shared<TensorDataset>(train->subset(torch::arange(f->train_images, torch::kLong)));
    ModelSpec spec{f->model, train->image_shape()[0], train->num_classes()};
    if (!is_zoo_model(f->model))
      spec = {fs::absolute(f->model).string(), spec.in_channels, spec.num_classes, train->image_shape()[1]};
    auto model = make_model(spec);
    model->to(device);
    TrainOptions t;
    t.set_optimizer(f->optimizer).set_lr(f->lr);
    t.epochs = f->epochs;
    t.batch_size = f->batch;
    t.seed = seed;
    t.checkpoint = checkpoint;
    t.resume = f->resume;
    const auto* val = splits.validation.get();
    const auto result = train_with_objective(*model, spec, *train, val, t, device, objective);
    const auto& last = result.history.back();
    std::cout << "trained " << spec.arch << " on " << f->data.name << ": validation accuracy " << std::fixed
              << std::setprecision(4) << last.value("val_accuracy") << " after " << last.epoch << " epoch(s); "
              << static_cast<int64_t>(result.images_seen / std::max(1e-9, result.train_seconds)) << " images/s\n"
              << "checkpoint: " << f->common.out << "\n";
  };
}

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
    auto splits = load(f->data, static_cast<uint64_t>(f->common.seed));
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
