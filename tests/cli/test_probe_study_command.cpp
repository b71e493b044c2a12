// `loupe study probe` end to end on a tiny MNIST-like folder (shapes, not digits), with
// its models trained here: every layer probed for both models, the numbers in range and
// consistent, and bad input refused with nothing left behind.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cli/cli_helpers.h"
#include "test_util.h"

namespace loupe {

using test::contains;
using test::run_command;
using test::TempDir;

TEST(ProbeStudyCommand, ProbesEveryLayerOfBothModels) {
  TempDir dir;
  const auto data = dir.path() / "data";
  fs::create_directories(data);
  test::write_shape_digits(data, "train", 200, 1);
  test::write_shape_digits(data, "t10k", 60, 2);
  const auto out = dir.path() / "out";
  // clang-format off
  const std::vector<std::string> base = {"probe", "--base", "mnist", "--data", data.string(), "--steps", "5",
                                         "--units", "3", "--top-k", "4", "--sae-features", "32", "--sae-steps", "20",
                                         "--device", "cpu"};
  // clang-format on
  auto args = base;
  args.insert(args.end(), {"--probe-images", "60", "--out", out.string()});
  auto r = run_command("study", args);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = test::read_metrics(out);
  for (const auto* name : {"lazy", "control"}) {
    EXPECT_EQ(m[name]["source"], "trained here");
    for (const auto* tap : {"conv1", "conv2", "conv3"}) {
      const auto& t = m[name]["taps"][tap];
      const double share = t["colour_share"].get<double>();
      EXPECT_GE(share, 0.0);
      EXPECT_LE(share, 1.0);
      const auto units = t["label"].size();
      EXPECT_EQ(t["colour_entropy"].size(), units);
      EXPECT_EQ(t["top_indices"].size(), units);
      EXPECT_EQ(t["top_indices"][0].size(), 4u);
      for (const auto& h : t["colour_entropy"]) EXPECT_LE(h.get<double>(), 2.0 + 1e-9);  // 4 images: log2(4) at most
    }
    EXPECT_EQ(m[name]["logits"]["saturation_fourier"].size(), 10u);
    const auto& sae = m[name]["sae"];
    EXPECT_EQ(sae["tap"], "conv3");
    EXPECT_TRUE(fs::exists(sae["checkpoint"].get<std::string>()));
    EXPECT_EQ(sae["feature_frequency"].size(), 32u);
    EXPECT_EQ(sae["top_indices"].size(), 32u);
    EXPECT_LE(sae["explained_variance"].get<double>(), 1.0);
    EXPECT_GE(sae["l0"].get<double>(), 0.0);
    EXPECT_LE(sae["l0"].get<double>(), 32.0);
  }
  EXPECT_TRUE(fs::exists(out / "report.html"));
  // Bad input: a missing checkpoint, an unknown tap, a probe set larger than allowed.
  const auto bad = dir.path() / "bad";
  args = base;
  args.insert(args.end(), {"--probe-images", "60", "--lazy", (dir.path() / "nope.pt").string(), "--out", bad.string()});
  r = run_command("study", args);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "nope.pt")) << r.err;
  args = base;
  args.insert(args.end(), {"--probe-images", "60", "--lazy", (out / "models" / "lazy.pt").string(), "--control",
                           (out / "models" / "control.pt").string(), "--taps", "layer9", "--out", bad.string()});
  r = run_command("study", args);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "tap 'layer9'")) << r.err;
  args = base;
  args.insert(args.end(), {"--probe-images", "5", "--out", bad.string()});
  r = run_command("study", args);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--probe-images")) << r.err;
  args = base;
  args.insert(args.end(), {"--probe-images", "60", "--sae", "topk", "--sae-k", "64", "--out", bad.string()});
  r = run_command("study", args);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--sae-k 64")) << r.err;
  EXPECT_FALSE(fs::exists(bad));
}

}  // namespace loupe
