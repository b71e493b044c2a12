// loupe study compare
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/explain/explainer.h"
#include "loupe/models/zoo.h"
#include "loupe/studies/compare_study.h"

namespace loupe::cli {

StudyCommand add_study_compare(CLI::App& study) {
  auto* cmd = study.add_subcommand("compare", "Explanation methods side by side: maps, agreement, faithfulness, time");
  cmd->footer(
      "Examples:\n  loupe study compare --out compare            # scikit-image's photos (scripts/fetch_photos.sh)\n"
      "  loupe study compare --images photos/ --model resnet50 --weights resnet50.safetensors --device cuda \\\n"
      "      --out compare-resnet50                   # subfolders of photos/ are groups\n"
      "Methods: " +
      join_names(explainer_names()));
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-out/compare"};
    CompareStudyOptions o;
    std::string images, weights, preset = "quick";
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--preset", f->preset, "quick (a 2-core CPU, minutes) or paper")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  cmd->add_option("--images", f->images, "folder of photos (subfolders = groups); default scikit-image's photos");
  cmd->add_option("--methods", f->o.methods, "comma-separated methods")
      ->delimiter(',')
      ->check(CLI::IsMember(explainer_names()))
      ->capture_default_str();
  cmd->add_option("--model", f->o.arch,
                  "a pretrained classifier instead of the instance one: a zoo architecture (with --weights) or a "
                  "TorchScript file")
      ->check(zoo_or_torchscript());
  cmd->add_option("--weights", f->weights, "torchvision-named weights (.safetensors)");
  cmd->add_option("--num-classes", f->o.num_classes, "classes of --model")->capture_default_str();
  cmd->add_option("--size", f->o.size, "image side, 1 to 4096 (default 64 quick, 128 paper, 224 with --model)");
  cmd->add_option("--steps", f->o.train_steps, "instance classifier: training steps (default 500 quick, 3000 paper)");
  cmd->add_option("--samples", f->o.samples, "LIME / KernelSHAP samples per photo (default 500 quick, 1000 paper)");
  cmd->add_option("--faithfulness-steps", f->o.faithfulness_steps,
                  "deletion / insertion steps (default 32 quick, 100 paper)");
  cmd->add_option("--iou", f->o.iou_threshold, "map binarisation for IoU: top:PERCENT, otsu or value:V")
      ->capture_default_str();
  add_common_flags(cmd, f->common, "report folder");
  return {cmd, [f] {
            auto o = f->o;
            o.common = study_common(f->common, f->preset);
            o.images = f->images;
            o.weights = f->weights;
            run_compare_study(o);
            print_report_path(f->common);
          }};
}

}  // namespace loupe::cli
