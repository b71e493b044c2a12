#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "error_matchers.h"
#include "loupe/studies/outliers.h"
#include "test_util.h"

namespace loupe {
namespace {

// A tiny run: 20 training steps on 64 renders, 40 normals and 5 outliers, small panels.
OutliersStudyOptions tiny_outliers_options(const fs::path& out) {
  OutliersStudyOptions o;
  o.common.out = out;
  o.normals = 40;
  o.outliers = 5;
  o.steps = 20;
  o.pool = 64;
  o.latents = 6;
  o.counterfactuals = 2;
  o.morph_steps = 3;
  o.gradcam_dims = 1;
  o.gradcam_inputs = 2;
  return o;
}

// The flags in metrics.json are exactly the samples above the threshold, and the counts agree.
void expect_flags_match_threshold(const nlohmann::json& m) {
  const double threshold = m["threshold"];
  const auto md = m["scores"]["md"].get<std::vector<double>>();
  const auto truth = m["scores"]["outlier"].get<std::vector<int64_t>>();
  std::vector<int64_t> above;
  int64_t tp = 0;
  for (size_t i = 0; i < md.size(); ++i)
    if (md[i] > threshold) above.push_back(static_cast<int64_t>(i)), tp += truth[i];
  EXPECT_EQ(m["flagged"]["positions"].get<std::vector<int64_t>>(), above);
  EXPECT_EQ(m["flagged"]["total"].get<int64_t>(), static_cast<int64_t>(above.size()));
  EXPECT_EQ(m["flagged"]["true_positives"].get<int64_t>(), tp);
  EXPECT_DOUBLE_EQ(m["tpr_at_threshold"].get<double>(), static_cast<double>(tp) / 5.0);
  EXPECT_DOUBLE_EQ(m["fpr_at_threshold"].get<double>(), static_cast<double>(above.size() - tp) / 40.0);
}

}  // namespace

TEST(OutliersStudy, TinyRunWritesReportAndConsistentMetrics) {
  test::TempDir dir;
  const auto first = dir.path() / "first";
  run_outliers_study(tiny_outliers_options(first));
  ASSERT_TRUE(fs::exists(first / "report.html"));
  ASSERT_TRUE(fs::exists(first / "models" / "vae.pt"));
  const auto m = test::read_metrics(first);
  EXPECT_EQ(m["study"].get<std::string>(), "outliers");
  const double a = m["auroc"];
  EXPECT_GE(a, 0.0);
  EXPECT_LE(a, 1.0);
  EXPECT_EQ(m["scores"]["md"].size(), 45u);
  EXPECT_EQ(m["training"]["steps"].get<int64_t>(), 20);
  expect_flags_match_threshold(m);
  // Per-dimension counts of true outliers add up to the outliers.
  int64_t total = 0;
  for (const auto& c : m["outliers_per_dimension"]["true_outliers"]) total += c.get<int64_t>();
  EXPECT_EQ(total, 5);
  // Counterfactual strips start from the largest distance.
  ASSERT_EQ(m["counterfactuals"].size(), 2u);
  const auto md = m["scores"]["md"].get<std::vector<double>>();
  EXPECT_DOUBLE_EQ(m["counterfactuals"][0]["md"].get<double>(), *std::max_element(md.begin(), md.end()));

  // Reusing the checkpoint with a reference fit and the FPR threshold: no training (the
  // report carries the checkpoint's 20 steps and no training time), and
  // at most floor(0.1 * 20) = 2 reference normals lie above the threshold.
  auto o = tiny_outliers_options(dir.path() / "second");
  o.model = first / "models" / "vae.pt";
  o.latents.reset();
  o.reference = 20;
  o.threshold = ThresholdRule::kFpr;
  o.threshold_value = 0.1;
  run_outliers_study(o);
  const auto m2 = test::read_metrics(dir.path() / "second");
  EXPECT_EQ(m2["training"]["steps"].get<int64_t>(), 20);
  EXPECT_EQ(m2["training"]["seconds"].get<double>(), 0.0);
  EXPECT_EQ(m2["fit"].get<std::string>(), "reference");
  EXPECT_EQ(m2["scores"]["md"].size(), 45u);
  EXPECT_DOUBLE_EQ(m2["auroc"].get<double>(), m2["auroc_reference"].get<double>());
  expect_flags_match_threshold(m2);

  // A robust batch fit: scored by the MCD fit, which keeps part of the batch; the classical
  // batch AUROC is still reported and equals the first run's (same model, same sample).
  auto r = tiny_outliers_options(dir.path() / "robust");
  r.model = first / "models" / "vae.pt";
  r.latents.reset();
  r.fit.set_robust(true);
  run_outliers_study(r);
  const auto m3 = test::read_metrics(dir.path() / "robust");
  EXPECT_EQ(m3["fit"].get<std::string>(), "robust");
  EXPECT_DOUBLE_EQ(m3["auroc"].get<double>(), m3["auroc_robust"].get<double>());
  EXPECT_DOUBLE_EQ(m3["auroc_batch"].get<double>(), m["auroc_batch"].get<double>());
  EXPECT_GT(m3["fit_support"].get<int64_t>(), 22);  // at least h = ceil((45 + L + 1) / 2) minus reweighting losses
  EXPECT_LE(m3["fit_support"].get<int64_t>(), 45);
  expect_flags_match_threshold(m3);
}

TEST(OutliersStudy, BadCriterionAndCountsAreClearErrorsBeforeTraining) {
  test::TempDir dir;
  auto o = tiny_outliers_options(dir.path());
  o.criterion = "wall_hue=teal";
  EXPECT_LOUPE_ERROR(run_outliers_study(o), "unknown value 'teal'");
  o.criterion = "colour=red";
  EXPECT_LOUPE_ERROR(run_outliers_study(o), "wall_hue");  // the message lists the valid factors
  // Every sample satisfies "shape=0|1|2|3", so there are no outliers to draw.
  o.criterion = "shape=cube|cylinder|sphere|capsule";
  EXPECT_LOUPE_ERROR(run_outliers_study(o), "curated sample");
  o.criterion = "wall_hue=green";
  o.threshold = ThresholdRule::kFpr;
  EXPECT_LOUPE_ERROR(run_outliers_study(o), "--reference");
  EXPECT_FALSE(fs::exists(dir.path() / "models"));
}

}  // namespace loupe
