// Several explanation methods on the same images, side by side: each method's maps and
// wall time, the IoU between every pair of methods per image (both maps binarised the
// same way), and optionally deletion / insertion AUC per method (faithfulness.h). The
// building block of `loupe explain --methods` and `loupe study compare`. Choices: every
// method explains the same fixed class per image (top-1 is resolved on the unperturbed
// image first, as pytorch-grad-cam does, so perturbation methods never explain the
// perturbed image's own argmax); IoU defaults to the top 20% of pixels of each map.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/explain/explainer.h"
#include "loupe/explain/faithfulness.h"
#include "loupe/metrics/agreement.h"
#include "loupe/report/report.h"

namespace loupe {

struct CompareOptions {
  std::vector<std::string> methods = {"gradcam", "ablationcam", "scorecam", "lime", "kernelshap"};
  ExplainOptions explain;                                  // shared by every method
  MapThreshold threshold = MapThreshold::top_percent(20);  // how maps are binarised for IoU
  bool faithfulness = false;                               // also deletion / insertion curves
  FaithfulnessOptions faithfulness_options;
  bool progress = true;  // a progress bar over the methods

  // clang-format off
  CompareOptions& set_methods(std::vector<std::string> v) { methods = std::move(v); return *this; }
  CompareOptions& set_explain(ExplainOptions v) { explain = std::move(v); return *this; }
  CompareOptions& set_threshold(MapThreshold v) { threshold = v; return *this; }
  CompareOptions& set_faithfulness(bool v) { faithfulness = v; return *this; }
  CompareOptions& set_faithfulness_options(FaithfulnessOptions v) { faithfulness_options = v; return *this; }
  // clang-format on
};

struct MethodRun {
  std::string method;
  Attribution attribution;         // maps [N,H,W] on the CPU
  double seconds = 0;              // wall time of explain() for all N images
  torch::Tensor deletion_auc;      // double [N] when faithfulness was asked; else undefined
  torch::Tensor insertion_auc;     // double [N]
  torch::Tensor deletion_scores;   // [N, steps+1]
  torch::Tensor insertion_scores;  // [N, steps+1]
};

struct MethodComparison {
  std::vector<MethodRun> runs;  // in the order of options.methods
  torch::Tensor classes;        // int64 [N]: the class every method explained
  torch::Tensor iou;            // double [N,M,M]: IoU of methods a and b on image n (diagonal 1)
  torch::Tensor fractions;      // [steps+1] x axis of the faithfulness curves, when computed
};

// "top:20" (top 20% of pixels), "otsu" or "value:0.5"; anything else is a loupe::Error.
MapThreshold parse_map_threshold(const std::string& text);
std::string describe(const MapThreshold& threshold);

// images [N,C,H,W] in [0,1]; classes int64 [N] (the class explained for image n). Unknown
// or repeated method names are a loupe::Error before any work is done.
MethodComparison compare_methods(TappedModel& model, const torch::Tensor& images, const torch::Tensor& classes,
                                 const CompareOptions& options);

// Report pieces. A figure with one row per image: the image, then each method's overlay
// (row labels from `names`), and the colour bar; the per-image IoU table (one column per
// method pair); the time per method; deletion / insertion AUC when present. `signed_maps`
// picks the diverging colour map for maps in [-1,1].
void add_comparison_to_report(report::Report& report, const torch::Tensor& images,
                              const std::vector<std::string>& names, const MethodComparison& comparison,
                              const CompareOptions& options);

// The figure alone: one row per image (the image, then each method's overlay, rows
// labelled `row_labels`), cut into figures of 8 rows, and (with `legend`) the colour bar.
void add_maps_figure(report::Report& report, const std::string& caption, const torch::Tensor& images,
                     const std::vector<std::string>& row_labels, const MethodComparison& comparison, bool signed_maps,
                     bool legend = true);
// The colour bar of the maps' overlays.
void add_colour_scale(report::Report& report, bool signed_maps);

// Writes dir/<name>/<method>.npy (float32 [H,W]) for every image and method, and returns
// the relative paths written, per image then method.
std::vector<std::string> write_comparison_maps(const fs::path& dir, const std::vector<std::string>& names,
                                               const MethodComparison& comparison);

}  // namespace loupe
