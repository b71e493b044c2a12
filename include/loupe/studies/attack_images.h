// `loupe attack` as a library call: targeted adversarial attacks (attack/attack.h) on image
// files, each image towards one class or towards every other class, optionally with the
// minimal ε per (image, target); writes report.html, metrics.json, adversarial/<image>_to<t>.png
// and perturbation/<image>_to<t>.png (δ amplified: 0.5 + δ/(2ε), so ±ε spans black to white)
// into `out`.
#pragma once

#include <string>
#include <vector>

#include "loupe/attack/attack.h"
#include "loupe/core/fs.h"
#include "loupe/models/zoo.h"
#include "loupe/report/report.h"

namespace loupe {

struct AttackImagesOptions {
  std::vector<fs::path> files;   // PNG/JPEG images, in order
  int64_t size = 0;              // resize to size x size; 0 = the images must share one size
  std::string target = "all";    // "all" (every class but the predicted one) or one class index
  AttackOptions attack;          // method, ε, steps, goal
  bool minimal = false;          // also the minimal ε per row (bisection up to search.max_epsilon)
  MinimalEpsilonOptions search;
  fs::path out;                  // the report folder (the caller holds it open, core/output_dir.h)
};

// The rows attacked: (image, target) pairs for `target` ("all" or a class index in
// [0, num_classes)); other text is a loupe::Error naming it.
struct AttackRows {
  torch::Tensor image, target;  // int64 [M]
};
AttackRows attack_rows(const std::string& target, const torch::Tensor& predicted, int64_t num_classes);

report::Report run_attack_images(TappedModel& model, const ModelSpec& spec, const AttackImagesOptions& options);

}  // namespace loupe
