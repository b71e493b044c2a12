// loupe study <name> / loupe demo
#include <chrono>
#include <iostream>

#include <torch/torch.h>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/models/zoo.h"
#include "loupe/report/report.h"
#include "loupe/studies/bias.h"

namespace loupe::cli {

Runner add_study_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("study", "Run a whole workflow and write its report");
  cmd->require_subcommand(1, 1);
  auto* bias = cmd->add_subcommand("bias", studies().front().description);
  bias->footer(
      "Examples:\n  loupe study bias --out bias-report\n"
      "  loupe study bias --preset paper --device cuda --out bias-paper\n"
      "  loupe study bias --base mnist --data /path/to/mnist --out bias-mnist");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/bias"};
    BiasStudyOptions o;
    std::string data_dir, preset = "quick";
  };
  auto f = std::make_shared<Flags>();
  bias->add_option("--preset", f->preset, "quick (a 2-core CPU, minutes) or paper (ResNet-18, for a GPU)")
      ->check(CLI::IsMember({"quick", "paper"}))
      ->capture_default_str();
  bias->add_option("--base", f->o.base, "fashion-mnist or mnist")
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}))
      ->capture_default_str();
  bias->add_option("--data", f->data_dir,
                   "folder with the IDX files (required for mnist; FashionMNIST defaults to "
                   "/usr/share/datasets/fashion-mnist)");
  bias->add_option("--bias", f->o.bias, "fraction of train/validation images in their class colour")
      ->capture_default_str();
  bias->add_option("--test-offset", f->o.test_offset, "test colour of class c is (c + offset) mod 10")
      ->capture_default_str();
  bias->add_option("--model", f->o.arch, "architecture (default: small_cnn for quick, resnet18_small for paper)")
      ->check(CLI::IsMember(model_names()));
  bias->add_option("--optimizer", f->o.optimizer, "adam or sgd")->check(CLI::IsMember({"adam", "sgd"}));
  bias->add_option("--lr", f->o.lr, "learning rate (preset default)");
  bias->add_option("--epochs", f->o.epochs, "epochs (preset default)");
  bias->add_option("--batch", f->o.batch_size, "batch size (preset default)");
  bias->add_option("--train-images", f->o.train_images,
                   "lazy model: train on the first N of the 48k training images (0 = all; quick preset 12000)");
  bias->add_option("--control-train-images", f->o.control_train_images,
                   "control model: train on the first N grayscale training images (0 = all, the default)");
  bias->add_option("--probe-images", f->o.probe_images_per_class, "recolouring probe: images per class")
      ->capture_default_str();
  add_common_flags(bias, f->common, "report folder");
  return [f] {
    f->o.common.preset = f->preset;
    f->o.common.device = resolve_device(f->common.device);
    f->o.common.seed = f->common.seed;
    f->o.common.out = f->common.out;
    f->o.data_dir = f->data_dir;
    seed_everything(f->common.seed);
    run_bias_study(f->o);
    std::cout << "report: " << (fs::path(f->common.out) / "report.html").string() << "\n";
  };
}

Runner add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run every study's quick preset on built-in data and write one index page");
  cmd->footer("Example:\n  loupe demo --out loupe-demo   # then open loupe-demo/index.html");
  auto f = std::make_shared<CommonFlags>(CommonFlags{"auto", 0, "loupe-demo"});
  add_common_flags(cmd, *f, "output folder (index.html and one folder per study)");
  return [f] {
    const fs::path out = f->out;
    report::Report index("loupe demo", "every study's quick preset on built-in data");
    index.section("Studies");
    for (const auto& study : studies()) {
      std::cout << "== study " << study.name << ": " << study.description << "\n";
      StudyCommon common;
      common.preset = "quick";
      common.device = resolve_device(f->device);
      common.seed = f->seed;
      common.out = out / study.name;
      seed_everything(f->seed);
      const auto started = std::chrono::steady_clock::now();
      const auto r = study.run(common);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      index.link(study.name + ": " + r.title(), study.name + "/report.html");
      index.text(study.description + " (" + std::to_string(static_cast<int64_t>(seconds)) + " s)");
      index.metric(study.name, r.metrics());
      index.metric(study.name + ".seconds", seconds);
      std::cout << "   report: " << (common.out / "report.html").string() << "\n";
    }
    index.write(out);
    // The index is report.html like every report; index.html is the name people look for.
    write_file_atomic(out / "index.html", index.html());
    std::cout << "demo index: " << (out / "index.html").string() << "\n";
  };
}

}  // namespace loupe::cli
