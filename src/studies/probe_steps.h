// The probe study's steps and what each hands to the next (internal to the study):
// models → probe set → per model: logit visualisations, then per tap: unit
// visualisations, top activations with entropies, dissection → report.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "loupe/probe/dissect.h"
#include "loupe/probe/feature_vis.h"
#include "loupe/probe/sae.h"
#include "loupe/probe/top_activations.h"
#include "loupe/report/report.h"
#include "loupe/studies/probe.h"
#include "loupe/studies/shortcut.h"

namespace loupe::probe_study {

struct Model {
  std::string name;  // "lazy" or "control"
  std::shared_ptr<TappedModel> net;
  std::string source;
};

// The first n gray test images, each tinted with a colour drawn uniformly and
// independently of its class (seeded): a unit that follows colour and one that follows
// shape are told apart here, unlike on the biased or the inverted splits.
struct ProbeSet {
  TensorDataset data;
  std::vector<int64_t> colours;
};

struct LogitVis {
  FeatureVis pixel, fourier;
  torch::Tensor saturation_pixel, saturation_fourier;  // double [10]
  torch::Tensor colour_pixel, colour_fourier;          // int64 [10]: nearest palette colour
  torch::Tensor matched_pixel, matched_fourier;        // bool [10]: class k's own colour is among the nearest
  double match_pixel = 0, match_fourier = 0;           // fraction of classes k whose colour is k's
};

struct LayerProbe {
  std::string tap;
  FeatureVis pixel, fourier;  // the first units_shown units
  TopActivations top;
  torch::Tensor class_entropy, colour_entropy;  // double [U], bits
  Dissection dissection;
  double colour_share = 0;  // units labelled with a colour concept
};

// A sparse autoencoder on one tap (per position), its metrics, and per feature the top
// probe images (by the feature's largest activation over positions) with maps and entropies.
struct SaeProbe {
  std::string tap;
  SaeTraining training;
  SaeMetrics metrics;
  TopActivations top;                           // over features (units = features)
  torch::Tensor class_entropy, colour_entropy;  // double [F]; NaN for features that never fire
  int64_t steered = -1;                         // the live feature of lowest colour entropy
  std::vector<double> alphas;
  torch::Tensor steering;  // double [A,K]: mean class probabilities on gray test images
  fs::path checkpoint;
};
SaeProbe sae_probe(TappedModel& net, const std::string& tap, const std::string& model_name, const ProbeSet& probe,
                   const ProbeStudyOptions& o, const ProbeStudySettings& s);

struct ModelProbe {
  Model model;
  LogitVis logits;
  std::vector<LayerProbe> layers;
  SaeProbe sae;
};

void add_report(report::Report& r, const ProbeStudyOptions& o, const ProbeStudySettings& s, const ShortcutData& d,
                const ProbeSet& probe, const ConceptSet& concepts, const std::vector<ModelProbe>& models,
                double seconds);

}  // namespace loupe::probe_study
