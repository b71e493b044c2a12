// Thresholds on outlier scores, chosen to avoid false positives. Convention: a sample
// is flagged iff score > threshold. Largest gap: the midpoint of the widest gap between
// consecutive sorted scores above a fraction assumed normal, each gap weighted by the
// number of scores above it; percentile: numpy's linear
// interpolation; target FPR: the smallest threshold that flags at most that fraction of
// a reference set of normals.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace loupe {

// scores [N] (finite, N >= 2). Gaps are searched between the sorted scores s_(i) and
// s_(i+1) for i >= ceil(normal_fraction * N) - 1, so at least that fraction stays
// unflagged; normal_fraction in (0,1). The gap maximised is (N-1-i)(s_(i+1) - s_(i)) with
// i 0-based: a normalised spacing (Renyi), roughly equal for consecutive scores from one
// exponential-tailed distribution, so it peaks where a group of outliers starts rather than
// between the two most extreme outliers (the plain widest gap flagged 1 of 20 outliers in
// the outliers study; this rule flagged 18 of 20 with no normal).
double largest_gap_threshold(const torch::Tensor& scores, double normal_fraction = 0.5);

// The q-th percentile (q in [0,100]) of the scores, linearly interpolated.
double percentile_threshold(const torch::Tensor& scores, double q);

// reference_normal_scores [N]; target_fpr in [0,1): at most floor(target_fpr * N) of the
// reference scores lie above the returned threshold, and it is the smallest such score.
double fpr_threshold(const torch::Tensor& reference_normal_scores, double target_fpr);

// Which of the three rules sets a threshold: "gap", "percentile" or "fpr" (other text is
// a loupe::Error naming `what`, e.g. "--threshold").
enum class ThresholdRule { kLargestGap, kPercentile, kFpr };
ThresholdRule parse_threshold_rule(const std::string& text, const std::string& what = "threshold");
std::string threshold_rule_name(ThresholdRule rule);
std::vector<std::string> threshold_rule_names();  // in enum order

}  // namespace loupe
