// loupe study bias
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/models/zoo.h"
#include "loupe/studies/bias.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

StudyCommand add_study_bias(CLI::App& study) {
  auto* bias = study.add_subcommand("bias", study_entry("bias").description);
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
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  add_shortcut_data_flags(bias, f->o.base, f->data_dir, f->o.bias, f->o.test_offset);
  bias->add_option("--model", f->o.arch, "architecture (default: small_cnn for quick, resnet18_small for paper)")
      ->check(CLI::IsMember(model_names()));
  bias->add_option("--optimizer", f->o.optimizer, "adam or sgd")->check(CLI::IsMember({"adam", "sgd"}));
  bias->add_option("--lr", f->o.lr, "learning rate (preset default)");
  bias->add_option("--epochs", f->o.epochs,
                   "epochs of both models (preset default: paper 2; quick trains 94 and 375 Adam steps, in as many "
                   "epochs as the training sets need)");
  bias->add_option("--batch", f->o.batch_size, "batch size (preset default)");
  bias->add_option("--train-images", f->o.train_images,
                   "lazy model: train on the first N training images (0 = all of the base data's training split, "
                   "after the validation images are held out; quick preset 12000)");
  bias->add_option("--control-train-images", f->o.control_train_images,
                   "control model: train on the first N grayscale training images (0 = all, the default)");
  bias->add_option("--probe-images", f->o.probe_images_per_class, "recolouring probe: images per class")
      ->capture_default_str();
  add_common_flags(bias, f->common, "report folder");
  return {bias, [f] {
            f->o.common = study_common(f->common, f->preset);
            f->o.data_dir = f->data_dir;
            run_bias_study(f->o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
