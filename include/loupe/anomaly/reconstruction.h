// Reconstruction anomaly detection (workflow 4, after the seed's VAE-GAN study): the map
// m = |g(x) − g(x′)| where g is the per-pixel maximum over colour channels, applied to the
// image and to its reconstruction before the difference (not the channel maximum of
// |x − x′|); the score α = max(m) (the seed), the mean of m's top k%, or max(1 − SSIM map).
// τ* = argmax over the observed scores of √(TPR·(1 − FPR)) (the seed's G-mean), flagged
// iff α >= τ; among equal criteria the largest τ (numpy argmax over sklearn's descending
// thresholds, as the seed picked it; it also flags the fewest parts).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace loupe {

// Per-pixel anomaly maps double [N,H,W] in [0,1] of images and reconstructions [N,C,H,W]
// (same shape, C >= 1, values in [0,1]).
torch::Tensor reconstruction_anomaly_map(const torch::Tensor& images, const torch::Tensor& reconstructions);

// How a map becomes one score per image.
enum class AnomalyScore {
  kMax,   // "max": the largest pixel of m
  kTopK,  // "topk": the mean of the ceil(k/100·H·W) largest pixels of m
  kSsim,  // "ssim": the largest pixel of 1 − SSIM(x, x′), SSIM's map averaged over channels;
          //         SSIM's map covers the 'valid' [H−10, W−10] region only (images >= 11x11)
};
// "max", "topk" or "ssim"; other text is a loupe::Error naming `what` and the choices.
AnomalyScore parse_anomaly_score(const std::string& text, const std::string& what = "anomaly score");
std::string anomaly_score_name(AnomalyScore score);
std::vector<std::string> anomaly_score_names();  // in enum order

struct AnomalyScoreOptions {
  AnomalyScore score = AnomalyScore::kMax;  // the seed's α = max(m)
  double top_percent = 1.0;                 // kTopK: k, the percent of pixels averaged, in (0,100]
  // clang-format off
  AnomalyScoreOptions& set_score(AnomalyScore v) { score = v; return *this; }
  AnomalyScoreOptions& set_top_percent(double v) { top_percent = v; return *this; }
  // clang-format on
};

// Scores α double [N] of images and reconstructions [N,C,H,W].
torch::Tensor anomaly_scores(const torch::Tensor& images, const torch::Tensor& reconstructions,
                             const AnomalyScoreOptions& options = {});
// α from maps [N,H,W] with kMax or kTopK (kSsim needs the images: a loupe::Error).
torch::Tensor anomaly_scores_of_maps(const torch::Tensor& maps, const AnomalyScoreOptions& options = {});

// Counts of a binary decision; positives are anomalous samples, flagged ones predicted so.
struct Confusion {
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  int64_t total() const { return tp + fp + tn + fn; }
};

// The G-mean threshold and its operating point on a calibration set.
struct GmeanThreshold {
  double threshold = 0;  // τ*: flagged iff score >= τ*
  double criterion = 0;  // √(TPR·(1 − FPR)) at τ*
  double tpr = 0, fpr = 0, accuracy = 0;
  Confusion confusion;
};

// scores [N] finite; anomalous [N] bool or 0/1 with both classes present.
GmeanThreshold gmean_threshold(const torch::Tensor& scores, const torch::Tensor& anomalous);

// Confusion of "score >= threshold" against the labels (any classes present).
Confusion confusion_at(const torch::Tensor& scores, const torch::Tensor& anomalous, double threshold);

struct KindConfusion {
  std::string kind;
  Confusion confusion;
};
// One confusion per kind name, in the names' order: kinds [N] integer indices into
// kind_names (e.g. "good", "scratch", ...); a kind with no sample gets zero counts.
std::vector<KindConfusion> confusion_by_kind(const torch::Tensor& scores, const torch::Tensor& anomalous,
                                             double threshold, const torch::Tensor& kinds,
                                             const std::vector<std::string>& kind_names);

// "Right for the wrong reason": indices int64 [K] (ascending) of the samples flagged
// (score >= threshold) whose explanation's optimal Jaccard index (metrics/localisation.h)
// is below max_jaccard. optimal_jaccard [N]; NaN (no ground-truth defect) is never listed.
torch::Tensor right_for_wrong_reason(const torch::Tensor& scores, double threshold,
                                     const torch::Tensor& optimal_jaccard, double max_jaccard = 0.1);

}  // namespace loupe
