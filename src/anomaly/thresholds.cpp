#include "loupe/anomaly/thresholds.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/choices.h"
#include "loupe/core/error.h"

namespace loupe {
namespace {

// Sorted ascending double CPU copy of validated scores.
torch::Tensor sorted_scores(const char* what, const torch::Tensor& scores, int64_t min_count) {
  LOUPE_CHECK(scores.defined() && scores.dim() == 1, what, ": expected a 1-D tensor of scores, got ",
              scores.defined() ? scores.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(scores.size(0) >= min_count, what, ": ", scores.size(0), " score(s); expected at least ", min_count);
  const auto s = scores.to(torch::kCPU, torch::kDouble);
  LOUPE_CHECK(torch::isfinite(s).all().item<bool>(), what, ": found NaN or infinite scores");
  return std::get<0>(s.sort());
}

}  // namespace

double largest_gap_threshold(const torch::Tensor& scores, double normal_fraction) {
  LOUPE_CHECK(normal_fraction > 0 && normal_fraction < 1, "largest-gap threshold: normal fraction ", normal_fraction,
              ": expected a number in (0,1)");
  const auto s = sorted_scores("largest-gap threshold", scores, 2);
  const int64_t n = s.size(0);
  const int64_t first =
      std::min<int64_t>(n - 2, std::max<int64_t>(0, static_cast<int64_t>(std::ceil(normal_fraction * n)) - 1));
  // Gap i lies between s_(i) and s_(i+1) and has n-1-i scores above it; weighting by that
  // count (normalised spacings) keeps the widest gap among a few extreme outliers from
  // winning over the gap between the normals and the whole outlier group.
  const auto gaps = s.slice(0, first + 1) - s.slice(0, first, n - 1);
  const auto above = torch::arange(n - 1 - first, 0, -1, torch::kDouble);
  const int64_t i = first + (gaps * above).argmax().item<int64_t>();
  return (s[i].item<double>() + s[i + 1].item<double>()) / 2;
}

double percentile_threshold(const torch::Tensor& scores, double q) {
  LOUPE_CHECK(std::isfinite(q) && q >= 0 && q <= 100, "percentile threshold: q = ", q,
              ": expected a number in [0,100]");
  const auto s = sorted_scores("percentile threshold", scores, 1);
  const double pos = q / 100.0 * static_cast<double>(s.size(0) - 1);
  const int64_t lo = static_cast<int64_t>(std::floor(pos)), hi = std::min<int64_t>(lo + 1, s.size(0) - 1);
  const double a = s[lo].item<double>(), b = s[hi].item<double>();
  return a + (b - a) * (pos - static_cast<double>(lo));
}

double fpr_threshold(const torch::Tensor& reference_normal_scores, double target_fpr) {
  LOUPE_CHECK(std::isfinite(target_fpr) && target_fpr >= 0 && target_fpr < 1, "FPR threshold: target FPR ", target_fpr,
              ": expected a number in [0,1)");
  const auto s = sorted_scores("FPR threshold reference scores", reference_normal_scores, 1);
  const int64_t n = s.size(0);
  const int64_t allowed = static_cast<int64_t>(std::floor(target_fpr * static_cast<double>(n)));
  // The (allowed+1)-th largest score: only the `allowed` scores above it (or fewer, with ties) are flagged.
  return s[n - 1 - allowed].item<double>();
}

std::vector<std::string> threshold_rule_names() { return {"gap", "percentile", "fpr"}; }

ThresholdRule parse_threshold_rule(const std::string& text, const std::string& what) {
  return static_cast<ThresholdRule>(choice_index(text, threshold_rule_names(), what));
}

std::string threshold_rule_name(ThresholdRule rule) { return threshold_rule_names().at(static_cast<size_t>(rule)); }

}  // namespace loupe
