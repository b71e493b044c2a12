// The anomaly-detection study (DESIGN.md workflow 4, after the seed's VAE-GAN study): a
// reconstruction model trained on good parts of one MVTec-layout category (a user's
// MVTec AD folder, or loupe's built-in data), the anomaly map m and score α of every test
// image, the G-mean threshold τ*, image- and pixel-level metrics (AUROC, accuracy at τ*,
// pixel AUROC, AUPRO), then the check that matters: each anomalous sample's score is
// explained with LIME and Partition SHAP (hidden superpixels replaced by the image's
// reconstruction) and the explanation's optimal Jaccard index J* against the true defect
// mask says whether the part was flagged for the right reason.
//   S1: LIME on quickshift superpixels (about `segments` of them);
//   S2: LIME on S1's superpixels split along the ground-truth mask (a segmentation that
//       knows the defect: its best possible J*);
//   S3: Partition SHAP;
//   m:  the raw anomaly map, the baseline every explanation is compared with.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loupe/anomaly/reconstruction.h"
#include "loupe/models/vaegan.h"
#include "loupe/studies/study.h"

namespace loupe {

// The scalar f(ξx) the perturbation methods explain, on perturbed copies ξx of an image ξ.
enum class AnomalyExplainTarget {
  kError,       // "error": the reconstruction error of ξx through the model, MSE(ξx, g(ξx)) (default)
  kScore,       // "score": the anomaly score α of ξx against its own reconstruction (what is flagged)
  kDifference,  // "difference": the seed paper's literal f(ξx) = MSE(ξ − ξx); the model is not used
};
std::vector<std::string> anomaly_explain_target_names();  // in enum order
std::string anomaly_explain_target_name(AnomalyExplainTarget target);
AnomalyExplainTarget parse_anomaly_explain_target(const std::string& text, const std::string& what);

// Whether training augmentation mirrors images: kAuto allows flips for categories known to
// be mirror-symmetric in distribution (MVTec's textures, bottle and hazelnut; the
// built-in categories) and refuses them elsewhere (a mirrored transistor or metal nut is
// itself a defect).
enum class FlipPolicy { kAuto, kOn, kOff };
std::vector<std::string> flip_policy_names();  // "auto", "on", "off"
FlipPolicy parse_flip_policy(const std::string& text, const std::string& what);
bool category_allows_flips(const std::string& category);

struct AnomalyStudyOptions {
  StudyCommon common;
  // A folder in the MVTec AD layout holding `category`; empty = loupe's built-in data,
  // written to out/data first (so a run can be repeated with --data out/data).
  fs::path data;
  std::string category = "hazelnut";
  ReconstructionKind model = ReconstructionKind::kVaeGan;
  fs::path checkpoint;              // a trained model to score with instead of training one
  bool resume = false;              // continue training from out/models/<model>.pt
  std::optional<int64_t> steps;     // training steps (quick 400 at batch 16; paper 30000 at batch 64)
  std::optional<int64_t> size;      // image side (quick 64, paper 128; a checkpoint's own)
  FlipPolicy flips = FlipPolicy::kAuto;
  AnomalyScoreOptions score;        // α: max of m (the seed), top-k% mean, or 1 − SSIM
  // Fraction of the test set (per kind) held out to choose τ* on; the rest is evaluated at
  // it. 0 = choose and evaluate on the whole test set, as the seed did.
  double calibration = 0;
  AnomalyExplainTarget explain_target = AnomalyExplainTarget::kError;
  std::optional<int64_t> explain;   // anomalous samples explained, spread over defect kinds (quick 6; paper all)
  std::optional<int64_t> samples;   // LIME samples and Partition SHAP evaluations per image (quick 1000; paper 5000)
  int64_t segments = 100;           // S1's quickshift superpixels wanted per image
  double wrong_reason = 0.1;        // a flagged sample whose J* (S1) is below this is "right for the wrong reason"
  int64_t grid_samples = 6;         // rows of each sample grid (chosen: one per kind; worst: lowest J*)
};

// The fully resolved settings of a run (preset defaults filled in).
struct AnomalyStudySettings {
  int64_t size = 0, steps = 0, batch = 0, explain = 0, samples = 0;
  bool flips = false;
};
AnomalyStudySettings resolve(const AnomalyStudyOptions& options);

// Runs the study and writes report.html, metrics.json and models/<model>.pt (when it
// trains) to options.common.out. Bad options, a missing or malformed category and an
// unreadable checkpoint are loupe::Errors raised before the output folder is created.
report::Report run_anomaly_study(const AnomalyStudyOptions& options);

}  // namespace loupe
