// `loupe explain --methods ...` end to end on an untrained small CNN: report, IoU
// metrics, .npy maps and overlays; bad input fails with one line and no output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "cli/cli_helpers.h"
#include "loupe/cli.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/core/npy.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/zoo.h"
#include "test_util.h"

namespace loupe {
namespace {

test::CliRun run_explain(std::vector<std::string> args) { return test::run_command("explain", std::move(args)); }

// `loupe explain` on write_small_cnn_and_images's fixture in `dir`: its checkpoint, the CPU,
// output dir/out, then `args` (methods, images, options).
test::CliRun explain_fixture(const fs::path& dir, const std::string& out, std::vector<std::string> args) {
  args.insert(args.end(), {"--checkpoint", (dir / "m.pt").string(), "--device", "cpu", "--out", (dir / out).string()});
  return run_explain(std::move(args));
}

}  // namespace

TEST(CliExplain, SeveralMethodsWriteReportIouAndNpyMaps) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto out = dir.path() / "out";
  auto r = run_explain({"--methods",      "gradcam,occlusion",
                        "--methods",      "lime",
                        "--checkpoint",   (dir.path() / "m.pt").string(),
                        "--images",       (dir.path() / "imgs").string(),
                        "--samples",      "40",
                        "--segmentation", "grid",
                        "--grid-cell",    "7",
                        "--window",       "7",
                        "--stride",       "7",
                        "--device",       "cpu",
                        "--out",          out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "report.html"));
  const auto m = nlohmann::json::parse(read_file(out / "metrics.json"));
  ASSERT_EQ(m["iou"].size(), 2u);
  for (const auto* pair : {"gradcam/occlusion", "gradcam/lime", "occlusion/lime"}) {
    const double v = m["iou"][0][pair].get<double>();
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }
  EXPECT_EQ(m["maps"].size(), 6u);
  for (const auto* method : {"gradcam", "occlusion", "lime"}) {
    const auto map = read_npy(out / "maps" / "a" / (std::string(method) + ".npy"));
    EXPECT_EQ(map.sizes(), (std::vector<int64_t>{28, 28})) << method;
    EXPECT_GE(map.min().item<float>(), 0.0f);
    EXPECT_LE(map.max().item<float>(), 1.0f);
    EXPECT_TRUE(fs::exists(out / "overlays" / (std::string("b_") + method + ".png")));
    EXPECT_GT(m["methods"][method]["seconds"].get<double>(), 0.0);
  }
  // The old single-method form still works.
  r = run_explain({"gradcam", "--checkpoint", (dir.path() / "m.pt").string(), "--images",
                   (dir.path() / "imgs" / "a.png").string(), "--target", "3", "--device", "cpu", "--out",
                   (dir.path() / "one").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto one = nlohmann::json::parse(read_file(dir.path() / "one" / "metrics.json"));
  EXPECT_EQ(one["images"][0]["explained_class"].get<int64_t>(), 3);
}

// Occlusion is incremental by default on zoo models; --no-incremental gives the same map,
// and --precision int8 runs the quantised model (a map of the right shape, close in rank).
TEST(CliExplain, OcclusionIncrementalAndInt8) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto occlusion = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {"occlusion", "--images", (dir.path() / "imgs" / "a.png").string(), "--window", "5",
                                     "--stride",  "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = explain_fixture(dir.path(), name, args);
    EXPECT_EQ(r.code, 0) << r.err;
    return read_npy(dir.path() / name / "maps" / "a" / "occlusion.npy");
  };
  const auto incremental = occlusion("incremental", {});
  const auto full = occlusion("full", {"--no-incremental"});
  EXPECT_LT((incremental - full).abs().max().item<float>(), 1e-5f);
  const auto int8 = occlusion("int8", {"--precision", "int8"});
  ASSERT_EQ(int8.sizes(), full.sizes());
  const auto a = full - full.mean(), b = int8 - int8.mean();
  EXPECT_GT(((a * b).sum() / (a.norm() * b.norm())).item<float>(), 0.9f);
}

// --shard K/N explains the images at positions K, K+N, ... of the sorted list; the two
// shards of two images split them, and their maps equal the unsharded run's.
TEST(CliExplain, ShardsSplitTheImages) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto explain = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {"gradcam", "--images", (dir.path() / "imgs").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return explain_fixture(dir.path(), name, args);
  };
  ASSERT_EQ(explain("all", {}).code, 0);
  for (const auto& [shard, image, other] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"0/2", "a", "b"}, {"1/2", "b", "a"}}) {
    const auto r = explain("shard" + shard.substr(0, 1), {"--shard", shard});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(test::contains(r.out, "shard " + shard + ": 1 of 2 images")) << r.out;
    const auto maps = dir.path() / ("shard" + shard.substr(0, 1)) / "maps";
    // Equal up to float rounding (a batch of one vs two runs other kernel blockings).
    const auto a = read_npy(maps / image / "gradcam.npy"),
               b = read_npy(dir.path() / "all" / "maps" / image / "gradcam.npy");
    EXPECT_LT((a - b).abs().max().item<float>(), 1e-5f);
    EXPECT_FALSE(fs::exists(maps / other));
  }
  const auto r = explain("none", {"--shard", "2/3"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "shard 2/3 takes none of the 2 image(s)")) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "none"));
}

TEST(CliExplain, BadInputFailsWithOneLineAndNoOutput) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto ckpt = (dir.path() / "m.pt").string();
  const auto imgs = (dir.path() / "imgs").string();
  const auto out = dir.path() / "out";
  struct Case {
    std::vector<std::string> args;
    std::string part;
    int code = 1;
  };
  fs::create_directories(dir.path() / "empty");
  write_file_atomic(dir.path() / "broken.png", "not a png");
  const std::vector<Case> cases = {
      {{"--methods", "gradcam,deeplift", "--checkpoint", ckpt, "--images", imgs}, "deeplift", 2},  // not a choice
      {{"--methods", "lime,lime", "--checkpoint", ckpt, "--images", imgs}, "twice"},
      {{"--checkpoint", ckpt, "--images", (dir.path() / "empty").string()}, "no PNG or JPEG"},
      {{"--checkpoint", ckpt, "--images", (dir.path() / "broken.png").string()}, "broken.png"},
      {{"--checkpoint", ckpt, "--images", imgs, "--target", "10"}, "--target 10"},
      {{"--checkpoint", ckpt, "--images", imgs, "--iou", "half"}, "IoU threshold 'half'"},
      {{"--checkpoint", ckpt, "--images", imgs, "--precision", "int4"}, "--precision", 2},
      {{"--checkpoint", ckpt, "--images", imgs, "--shard", "5/4"}, "--shard '5/4': expected K/N with 0 <= K < N"},
  };
  for (auto c : cases) {
    c.args.insert(c.args.end(), {"--device", "cpu", "--out", out.string()});
    const auto r = run_explain(c.args);
    EXPECT_EQ(r.code, c.code) << c.part;
    EXPECT_TRUE(test::contains(r.err, c.part)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.part;
  }
}

// A run that fails half-way leaves no earlier run's report beside its own files.
TEST(CliExplain, AFailedRunLeavesNoEarlierReportBehind) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto out = dir.path() / "out";
  write_file_atomic(out / "report.html", "an earlier run's complete-looking report");
  write_file_atomic(out / "metrics.json", "{}");
  // Fails after the model and images are loaded: class 10 of a 10-class model.
  const auto r =
      run_explain({"gradcam", "--checkpoint", (dir.path() / "m.pt").string(), "--images",
                   (dir.path() / "imgs").string(), "--target", "10", "--device", "cpu", "--out", out.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "--target 10")) << r.err;
  EXPECT_FALSE(fs::exists(out / "report.html"));
  EXPECT_FALSE(fs::exists(out / "metrics.json"));
  EXPECT_FALSE(fs::exists(out / ".loupe.lock"));
}

TEST(CliExplain, RefusesToWriteThroughASymlinkInsideOut) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto out = dir.path() / "out", elsewhere = dir.path() / "elsewhere";
  fs::create_directories(out);
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, out / "overlays");
  const auto r = run_explain({"gradcam", "--checkpoint", (dir.path() / "m.pt").string(), "--images",
                              (dir.path() / "imgs").string(), "--device", "cpu", "--out", out.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "overlays is a symbolic link inside the output folder")) << r.err;
  EXPECT_TRUE(fs::is_empty(elsewhere));
  EXPECT_FALSE(fs::exists(out / "report.html"));
}

}  // namespace loupe
