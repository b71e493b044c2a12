#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "error_matchers.h"
#include "loupe/core/image.h"
#include "loupe/data/anomaly_synth.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/vae.h"
#include "loupe/studies/anomaly.h"
#include "test_util.h"

namespace loupe {
namespace {

// A small hazelnut category in the MVTec layout at 32 px: 24 train, 6 good and 10 defective
// test images (2 per defect kind).
fs::path write_small_hazelnut(const fs::path& root) {
  const auto options =
      AnomalySynthOptions().set_size(32).set_train_images(24).set_test_good(6).set_test_defective(10).set_categories(
          {"hazelnut"});
  write_anomaly_dataset(root, options);
  return root;
}

// A tiny run: 32 px, 3 steps, 4 explained samples with 40 LIME samples / SHAP evaluations.
AnomalyStudyOptions tiny_anomaly_options(const fs::path& data, const fs::path& out) {
  AnomalyStudyOptions o;
  o.common.out = out;
  o.data = data;
  o.size = 32;
  o.steps = 3;
  o.explain = 5;
  o.samples = 40;
  o.segments = 12;
  o.grid_samples = 2;
  return o;
}

// τ* by brute force: every observed score, flagged iff score >= τ, the largest τ of the
// best √(TPR·(1 − FPR)).
double brute_force_gmean_threshold(const std::vector<double>& scores, const std::vector<int64_t>& truth) {
  double best = -1, best_tau = 0;
  for (const double tau : scores) {
    double tp = 0, fp = 0, pos = 0, neg = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      (truth[i] ? pos : neg) += 1;
      if (scores[i] >= tau) (truth[i] ? tp : fp) += 1;
    }
    const double g = std::sqrt(tp / pos * (1 - fp / neg));
    if (g > best || (g == best && tau > best_tau)) best = g, best_tau = tau;
  }
  return best_tau;
}

}  // namespace

TEST(AnomalyStudy, TinyRunOnMvtecFolderHasConsistentMetrics) {
  test::TempDir dir;
  const auto data = write_small_hazelnut(dir.path() / "mvtec");
  const auto out = dir.path() / "out";
  run_anomaly_study(tiny_anomaly_options(data, out));
  ASSERT_TRUE(fs::exists(out / "report.html"));
  ASSERT_TRUE(fs::exists(out / "models" / "vaegan.pt"));
  EXPECT_FALSE(fs::exists(out / "data"));  // user data is read in place, not copied
  const auto m = test::read_metrics(out);
  EXPECT_EQ(m["study"].get<std::string>(), "anomaly");
  EXPECT_EQ(m["training"]["steps"].get<int64_t>(), 3);

  const auto scores = m["test"]["scores"].get<std::vector<double>>();
  const auto truth = m["test"]["anomalous"].get<std::vector<int64_t>>();
  const auto flagged = m["test"]["flagged"].get<std::vector<int64_t>>();
  ASSERT_EQ(scores.size(), 16u);
  // τ* is the brute-force G-mean threshold; the flags and the accuracy follow from it.
  const double tau = m["image"]["threshold"];
  EXPECT_DOUBLE_EQ(tau, brute_force_gmean_threshold(scores, truth));
  int64_t correct = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_EQ(flagged[i], scores[i] >= tau ? 1 : 0) << i;
    correct += flagged[i] == truth[i];
  }
  EXPECT_DOUBLE_EQ(m["image"]["accuracy"].get<double>(), static_cast<double>(correct) / 16.0);
  const auto& by_kind = m["image"]["confusion_by_kind"];
  EXPECT_EQ(by_kind["good"]["tn"].get<int64_t>() + by_kind["good"]["fp"].get<int64_t>(), 6);
  for (const auto& kind : anomaly_defect_kinds("hazelnut"))
    EXPECT_EQ(by_kind[kind]["tp"].get<int64_t>() + by_kind[kind]["fn"].get<int64_t>(), 2) << kind;
  for (const char* key : {"auroc", "aupro"}) {
    const double v = m["pixel"][key];
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }

  // Five explained samples, one from each defect kind, every setup with a J* in [0,1].
  const auto positions = m["explained"]["positions"].get<std::vector<int64_t>>();
  const auto kinds = m["test"]["kinds"].get<std::vector<std::string>>();
  ASSERT_EQ(positions.size(), 5u);
  std::set<std::string> explained_kinds;
  for (const auto p : positions) {
    EXPECT_EQ(truth[static_cast<size_t>(p)], 1);
    explained_kinds.insert(kinds[static_cast<size_t>(p)]);
  }
  EXPECT_EQ(explained_kinds.size(), 5u);
  for (const char* setup : {"s1", "s2", "s3"}) {
    const auto& s = m["explained"][setup];
    ASSERT_EQ(s["jaccard"].size(), 5u) << setup;
    for (const auto& j : s["jaccard"]) {
      EXPECT_GE(j.get<double>(), 0.0);
      EXPECT_LE(j.get<double>(), 1.0);
    }
    EXPECT_EQ(s["evaluations_per_image"].get<int64_t>(), 40) << setup;
  }
  // S2's superpixels are S1's split along the mask: never fewer.
  const auto f1 = m["explained"]["s1"]["superpixels"].get<std::vector<int64_t>>();
  const auto f2 = m["explained"]["s2"]["superpixels"].get<std::vector<int64_t>>();
  for (size_t i = 0; i < f1.size(); ++i) EXPECT_GE(f2[i], f1[i]);
  // Good samples have no mask, so no J*; defective ones have one.
  const auto& baseline = m["baseline"]["jaccard"];
  for (size_t i = 0; i < truth.size(); ++i) EXPECT_EQ(baseline[i].is_null(), truth[i] == 0) << i;
  // Right for the wrong reason: exactly the flagged explained samples with J*(S1) < 0.1.
  std::vector<int64_t> wrong;
  for (size_t k = 0; k < positions.size(); ++k)
    if (flagged[static_cast<size_t>(positions[k])] && m["explained"]["s1"]["jaccard"][k].get<double>() < 0.1)
      wrong.push_back(positions[k]);
  EXPECT_EQ(m["wrong_reason"]["positions"].get<std::vector<int64_t>>(), wrong);

  // The checkpoint scores the same test set to the same numbers, without training.
  auto again = tiny_anomaly_options(data, dir.path() / "again");
  again.steps.reset();
  again.size.reset();
  again.checkpoint = out / "models" / "vaegan.pt";
  again.explain = 1;
  run_anomaly_study(again);
  const auto m2 = test::read_metrics(dir.path() / "again");
  EXPECT_EQ(m2["test"]["scores"].get<std::vector<double>>(), scores);
  EXPECT_EQ(m2["training"]["steps"].get<int64_t>(), 3);
  EXPECT_FALSE(fs::exists(dir.path() / "again" / "models" / "vaegan.pt"));
}

TEST(AnomalyStudy, CalibrationSplitChoosesTauOnOnePartAndEvaluatesTheOther) {
  test::TempDir dir;
  const auto data = write_small_hazelnut(dir.path() / "mvtec");
  auto o = tiny_anomaly_options(data, dir.path() / "out");
  o.calibration = 0.5;
  o.explain = 1;
  o.model = ReconstructionKind::kAe;
  run_anomaly_study(o);
  ASSERT_TRUE(fs::exists(dir.path() / "out" / "models" / "ae.pt"));
  const auto m = test::read_metrics(dir.path() / "out");
  const auto cal = m["image"]["calibration_positions"].get<std::vector<int64_t>>();
  const auto ev = m["image"]["evaluation_positions"].get<std::vector<int64_t>>();
  // Per kind, half of each kind's samples: 3 of 6 good, 1 of 2 per defect kind.
  EXPECT_EQ(cal.size(), 8u);
  EXPECT_EQ(ev.size(), 8u);
  std::set<int64_t> all(cal.begin(), cal.end());
  all.insert(ev.begin(), ev.end());
  EXPECT_EQ(all.size(), 16u);
  const auto scores = m["test"]["scores"].get<std::vector<double>>();
  const auto truth = m["test"]["anomalous"].get<std::vector<int64_t>>();
  std::vector<double> cal_scores;
  std::vector<int64_t> cal_truth;
  for (const auto p : cal) cal_scores.push_back(scores[static_cast<size_t>(p)]), cal_truth.push_back(truth[static_cast<size_t>(p)]);
  EXPECT_DOUBLE_EQ(m["image"]["threshold"].get<double>(), brute_force_gmean_threshold(cal_scores, cal_truth));
  int64_t correct = 0;
  const double tau = m["image"]["threshold"];
  for (const auto p : ev) correct += (scores[static_cast<size_t>(p)] >= tau) == (truth[static_cast<size_t>(p)] == 1);
  EXPECT_DOUBLE_EQ(m["image"]["accuracy"].get<double>(), static_cast<double>(correct) / 8.0);
}

TEST(AnomalyStudy, BadInputIsOneClearErrorAndLeavesNoOutputFolder) {
  test::TempDir dir;
  const auto data = write_small_hazelnut(dir.path() / "mvtec");
  const auto out = dir.path() / "out";
  auto expect_refused = [&](const AnomalyStudyOptions& o, const std::string& part) {
    EXPECT_LOUPE_ERROR(run_anomaly_study(o), part);
    EXPECT_FALSE(fs::exists(out)) << part;
  };
  auto o = tiny_anomaly_options(data, out);
  o.category = "screw";
  expect_refused(o, "holds hazelnut");
  o = tiny_anomaly_options({}, out);
  o.category = "screw";
  expect_refused(o, "built-in data has brick, grass, gravel, hazelnut");
  o = tiny_anomaly_options(dir.path() / "nowhere", out);
  expect_refused(o, "--data");
  o = tiny_anomaly_options(data, out);
  o.size = 50;
  expect_refused(o, "--size 50");
  o = tiny_anomaly_options(data, out);
  o.calibration = 0.95;
  expect_refused(o, "--calibration");
  o = tiny_anomaly_options(data, out);
  o.samples = 0;
  expect_refused(o, "--samples");

  // A checkpoint of another architecture, and --resume with --checkpoint.
  const auto classifier = dir.path() / "vae.pt";
  Vae vae{VaeSpec()};
  save_checkpoint(classifier, {{kVaeModule, vae.get(), spec_json(VaeSpec())}}, {}, {});
  o = tiny_anomaly_options(data, out);
  o.steps.reset();
  o.checkpoint = classifier;
  expect_refused(o, classifier.string());
  o.resume = true;
  expect_refused(o, "--resume");

  // A defect image without its mask: the reader names the missing file.
  const auto mask = data / "hazelnut" / "ground_truth" / "crack" / "000_mask.png";
  ASSERT_TRUE(fs::exists(mask));
  fs::remove(mask);
  expect_refused(tiny_anomaly_options(data, out), "000_mask.png");
}

}  // namespace loupe
