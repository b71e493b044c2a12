// `loupe probe visualize|top|dissect|sae` as library calls: each probes one tap of a
// trained classifier and writes report.html and metrics.json (and its images, maps or
// checkpoint) into `out`, a folder the caller holds open (core/output_dir.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"
#include "loupe/models/taps.h"
#include "loupe/probe/dissect.h"
#include "loupe/probe/feature_vis.h"
#include "loupe/probe/sae.h"
#include "loupe/probe/top_activations.h"
#include "loupe/report/report.h"

namespace loupe {

// The images a probe runs over, with each image's colour when the data know it
// (recolour_randomly), which adds colour entropies and colour concepts.
struct ProbeData {
  const TensorDataset* data = nullptr;
  std::vector<int64_t> colours;  // empty = unknown
  std::string name;              // for the report
  // Concept masks the data know otherwise (Shapes3D's parts by hue); unset = the colour
  // and class concepts when the colours are known.
  std::optional<ConceptSet> concepts;
};

struct ProbeVisualizeOptions {
  std::string tap;
  std::vector<int64_t> units;  // empty = every unit of the tap
  std::vector<FeatureVisMethod> methods = {FeatureVisMethod::kPixel, FeatureVisMethod::kFourier};
  FeatureVisOptions vis;  // steps, lr, image size, seed
  fs::path out;
};
// Also writes units/<tap>_<unit>_<method>.png.
report::Report run_probe_visualize(TappedModel& model, const ProbeVisualizeOptions& options);

struct ProbeTopOptions {
  std::string tap;
  std::vector<int64_t> units;
  TopActivationsOptions top;
  int64_t shown = 16;  // units drawn in the report (all are in metrics.json)
  fs::path out;
};
report::Report run_probe_top(TappedModel& model, const ProbeData& data, const ProbeTopOptions& options,
                             torch::Device device);

struct ProbeDissectOptions {
  std::string tap;
  std::vector<int64_t> units;
  DissectOptions dissect;
  // CLIP-Dissect: a concept-activation matrix [N images, M concepts] over the same images
  // (e.g. CLIP similarities computed elsewhere) and its M concept names.
  fs::path concepts_npy;
  std::vector<std::string> concept_names;
  SoftWpmiOptions wpmi;
  fs::path out;
};
// NetDissect needs concept masks (data.concepts, or the colour and class concepts of
// recoloured data); with concepts_npy, soft-WPMI labels too. Neither available is a
// loupe::Error saying what to give.
report::Report run_probe_dissect(TappedModel& model, const ProbeData& data, const ProbeDissectOptions& options,
                                 torch::Device device);

struct ProbeSaeOptions {
  std::string tap;
  SaeTrainOptions train;                              // checkpoint defaults to out/sae.pt
  int64_t dashboards = 8;                             // features shown, the most frequent ones
  int64_t k = 9;                                      // top images per feature
  int64_t steer = -1;                                 // a feature to steer with (-1 = the most frequent)
  std::vector<double> alphas = {0, 0.5, 1, 2, 4, 8};  // in multiples of the feature's typical activation
  fs::path out;
};
report::Report run_probe_sae(TappedModel& model, const ProbeData& data, const ProbeSaeOptions& options,
                             torch::Device device);

}  // namespace loupe
