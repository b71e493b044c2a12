// `loupe probe visualize|top|dissect|sae` on a small CNN and a tiny MNIST-like folder:
// each writes its report and consistent metrics; bad input is one line and leaves nothing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cli/cli_helpers.h"
#include "loupe/core/npy.h"
#include "test_util.h"

namespace loupe {

using test::contains;
using test::read_metrics;
using test::run_command;
using test::TempDir;

class ProbeCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_small_cnn_and_images(dir.path());
    fs::create_directories(data());
    test::write_shape_digits(data(), "train", 100, 1);
    test::write_shape_digits(data(), "t10k", 40, 2);
  }
  fs::path data() const { return dir.path() / "data"; }
  std::vector<std::string> args(const std::string& tap, std::vector<std::string> extra) const {
    std::vector<std::string> a = {"--checkpoint", (dir.path() / "m.pt").string(), "--tap", tap, "--device", "cpu"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::vector<std::string> data_args() const {
    return {"--data", "gray-mnist", "--data-dir", data().string(), "--images", "30", "--recolour"};
  }
  TempDir dir;
};

TEST_F(ProbeCommand, VisualizeWritesOneImagePerUnitAndMethod) {
  const auto out = dir.path() / "vis";
  const auto r = run_command("probe", {"visualize"});
  EXPECT_EQ(r.code, 2);  // --checkpoint and --tap are required
  auto ok = run_command("probe", [&] {
    auto a = args("fc", {"--units", "0,3", "--steps", "5", "--out", out.string()});
    a.insert(a.begin(), "visualize");
    return a;
  }());
  ASSERT_EQ(ok.code, 0) << ok.err;
  for (const auto* f : {"fc_0_pixel.png", "fc_3_pixel.png", "fc_0_fourier.png", "fc_3_fourier.png"})
    EXPECT_TRUE(fs::exists(out / "units" / f)) << f;
  const auto m = read_metrics(out);
  EXPECT_EQ(m["units"], nlohmann::json({0, 3}));
  EXPECT_EQ(m["pixel"]["final_activation"].size(), 2u);
}

TEST_F(ProbeCommand, TopDissectAndSaeOnRecolouredImages) {
  auto run_sub = [&](const std::string& sub, const std::string& tap, std::vector<std::string> extra) {
    auto a = args(tap, data_args());
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.begin(), sub);
    return run_command("probe", a);
  };
  auto r = run_sub("top", "conv2", {"--k", "4", "--out", (dir.path() / "top").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  auto m = read_metrics(dir.path() / "top");
  EXPECT_EQ(m["top_indices"].size(), m["units"].size());
  EXPECT_EQ(m["top_indices"][0].size(), 4u);
  EXPECT_EQ(m["colour_entropy"].size(), m["units"].size());
  for (const auto& h : m["colour_entropy"]) EXPECT_LE(h.get<double>(), 2.0 + 1e-9);  // 4 images: 2 bits at most

  // CLIP-Dissect from a concept matrix over the same 30 images; NetDissect from the colours.
  write_npy(dir.path() / "concepts.npy", torch::rand({30, 3}, torch::kDouble));
  std::ofstream(dir.path() / "names.txt") << "stripes\nspots\nsky\n";
  r = run_sub("dissect", "conv2",
              {"--units", "0,1,2", "--concepts", (dir.path() / "concepts.npy").string(), "--concept-names",
               (dir.path() / "names.txt").string(), "--out", (dir.path() / "dis").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  m = read_metrics(dir.path() / "dis");
  EXPECT_EQ(m["wpmi"]["concepts"], nlohmann::json({"stripes", "spots", "sky"}));
  EXPECT_EQ(m["wpmi"]["label"].size(), 3u);
  EXPECT_EQ(m["netdissect"]["label"].size(), 3u);
  int64_t labelled = 0;
  for (const auto& [kind, count] : m["netdissect"]["units_per_kind"].items()) labelled += count.get<int64_t>();
  EXPECT_EQ(labelled, 3);

  r = run_sub("sae", "conv3", {"--features", "16", "--steps", "10", "--out", (dir.path() / "sae").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.path() / "sae" / "sae.pt"));
  m = read_metrics(dir.path() / "sae");
  EXPECT_EQ(m["feature_frequency"].size(), 16u);
  EXPECT_GT(m["training"]["activations_per_second"].get<double>(), 0.0);

  // Bad input: a concept matrix of the wrong shape, k larger than the dictionary, an
  // unknown tap, a unit out of range: one line, no output folder.
  const auto bad = dir.path() / "bad";
  write_npy(dir.path() / "wrong.npy", torch::rand({7, 3}, torch::kDouble));
  r = run_sub("dissect", "conv2", {"--concepts", (dir.path() / "wrong.npy").string(), "--out", bad.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "expected [30 images, M concepts]")) << r.err;
  r = run_sub("sae", "conv3", {"--kind", "topk", "--features", "16", "--k-active", "17", "--out", bad.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--k-active 17")) << r.err;
  r = run_sub("top", "conv9", {"--out", bad.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "tap 'conv9'")) << r.err;
  r = run_sub("top", "conv2", {"--units", "999", "--out", bad.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "unit 999 of tap 'conv2'")) << r.err;
  EXPECT_FALSE(fs::exists(bad));
}

TEST_F(ProbeCommand, DissectOnShapes3DUsesItsPartsByHue) {
  const auto out = dir.path() / "s3d";
  // The small CNN of the fixture takes 28x28 images; Shapes3D renders 64x64, which the
  // convolutions and the adaptive pooling take as well.
  const auto r = run_command("probe", [&] {
    auto a = args("conv1", {"--data", "shapes3d", "--images", "12", "--units", "0,1", "--out", out.string()});
    a.insert(a.begin(), "dissect");
    return a;
  }());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = read_metrics(out);
  ASSERT_EQ(m["netdissect"]["concepts"].size(), 34u);
  EXPECT_EQ(m["netdissect"]["concepts"][0], "part:sky");
  EXPECT_EQ(m["netdissect"]["label"].size(), 2u);
}

}  // namespace loupe
