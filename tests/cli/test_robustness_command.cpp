// `loupe study robustness` end to end on a tiny MNIST-like folder written here (shapes,
// not digits): every model trained, the report and metrics consistent with themselves, a
// rerun from the written checkpoints equal to the first run, and bad input refused with
// nothing left behind.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "cli/cli_helpers.h"
#include "format_builders.h"
#include "loupe/models/checkpoint.h"
#include "test_util.h"

namespace loupe {
namespace {

using test::contains;
using test::read_metrics;
using test::run_command;
using test::TempDir;

std::vector<std::string> study_args(const fs::path& data, const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "robustness", "--base",      "mnist", "--data",         data.string(), "--objectives",    "jtt", "--epochs",
      "1",          "--batch",     "32",    "--train-images", "0",           "--attack-images", "1",   "--max-eps",
      "0.12",       "--tolerance", "0.02",  "--probe-images", "2",           "--device",        "cpu", "--out",
      out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

class RobustnessCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    fs::create_directories(data());
    test::write_shape_digits(data(), "train", 300, 1);
    test::write_shape_digits(data(), "t10k", 100, 2);
  }
  static void TearDownTestSuite() {
    delete dir_;
    first_.reset();
  }
  static fs::path data() { return dir_->path() / "data"; }
  static fs::path out() { return dir_->path() / "out"; }
  // The study with every model trained, run once per process by the tests that need it.
  static const test::CliRun& first() {
    if (!first_) first_ = run_command("study", study_args(data(), out()));
    return *first_;
  }
  static TempDir* dir_;
  static std::optional<test::CliRun> first_;
};
TempDir* RobustnessCommand::dir_ = nullptr;
std::optional<test::CliRun> RobustnessCommand::first_;

TEST_F(RobustnessCommand, TrainsEveryModelAndWritesAConsistentReport) {
  ASSERT_EQ(first().code, 0) << first().err;
  EXPECT_TRUE(fs::exists(out() / "report.html"));
  for (const auto* name : {"lazy", "control", "jtt"})
    EXPECT_TRUE(fs::exists(out() / "models" / (std::string(name) + ".pt")));
  const auto m = read_metrics(out());
  EXPECT_EQ(m["models"], nlohmann::json({"lazy", "control", "jtt"}));
  EXPECT_EQ(m["best_debiased"], "jtt");
  const auto sources = m["attack"]["rows"]["source"].get<std::vector<int64_t>>();
  const auto targets = m["attack"]["rows"]["target"].get<std::vector<int64_t>>();
  ASSERT_EQ(sources.size(), 90u);  // one image per class, towards each of the 9 other classes
  for (size_t i = 0; i < sources.size(); ++i) EXPECT_NE(sources[i], targets[i]);
  const auto eps_grid = m["attack"]["curve_epsilons"].get<std::vector<double>>();
  EXPECT_DOUBLE_EQ(eps_grid.back(), 0.12);
  for (const auto* name : {"lazy", "control", "jtt"}) {
    const auto& model = m["model"][name];
    for (const auto* key : {"validation_accuracy", "inverted_test_accuracy", "gray_test_accuracy",
                            "probe_follows_colour", "probe_keeps_class"}) {
      EXPECT_GE(model[key].get<double>(), 0.0) << name << " " << key;
      EXPECT_LE(model[key].get<double>(), 1.0) << name << " " << key;
    }
    EXPECT_EQ(model["source"], "trained here");
    const auto& a = model["attack"];
    // Each pair's minimal ε is within the ceiling or null (not reached), never dropped.
    std::vector<double> eps;
    for (const auto& e : a["minimal_epsilon"]) eps.push_back(e.is_null() ? INFINITY : e.get<double>());
    ASSERT_EQ(eps.size(), 90u);
    for (const double e : eps) EXPECT_TRUE(std::isinf(e) || (e >= 0 && e <= 0.12)) << e;
    // The curve is the fraction of pairs with minimal ε at most each grid value.
    const auto curve = a["curve"].get<std::vector<double>>();
    ASSERT_EQ(curve.size(), eps_grid.size());
    for (size_t g = 0; g < curve.size(); ++g) {
      const auto hits = std::count_if(eps.begin(), eps.end(), [&](double e) { return e <= eps_grid[g]; });
      EXPECT_DOUBLE_EQ(curve[g], static_cast<double>(hits) / 90.0);
    }
    // The median counts unreached pairs as the largest.
    std::sort(eps.begin(), eps.end());
    const double median = 0.5 * (eps[44] + eps[45]);
    if (std::isinf(median))
      EXPECT_TRUE(a["median_minimal_epsilon"].is_null());
    else
      EXPECT_DOUBLE_EQ(a["median_minimal_epsilon"].get<double>(), median);
    EXPECT_GE(a["success_rate"].get<double>(), 0.0);
    EXPECT_LE(a["success_rate"].get<double>(), 1.0);
  }
  EXPECT_TRUE(contains(m["answer"].get<std::string>(), "Is the model that learned shape harder to fool?"));
}

TEST_F(RobustnessCommand, ModelsLoadedFromItsCheckpointsGiveTheSameNumbers) {
  ASSERT_EQ(first().code, 0) << first().err;
  const auto again = dir_->path() / "again";
  const auto models = out() / "models";
  const auto r = run_command("study", study_args(data(), again,
                                                 {"--checkpoint", "lazy=" + (models / "lazy.pt").string(),
                                                  "--checkpoint", "control=" + (models / "control.pt").string(),
                                                  "--checkpoint", "jtt=" + (models / "jtt.pt").string()}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(again / "models" / "lazy.pt"));  // nothing trained
  const auto a = read_metrics(out()), b = read_metrics(again);
  for (const auto* name : {"lazy", "control", "jtt"}) {
    EXPECT_EQ(b["model"][name]["source"], (models / (std::string(name) + ".pt")).string());
    for (const auto* key : {"validation_accuracy", "inverted_test_accuracy", "gray_test_accuracy",
                            "probe_follows_colour", "gradcam_predictions"})
      EXPECT_EQ(a["model"][name][key], b["model"][name][key]) << name << " " << key;
    EXPECT_EQ(a["model"][name]["attack"]["minimal_epsilon"], b["model"][name]["attack"]["minimal_epsilon"]) << name;
    EXPECT_EQ(a["model"][name]["attack"]["success_rate"], b["model"][name]["attack"]["success_rate"]) << name;
  }
}

TEST_F(RobustnessCommand, BadInputIsOneLineAndLeavesNothingBehind) {
  const auto bad = dir_->path() / "bad";
  // A checkpoint of another input: a 1-channel classifier.
  torch::manual_seed(0);
  const ModelSpec gray{"small_cnn", 1, 10};
  auto gray_model = make_model(gray);
  save_checkpoint(dir_->path() / "gray.pt", {{kClassifierModule, gray_model.get(), spec_json(gray)}}, {}, {});
  auto r =
      run_command("study", study_args(data(), bad, {"--checkpoint", "lazy=" + (dir_->path() / "gray.pt").string()}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--checkpoint lazy=")) << r.err;
  EXPECT_TRUE(contains(r.err, "expected 3 channels and 10 classes")) << r.err;
  EXPECT_FALSE(fs::exists(bad));
  // A checkpoint of another architecture.
  const ModelSpec resnet{"resnet18_small", 3, 10};
  auto resnet_model = make_model(resnet);
  save_checkpoint(dir_->path() / "resnet.pt", {{kClassifierModule, resnet_model.get(), spec_json(resnet)}}, {}, {});
  r = run_command("study", study_args(data(), bad, {"--checkpoint", "jtt=" + (dir_->path() / "resnet.pt").string()}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "a resnet18_small classifier, but the study compares small_cnn")) << r.err;
  EXPECT_FALSE(fs::exists(bad));
  // A missing checkpoint, an unknown model name, a malformed flag.
  r = run_command("study", study_args(data(), bad, {"--checkpoint", "lazy=" + (dir_->path() / "nope.pt").string()}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "nope.pt")) << r.err;
  r = run_command("study", study_args(data(), bad, {"--checkpoint", "wizard=x.pt"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "unknown model 'wizard'")) << r.err;
  r = run_command("study", study_args(data(), bad, {"--checkpoint", "lazy"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "expected NAME=FILE")) << r.err;
  // Out-of-range numbers and unknown objectives.
  r = run_command("study", study_args(data(), bad, {"--eps", "-0.1"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--eps")) << r.err;
  r = run_command("study", study_args(data(), bad, {"--objectives", "wizardry"}));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "wizardry")) << r.err;
  r = run_command("study", study_args(data(), bad, {"--lambda", "-1"}));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--lambda")) << r.err;
  EXPECT_FALSE(fs::exists(bad));
}

}  // namespace loupe
