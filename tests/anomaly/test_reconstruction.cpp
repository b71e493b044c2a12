#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "error_matchers.h"
#include "loupe/anomaly/reconstruction.h"
#include "loupe/metrics/ssim.h"

namespace loupe {
namespace {

// Image and reconstruction [1,3,2,2] whose channel maxima are [[.6,.9],[.5,.8]] and
// [[.7,.9],[.5,.4]]: m = [[.1,0],[0,.4]]. The other reading, max_c |x − x′|, would give
// [[.5,.7],[.3,.6]].
std::pair<torch::Tensor, torch::Tensor> hand_pair() {
  const auto x = torch::tensor({0.2, 0.9, 0.5, 0.1,   // R
                                0.6, 0.1, 0.5, 0.3,   // G
                                0.1, 0.2, 0.4, 0.8},  // B
                               torch::kDouble)
                     .view({1, 3, 2, 2});
  const auto r = torch::tensor({0.7, 0.2, 0.5, 0.1,   //
                                0.1, 0.3, 0.2, 0.4,   //
                                0.3, 0.9, 0.1, 0.2},  //
                               torch::kDouble)
                     .view({1, 3, 2, 2});
  return {x, r};
}

// τ* by brute force: every observed score, TPR·(1−FPR) as the integer tp·tn, ties to the
// largest threshold.
GmeanThreshold brute_force_gmean(const torch::Tensor& scores, const torch::Tensor& anomalous) {
  const auto s = scores.to(torch::kDouble);
  const auto y = anomalous.to(torch::kBool);
  const int64_t p = y.sum().item<int64_t>(), n = y.size(0) - p;
  std::set<double> candidates;
  for (int64_t i = 0; i < s.size(0); ++i) candidates.insert(s[i].item<double>());
  GmeanThreshold best;
  int64_t best_product = -1;
  for (double t : candidates) {  // ascending: >= lets a later (larger) tie win
    const auto flagged = s >= t;
    const int64_t tp = (flagged & y).sum().item<int64_t>(), tn = (~flagged & ~y).sum().item<int64_t>();
    if (tp * tn < best_product) continue;
    best_product = tp * tn;
    best.threshold = t;
    best.tpr = static_cast<double>(tp) / static_cast<double>(p);
    best.fpr = static_cast<double>(n - tn) / static_cast<double>(n);
    best.criterion = std::sqrt(best.tpr * (1 - best.fpr));
    best.confusion = {tp, n - tn, tn, p - tp};
    best.accuracy = static_cast<double>(tp + tn) / static_cast<double>(p + n);
  }
  return best;
}

}  // namespace

TEST(ReconstructionAnomalyMap, ChannelMaximaThenDifferenceOnHandPair) {
  const auto [x, r] = hand_pair();
  const auto m = reconstruction_anomaly_map(x, r);
  ASSERT_EQ(m.sizes(), (torch::IntArrayRef{1, 2, 2}));
  EXPECT_TRUE(torch::allclose(m, torch::tensor({0.1, 0.0, 0.0, 0.4}, torch::kDouble).view({1, 2, 2}), 0, 1e-12)) << m;
  // Symmetric, zero for a perfect reconstruction, and one channel is its own maximum.
  EXPECT_TRUE(torch::allclose(reconstruction_anomaly_map(r, x), m));
  EXPECT_EQ(reconstruction_anomaly_map(x, x).abs().max().item<double>(), 0.0);
  const auto gray = x.slice(1, 0, 1), gray_r = r.slice(1, 0, 1);
  EXPECT_TRUE(torch::allclose(reconstruction_anomaly_map(gray, gray_r), (gray - gray_r).abs().squeeze(1)));
}

TEST(AnomalyScores, MaxAndTopPercentOnHandPair) {
  const auto [x, r] = hand_pair();                               // m = {.1, 0, 0, .4}
  EXPECT_NEAR(anomaly_scores(x, r).item<double>(), 0.4, 1e-12);  // the seed's default: max
  const auto topk = [&](double percent) {
    return anomaly_scores(x, r, AnomalyScoreOptions().set_score(AnomalyScore::kTopK).set_top_percent(percent))
        .item<double>();
  };
  EXPECT_NEAR(topk(1), 0.4, 1e-12);      // ceil(0.04) = 1 pixel
  EXPECT_NEAR(topk(30), 0.25, 1e-12);    // ceil(1.2) = 2 pixels: (.4 + .1) / 2 (rounding would keep 1)
  EXPECT_NEAR(topk(50), 0.25, 1e-12);    // 2 pixels
  EXPECT_NEAR(topk(100), 0.125, 1e-12);  // the mean
  // From maps directly, per image.
  const auto maps = torch::stack({torch::tensor({{0.1, 0.0}, {0.0, 0.4}}), torch::tensor({{0.3, 0.2}, {0.2, 0.2}})});
  EXPECT_TRUE(torch::allclose(anomaly_scores_of_maps(maps), torch::tensor({0.4, 0.3}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(
      anomaly_scores_of_maps(maps, AnomalyScoreOptions().set_score(AnomalyScore::kTopK).set_top_percent(50)),
      torch::tensor({0.25, 0.25}, torch::kDouble)));
}

TEST(AnomalyScores, SsimIsTheLargestDissimilarityOfTheValidMap) {
  torch::manual_seed(5);
  // 11x11: the valid SSIM map is one pixel, so α = 1 − ssim(x, x′).
  const auto x = torch::rand({3, 3, 11, 11}, torch::kDouble), r = (x + 0.2 * torch::rand_like(x)).clamp(0, 1);
  const auto ssim_options = AnomalyScoreOptions().set_score(AnomalyScore::kSsim);
  EXPECT_TRUE(torch::allclose(anomaly_scores(x, r, ssim_options), 1 - ssim(x, r), 0, 1e-12));
  EXPECT_NEAR(anomaly_scores(x, x, ssim_options).abs().max().item<double>(), 0, 1e-12);
  // 14x13: the maximum over the 4x3 valid positions of 1 − (channel-mean SSIM).
  const auto big = torch::rand({2, 3, 14, 13}, torch::kDouble), big_r = torch::rand({2, 3, 14, 13}, torch::kDouble);
  const auto map = ssim_map(big, big_r);
  ASSERT_EQ(map.sizes(), (torch::IntArrayRef{2, 3, 4, 3}));
  const auto expected = std::get<0>((1 - map.mean(1)).flatten(1).max(1));
  EXPECT_TRUE(torch::allclose(anomaly_scores(big, big_r, ssim_options), expected, 0, 1e-12));
}

TEST(AnomalyScores, NamesParseOnceAndUnknownNamesListTheChoices) {
  for (const auto& name : anomaly_score_names()) EXPECT_EQ(anomaly_score_name(parse_anomaly_score(name)), name);
  EXPECT_EQ(parse_anomaly_score("topk"), AnomalyScore::kTopK);
  EXPECT_LOUPE_ERROR(parse_anomaly_score("mean", "--score"), "--score 'mean': expected one of max, topk, ssim");
}

TEST(AnomalyScores, RejectsBadInput) {
  const auto [x, r] = hand_pair();
  EXPECT_LOUPE_ERROR(reconstruction_anomaly_map(x, r.slice(1, 0, 2)), "reconstructions: expected the images' shape");
  EXPECT_LOUPE_ERROR(reconstruction_anomaly_map(x[0], r[0]), "images: expected [N,C,H,W]");
  auto nan_image = x.clone();
  nan_image[0][1][0][0] = std::nan("");
  EXPECT_LOUPE_ERROR(anomaly_scores(nan_image, r), "images: found NaN");
  EXPECT_LOUPE_ERROR(anomaly_scores(x, r * 2), "reconstructions: values in [0.2, 1.8]; expected images in [0,1]");
  EXPECT_LOUPE_ERROR(anomaly_scores(x, r, AnomalyScoreOptions().set_score(AnomalyScore::kTopK).set_top_percent(0)),
                     "top percent 0");
  EXPECT_LOUPE_ERROR(anomaly_scores(x, r, AnomalyScoreOptions().set_score(AnomalyScore::kSsim)), "11x11 window");
  EXPECT_LOUPE_ERROR(
      anomaly_scores_of_maps(torch::rand({2, 4, 4}), AnomalyScoreOptions().set_score(AnomalyScore::kSsim)),
      "anomaly score 'ssim'");
  EXPECT_LOUPE_ERROR(anomaly_scores_of_maps(torch::rand({4, 4})), "anomaly maps: expected");
}

TEST(GmeanThreshold, HandExampleTiesGoToTheLargestThreshold) {
  // τ = .8: TPR .5, FPR 0 -> √.5; τ = .4: .5, .5 -> .5; τ = .35: 1, .5 -> √.5; τ = .1: 1, 1 -> 0.
  // .8 and .35 tie; the larger wins.
  const auto t = gmean_threshold(torch::tensor({0.1, 0.4, 0.35, 0.8}, torch::kDouble), torch::tensor({0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(t.threshold, 0.8);
  EXPECT_NEAR(t.criterion, std::sqrt(0.5), 1e-12);
  EXPECT_DOUBLE_EQ(t.tpr, 0.5);
  EXPECT_DOUBLE_EQ(t.fpr, 0.0);
  EXPECT_DOUBLE_EQ(t.accuracy, 0.75);
  EXPECT_EQ(t.confusion.tp, 1);
  EXPECT_EQ(t.confusion.fp, 0);
  EXPECT_EQ(t.confusion.tn, 2);
  EXPECT_EQ(t.confusion.fn, 1);
}

TEST(GmeanThreshold, EqualsBruteForceOnRandomScoresWithTies) {
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    auto gen = at::detail::createCPUGenerator(seed);
    const int64_t n = 10 + static_cast<int64_t>(seed) * 7;
    // Few distinct values (many ties) for even seeds, continuous scores for odd ones.
    const auto scores =
        seed % 2 == 0 ? torch::randint(0, 6, {n}, gen, torch::kDouble) / 5 : torch::rand({n}, gen, torch::kDouble);
    auto anomalous = torch::rand({n}, gen, torch::kDouble) < 0.4;
    anomalous[0] = true;
    anomalous[1] = false;
    // Anomalies score a little higher on average, so the optimum is not trivial.
    const auto shifted = scores + anomalous.to(torch::kDouble) * (seed % 2 == 0 ? 0.2 : 0.3);
    const auto got = gmean_threshold(shifted, anomalous), want = brute_force_gmean(shifted, anomalous);
    EXPECT_DOUBLE_EQ(got.threshold, want.threshold) << "seed " << seed;
    EXPECT_DOUBLE_EQ(got.criterion, want.criterion) << "seed " << seed;
    EXPECT_DOUBLE_EQ(got.tpr, want.tpr) << "seed " << seed;
    EXPECT_DOUBLE_EQ(got.fpr, want.fpr) << "seed " << seed;
    EXPECT_DOUBLE_EQ(got.accuracy, want.accuracy) << "seed " << seed;
    EXPECT_EQ(got.confusion.tp, want.confusion.tp) << "seed " << seed;
    EXPECT_EQ(got.confusion.fp, want.confusion.fp) << "seed " << seed;
    EXPECT_EQ(got.confusion.tn, want.confusion.tn) << "seed " << seed;
    EXPECT_EQ(got.confusion.fn, want.confusion.fn) << "seed " << seed;
  }
}

TEST(GmeanThreshold, RejectsBadInput) {
  EXPECT_LOUPE_ERROR(gmean_threshold(torch::tensor({0.1, 0.2}), torch::tensor({1, 1})), "anomalous: 2 anomalous and 0");
  EXPECT_LOUPE_ERROR(gmean_threshold(torch::tensor({0.1, 0.2}), torch::tensor({1, 0, 1})),
                     "anomalous: expected labels [2]");
  EXPECT_LOUPE_ERROR(gmean_threshold(torch::tensor({0.1, std::nan("")}), torch::tensor({1, 0})), "scores: found NaN");
  EXPECT_LOUPE_ERROR(gmean_threshold(torch::tensor({0.1, 0.2}), torch::tensor({2, 0})),
                     "anomalous: expected bool or 0/1");
}

TEST(ConfusionByKind, CountsEachKindAtTheThreshold) {
  // good: .1 .6 (one false alarm); scratch: .7 .2 (one hit, one miss); hole: .9.
  const auto scores = torch::tensor({0.1, 0.7, 0.6, 0.9, 0.2});
  const auto anomalous = torch::tensor({false, true, false, true, true});
  const auto kinds = torch::tensor({0, 1, 0, 2, 1});
  const auto all = confusion_at(scores, anomalous, 0.5);
  EXPECT_EQ(all.tp, 2);
  EXPECT_EQ(all.fp, 1);
  EXPECT_EQ(all.tn, 1);
  EXPECT_EQ(all.fn, 1);
  const auto by_kind = confusion_by_kind(scores, anomalous, 0.5, kinds, {"good", "scratch", "hole", "crack"});
  ASSERT_EQ(by_kind.size(), 4u);
  EXPECT_EQ(by_kind[0].kind, "good");
  EXPECT_EQ(by_kind[0].confusion.fp, 1);
  EXPECT_EQ(by_kind[0].confusion.tn, 1);
  EXPECT_EQ(by_kind[0].confusion.tp + by_kind[0].confusion.fn, 0);
  EXPECT_EQ(by_kind[1].confusion.tp, 1);
  EXPECT_EQ(by_kind[1].confusion.fn, 1);
  EXPECT_EQ(by_kind[1].confusion.fp + by_kind[1].confusion.tn, 0);
  EXPECT_EQ(by_kind[2].confusion.tp, 1);
  EXPECT_EQ(by_kind[2].confusion.total(), 1);
  EXPECT_EQ(by_kind[3].kind, "crack");
  EXPECT_EQ(by_kind[3].confusion.total(), 0);
  EXPECT_LOUPE_ERROR(confusion_by_kind(scores, anomalous, 0.5, kinds, {"good", "scratch"}),
                     "kinds: expected indices in [0,2)");
  EXPECT_LOUPE_ERROR(confusion_by_kind(scores, anomalous, 0.5, kinds.slice(0, 0, 3), {"good"}),
                     "kinds: expected integer");
}

TEST(RightForTheWrongReason, FlaggedSamplesWithPoorOverlap) {
  const auto scores = torch::tensor({0.9, 0.8, 0.2, 0.95, 0.7});
  const double nan = std::nan("");
  // 0: flagged, J* .05 -> listed; 1: flagged, J* .6; 2: not flagged; 3: flagged, no defect (NaN); 4: flagged, J* .09.
  const auto jaccard = torch::tensor({0.05, 0.6, 0.01, nan, 0.09}, torch::kDouble);
  EXPECT_TRUE(torch::equal(right_for_wrong_reason(scores, 0.5, jaccard), torch::tensor({0, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(right_for_wrong_reason(scores, 0.5, jaccard, 0.08), torch::tensor({0}, torch::kLong)));
  EXPECT_LOUPE_ERROR(right_for_wrong_reason(scores, 0.5, jaccard.slice(0, 0, 2)), "optimal Jaccard: expected [5]");
}

}  // namespace loupe
