// `loupe explain` as a library call: explain image files with several methods side by
// side (compare.h), then write report.html, metrics.json, maps/<image>/<method>.npy and
// overlays/<image>_<method>.png into `out`.
#pragma once

#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/models/zoo.h"
#include "loupe/report/report.h"
#include "loupe/studies/compare.h"

namespace loupe {

struct ExplainImagesOptions {
  std::vector<fs::path> files;  // PNG/JPEG images, in order
  int64_t size = 0;             // resize to size x size; 0 = the images must share one size
  std::string target = "top1";  // "top1" (each image's predicted class) or a class index for all
  CompareOptions compare;       // methods, their options, IoU threshold, faithfulness
  fs::path out;                 // the report folder (the caller holds it open, core/output_dir.h)
};

// The images as float [N,C,H,W] with the model's channels, resized to `size`; a size
// mismatch without `size` names the file.
torch::Tensor load_image_batch(const std::vector<fs::path>& files, int64_t channels, int64_t size);
// Unique names for images: the file stem, with "_2", "_3"... when two files share one.
std::vector<std::string> image_names(const std::vector<fs::path>& files);

report::Report run_explain_images(TappedModel& model, const ModelSpec& spec, const ExplainImagesOptions& options);

}  // namespace loupe
