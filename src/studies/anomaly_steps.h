// The anomaly study's steps and what each hands to the next (internal to the study):
// data → model → scores → detection → localisation → explanations → report sections.
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

#include "loupe/anomaly/reconstruction.h"
#include "loupe/data/anomaly_synth.h"
#include "loupe/data/mvtec.h"
#include "loupe/metrics/localisation.h"
#include "loupe/metrics/roc.h"
#include "loupe/models/vaegan.h"
#include "loupe/report/report.h"
#include "loupe/studies/anomaly.h"
#include "loupe/train/trainer.h"

namespace loupe::anomaly_study {

// The category's images at the model's side, with the test set's ground truth.
struct Data {
  MvtecCategory category;
  std::string source;       // "built-in ..." or the folder read
  torch::Tensor test;       // float [N,3,S,S] in [0,1]
  torch::Tensor masks;      // bool [N,S,S]
  torch::Tensor anomalous;  // bool [N]: kind != good
  const std::vector<std::string>& kind_names() const { return category.test.kind_names; }
  int64_t size() const { return test.size(0); }
};
// The built-in category's source (photo or procedural), loaded before anything is written.
std::optional<AnomalySource> builtin_source(const AnomalyStudyOptions& o);
// Writes the built-in category at the model's side to out/data (the MVTec layout) and reads it back.
Data builtin_data(const AnomalyStudyOptions& o, int64_t size, const AnomalySource& source);
Data read_data(const fs::path& category_dir, int64_t size, std::string source);

struct Model {
  VaeGan net{nullptr};
  TrainResult training;
  std::string source;  // "trained here ..." or the checkpoint's path
  bool trained = false;
};
Model load_model(const AnomalyStudyOptions& o);
Model train_model(const AnomalyStudyOptions& o, const AnomalyStudySettings& s, const Data& data);

// Reconstructions, anomaly maps m and scores α of the test set.
struct Scores {
  torch::Tensor reconstructions;  // float [N,3,S,S]
  torch::Tensor maps;             // double [N,S,S]
  torch::Tensor alpha;            // double [N]
};
Scores score_test_set(const AnomalyStudyOptions& o, VaeGanImpl& model, const Data& data);

// τ* chosen on the calibration samples, then the image-level results on the evaluated ones
// (both the whole test set unless --calibration).
struct Detection {
  torch::Tensor calibration, evaluation;  // int64 test positions
  GmeanThreshold threshold;               // τ* and its operating point on the calibration samples
  Confusion confusion;                    // on the evaluated samples at τ*
  double accuracy = 0, tpr = 0, fpr = 0, auroc = 0;
  std::vector<KindConfusion> by_kind;
  RocCurve roc;
  torch::Tensor flagged;  // bool [N] over the whole test set: α >= τ*
};
Detection detect(const AnomalyStudyOptions& o, const Data& data, const Scores& scores);

// Every anomaly score on the same reconstructions, each with its own τ* (on the same
// calibration samples), so the report shows what the choice of α changes.
struct ScoreComparison {
  AnomalyScore score;
  std::string description;
  double auroc = 0, threshold = 0, accuracy = 0;
};
std::vector<ScoreComparison> compare_scores(const AnomalyStudyOptions& o, const Data& data, const Scores& scores,
                                            const Detection& detection);

struct Localisation {
  double pixel_auroc = 0, aupro = 0;
  ProCurve pro;
  int64_t regions = 0;
};
Localisation localise(const Data& data, const Scores& scores);

// One explanation setup's maps on the explained samples and their optimal Jaccard.
struct SetupResult {
  std::string key, title;  // "s1", "S1: LIME on quickshift superpixels"
  torch::Tensor maps;      // float [K,S,S]: raw explanation values (signed)
  OptimalJaccard jaccard;
  torch::Tensor segments;  // int64 [K,S,S] (LIME), undefined for Partition SHAP
  torch::Tensor features;  // int64 [K]: superpixels per image (LIME); undefined for Partition SHAP
  double seconds_per_image = 0;
  int64_t evaluations_per_image = 0;
};
struct Explanations {
  torch::Tensor positions;         // int64 [K]: the explained anomalous test samples
  std::vector<SetupResult> setups;  // S1, S2, S3
  OptimalJaccard baseline;          // J* of m on every test sample (NaN on good ones)
  double segmentation_seconds = 0;  // per image, S1's quickshift search
};
Explanations explain_anomalies(const AnomalyStudyOptions& o, const AnomalyStudySettings& s, VaeGanImpl& model,
                               const Data& data, const Scores& scores);

// Report sections, in the report's order.
struct Results {
  const AnomalyStudyOptions& o;
  const AnomalyStudySettings& s;
  const Data& data;
  const Model& model;
  const Scores& scores;
  const Detection& detection;
  const std::vector<ScoreComparison>& score_comparison;
  const Localisation& localisation;
  const Explanations& explanations;
  torch::Tensor wrong_reason;  // int64 test positions: flagged, J*(S1) below the limit
  double seconds = 0;
};
void add_summary(report::Report& r, const Results& x);
void add_data_section(report::Report& r, const Results& x);
void add_detection_section(report::Report& r, const Results& x);
void add_localisation_section(report::Report& r, const Results& x);
void add_explanation_section(report::Report& r, const Results& x);
void add_training_section(report::Report& r, const Results& x);
void add_settings_section(report::Report& r, const Results& x);
void add_metrics(report::Report& r, const Results& x);

}  // namespace loupe::anomaly_study
