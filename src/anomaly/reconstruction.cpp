#include "loupe/anomaly/reconstruction.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "loupe/core/choices.h"
#include "loupe/core/error.h"
#include "loupe/metrics/roc.h"
#include "loupe/metrics/ssim.h"

namespace loupe {
namespace {

void check_reconstruction_pair(const torch::Tensor& images, const torch::Tensor& reconstructions) {
  LOUPE_CHECK(images.defined() && images.dim() == 4 && images.size(1) >= 1, "images: expected [N,C,H,W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(reconstructions.defined() && reconstructions.sizes() == images.sizes(),
              "reconstructions: expected the images' shape ", images.sizes(), ", got ",
              reconstructions.defined() ? reconstructions.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(images.is_floating_point() && reconstructions.is_floating_point(),
              "images and reconstructions: expected floating tensors, got ", images.scalar_type(), " and ",
              reconstructions.scalar_type());
  for (const auto& [t, what] : {std::pair{images, "images"}, std::pair{reconstructions, "reconstructions"}}) {
    LOUPE_CHECK(torch::isfinite(t).all().item<bool>(), what, ": found NaN or infinite pixels");
    LOUPE_CHECK(t.numel() == 0 || (t.min().item<double>() >= 0 && t.max().item<double>() <= 1), what, ": values in [",
                t.min().item<double>(), ", ", t.max().item<double>(), "]; expected images in [0,1]");
  }
}

void check_anomaly_maps(const torch::Tensor& maps) {
  LOUPE_CHECK(maps.defined() && maps.dim() == 3 && maps.is_floating_point(),
              "anomaly maps: expected real-valued [N,H,W], got ", maps.defined() ? maps.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(torch::isfinite(maps).all().item<bool>(), "anomaly maps: found NaN or infinite values");
}

void check_top_percent(const AnomalyScoreOptions& options) {
  LOUPE_CHECK(std::isfinite(options.top_percent) && options.top_percent > 0 && options.top_percent <= 100,
              "anomaly score top percent ", options.top_percent, ": expected a number in (0,100]");
}

// Scores as a double CPU vector [N], finite.
torch::Tensor checked_sample_scores(const torch::Tensor& scores) {
  LOUPE_CHECK(scores.defined() && scores.dim() == 1, "scores: expected a 1-D tensor [N], got ",
              scores.defined() ? scores.sizes() : torch::IntArrayRef{});
  const auto s = scores.to(torch::kCPU, torch::kDouble);
  LOUPE_CHECK(torch::isfinite(s).all().item<bool>(), "scores: found NaN or infinite values");
  return s;
}

// Labels as a bool CPU vector of the scores' length.
torch::Tensor checked_anomalous(const torch::Tensor& anomalous, int64_t n) {
  LOUPE_CHECK(anomalous.defined() && anomalous.dim() == 1 && anomalous.size(0) == n, "anomalous: expected labels [", n,
              "] like the scores, got ", anomalous.defined() ? anomalous.sizes() : torch::IntArrayRef{});
  const auto y = anomalous.to(torch::kCPU);
  LOUPE_CHECK(y.scalar_type() == torch::kBool || ((y == 0) | (y == 1)).all().item<bool>(),
              "anomalous: expected bool or 0/1 labels");
  return y.to(torch::kBool);
}

// Counts over the samples where `within` holds (bool vectors of one length).
Confusion count_confusion(const torch::Tensor& flagged, const torch::Tensor& anomalous, const torch::Tensor& within) {
  const auto count = [&](const torch::Tensor& t) { return (t & within).sum().item<int64_t>(); };
  return {count(flagged & anomalous), count(flagged & ~anomalous), count(~flagged & ~anomalous),
          count(~flagged & anomalous)};
}
Confusion count_confusion(const torch::Tensor& flagged, const torch::Tensor& anomalous) {
  return count_confusion(flagged, anomalous, torch::ones_like(flagged));
}

torch::Tensor top_percent_mean(const torch::Tensor& maps, double percent) {
  const auto flat = maps.flatten(1);
  const auto k = static_cast<int64_t>(std::ceil(percent / 100.0 * static_cast<double>(flat.size(1))));
  return std::get<0>(flat.topk(std::min<int64_t>(std::max<int64_t>(k, 1), flat.size(1)), 1)).mean(1);
}

}  // namespace

torch::Tensor reconstruction_anomaly_map(const torch::Tensor& images, const torch::Tensor& reconstructions) {
  check_reconstruction_pair(images, reconstructions);
  const auto channel_max = [](const torch::Tensor& t) { return std::get<0>(t.to(torch::kDouble).max(1)); };
  return (channel_max(images) - channel_max(reconstructions)).abs();
}

std::vector<std::string> anomaly_score_names() { return {"max", "topk", "ssim"}; }

AnomalyScore parse_anomaly_score(const std::string& text, const std::string& what) {
  return static_cast<AnomalyScore>(choice_index(text, anomaly_score_names(), what));
}

std::string anomaly_score_name(AnomalyScore score) { return anomaly_score_names().at(static_cast<size_t>(score)); }

torch::Tensor anomaly_scores_of_maps(const torch::Tensor& maps, const AnomalyScoreOptions& options) {
  LOUPE_CHECK(options.score != AnomalyScore::kSsim,
              "anomaly score 'ssim': needs the images and reconstructions (call anomaly_scores)");
  check_anomaly_maps(maps);
  check_top_percent(options);
  const auto m = maps.to(torch::kDouble);
  if (m.numel() == 0) return torch::zeros({m.size(0)}, m.options());
  if (options.score == AnomalyScore::kMax) return std::get<0>(m.flatten(1).max(1));
  return top_percent_mean(m, options.top_percent);
}

torch::Tensor anomaly_scores(const torch::Tensor& images, const torch::Tensor& reconstructions,
                             const AnomalyScoreOptions& options) {
  if (options.score != AnomalyScore::kSsim)
    return anomaly_scores_of_maps(reconstruction_anomaly_map(images, reconstructions), options);
  check_reconstruction_pair(images, reconstructions);
  const auto dissimilarity = 1 - ssim_map(images, reconstructions).mean(1);  // [N, H-10, W-10]
  return std::get<0>(dissimilarity.flatten(1).max(1));
}

GmeanThreshold gmean_threshold(const torch::Tensor& scores, const torch::Tensor& anomalous) {
  const auto s = checked_sample_scores(scores);
  const auto y = checked_anomalous(anomalous, s.size(0));
  const double positives = y.sum().item<double>(), negatives = static_cast<double>(y.size(0)) - positives;
  LOUPE_CHECK(positives > 0 && negatives > 0, "anomalous: ", positives, " anomalous and ", negatives,
              " normal sample(s); calibrating a threshold needs both");
  const auto curve = roc_curve(s, y);
  // Without the leading +inf point: the candidates are the observed scores, descending.
  const auto tp = (curve.tpr.slice(0, 1) * positives).round(), tn = ((1 - curve.fpr.slice(0, 1)) * negatives).round();
  // TPR·(1 − FPR) = tp·tn / (P·N): compared as exact integer products, so equal criteria tie
  // exactly and argmax's first maximum is the largest threshold.
  const int64_t best = (tp * tn).argmax().item<int64_t>();
  GmeanThreshold result;
  result.threshold = curve.thresholds[best + 1].item<double>();
  result.tpr = curve.tpr[best + 1].item<double>();
  result.fpr = curve.fpr[best + 1].item<double>();
  result.criterion = std::sqrt(result.tpr * (1 - result.fpr));
  result.confusion = count_confusion(s >= result.threshold, y);
  result.accuracy =
      static_cast<double>(result.confusion.tp + result.confusion.tn) / static_cast<double>(result.confusion.total());
  return result;
}

Confusion confusion_at(const torch::Tensor& scores, const torch::Tensor& anomalous, double threshold) {
  const auto s = checked_sample_scores(scores);
  LOUPE_CHECK(!std::isnan(threshold), "threshold: expected a number, got NaN");
  return count_confusion(s >= threshold, checked_anomalous(anomalous, s.size(0)));
}

std::vector<KindConfusion> confusion_by_kind(const torch::Tensor& scores, const torch::Tensor& anomalous,
                                             double threshold, const torch::Tensor& kinds,
                                             const std::vector<std::string>& kind_names) {
  const auto s = checked_sample_scores(scores);
  const auto y = checked_anomalous(anomalous, s.size(0));
  LOUPE_CHECK(!std::isnan(threshold), "threshold: expected a number, got NaN");
  LOUPE_CHECK(kinds.defined() && kinds.dim() == 1 && kinds.size(0) == s.size(0) && !kinds.is_floating_point(),
              "kinds: expected integer kind indices [", s.size(0), "] like the scores, got ",
              kinds.defined() ? kinds.sizes() : torch::IntArrayRef{});
  const auto k = kinds.to(torch::kCPU, torch::kLong);
  const auto n_kinds = static_cast<int64_t>(kind_names.size());
  LOUPE_CHECK(k.numel() == 0 || (k.min().item<int64_t>() >= 0 && k.max().item<int64_t>() < n_kinds),
              "kinds: expected indices in [0,", n_kinds, ") into the ", n_kinds, " kind names");
  const auto flagged = s >= threshold;
  std::vector<KindConfusion> out;
  for (int64_t i = 0; i < n_kinds; ++i) {
    out.push_back({kind_names[static_cast<size_t>(i)], count_confusion(flagged, y, k == i)});
  }
  return out;
}

torch::Tensor right_for_wrong_reason(const torch::Tensor& scores, double threshold,
                                     const torch::Tensor& optimal_jaccard, double max_jaccard) {
  const auto s = checked_sample_scores(scores);
  LOUPE_CHECK(!std::isnan(threshold), "threshold: expected a number, got NaN");
  LOUPE_CHECK(std::isfinite(max_jaccard), "max Jaccard ", max_jaccard, ": expected a finite number");
  LOUPE_CHECK(optimal_jaccard.defined() && optimal_jaccard.dim() == 1 && optimal_jaccard.size(0) == s.size(0),
              "optimal Jaccard: expected [", s.size(0), "] like the scores, got ",
              optimal_jaccard.defined() ? optimal_jaccard.sizes() : torch::IntArrayRef{});
  const auto j = optimal_jaccard.to(torch::kCPU, torch::kDouble);
  // NaN < max_jaccard is false: samples without a ground-truth defect are never listed.
  return ((s >= threshold) & (j < max_jaccard)).nonzero().squeeze(1);
}

}  // namespace loupe
