// The probe study (DESIGN.md probing workflow; the shortcut reference study's tasks 2 and
// 6): what the shortcut study's lazy model and grayscale control detect, side by side.
// Class-logit and unit visualisations (the reference's pixel method and Lucid's Fourier
// method) with their colourfulness measured; per layer, each unit's top activating images
// on a probe set whose colours are independent of the class, with the entropy of their
// classes and of their colours; and NetDissect labels (a colour or a class concept) per
// unit, so "colour unit" vs "shape unit" is a share per layer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loupe/studies/bias.h"
#include "loupe/studies/study.h"

namespace loupe {

struct ProbeStudyOptions {
  StudyCommon common;
  std::string base = "fashion-mnist";  // "fashion-mnist" | "mnist"
  fs::path data_dir;
  double bias = 0.95;
  int64_t test_offset = 5;
  fs::path lazy, control;               // trained checkpoints; empty = trained here as the bias study's preset does
  std::vector<std::string> taps;        // empty = every feature-map tap of the architecture
  std::optional<int64_t> units_shown;   // units per tap visualised in the report: quick 16, paper 64
  std::optional<int64_t> probe_images;  // random-colour probe images: quick 2000, paper 10000
  std::optional<int64_t> steps;         // feature visualisation steps: 300 (the reference's)
  int64_t top_k = 9;
  double quantile = 0.005;  // NetDissect's top quantile
  // The sparse autoencoder on each model's last feature-map tap, per position.
  std::string sae_kind = "relu";        // relu | topk
  std::optional<int64_t> sae_features;  // quick 512, paper 4096 (the reference's)
  std::optional<int64_t> sae_steps;     // quick 400, paper 5000
  int64_t sae_k = 32;                   // topk: active features
  double sae_l1 = 1.0;                  // relu: λ
};

struct ProbeStudySettings {
  BiasStudySettings training;  // how lazy and control are trained when not given: the bias study's preset
  std::string arch;
  int64_t units_shown = 0, probe_images = 0, steps = 0;
  int64_t sae_features = 0, sae_steps = 0, sae_batch = 0;
};
ProbeStudySettings resolve(const ProbeStudyOptions& options);

report::Report run_probe_study(const ProbeStudyOptions& options);

}  // namespace loupe
