// End-to-end tests of the CLI entry point: exit codes, one-line errors, and the
// train → eval → explain → study chain on real FashionMNIST (skipped if absent).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "loupe/cli.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/data/mnist.h"

namespace loupe {
namespace {

struct Run {
  int code;
  std::string out, err;
};

Run run(const std::vector<std::string>& args) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int code = cli::run_cli(args);
  return {code, testing::internal::GetCapturedStdout(), testing::internal::GetCapturedStderr()};
}

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("loupe_cli_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

bool have_fashion_mnist() { return fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz"); }

}  // namespace

TEST(Cli, HelpShowsAnExamplePerCommand) {
  for (const std::string cmd : {"train", "eval", "demo"}) {
    auto r = run({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Example"), std::string::npos) << cmd;
  }
  auto r = run({"study", "bias", "--help"});
  EXPECT_NE(r.out.find("loupe study bias"), std::string::npos);
  r = run({"explain", "gradcam", "--help"});
  EXPECT_NE(r.out.find("loupe explain gradcam"), std::string::npos);
  r = run({"explain", "--help"});
  EXPECT_NE(r.out.find("--methods gradcam,ablationcam"), std::string::npos);
  EXPECT_NE(r.out.find("kernelshap"), std::string::npos);  // the method list
  r = run({"study", "compare", "--help"});
  EXPECT_NE(r.out.find("loupe study compare"), std::string::npos);
}

TEST(Cli, UsageErrorsExitNonZero) {
  EXPECT_NE(run({}).code, 0);
  EXPECT_NE(run({"frobnicate"}).code, 0);
  EXPECT_NE(run({"train", "--data", "imagenet"}).code, 0);
  EXPECT_NE(run({"train", "--data", "mnist", "--model", "vgg99"}).code, 0);
}

TEST(Cli, CudaWithoutGpuIsAOneLineError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is present";
  const auto dir = fresh_dir("cuda");
  auto r = run(
      {"train", "--data", "mnist", "--data-dir", dir.string(), "--device", "cuda", "--out", (dir / "m.pt").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--device cuda"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(dir / "m.pt"));
}

TEST(Cli, MissingMnistFolderNamesIt) {
  auto r = run({"train", "--data", "mnist", "--data-dir", "/nonexistent/mnist", "--device", "cpu"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/nonexistent/mnist"), std::string::npos) << r.err;
}

TEST(Cli, ExplainRejectsBadImagesAndLeavesNoOutput) {
  const auto dir = fresh_dir("explain_bad");
  // A checkpoint-free run fails before anything is written.
  auto r = run({"explain", "gradcam", "--images", (dir / "nope.png").string(), "--out", (dir / "out").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Cli, TrainEvalExplainStudyOnFashionMnist) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto dir = fresh_dir("chain");
  const auto ckpt = (dir / "lazy.pt").string();
  auto r = run({"train", "--data", "coloured-fashion-mnist", "--model", "small_cnn", "--train-images", "3000",
                "--epochs", "2", "--batch", "32", "--device", "cpu", "--out", ckpt});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(ckpt));
  EXPECT_NE(r.out.find("validation accuracy"), std::string::npos);

  r = run({"eval", "--checkpoint", ckpt, "--data", "coloured-fashion-mnist", "--split", "validation", "--device", "cpu",
           "--out", (dir / "eval").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto metrics = nlohmann::json::parse(read_file(dir / "eval" / "metrics.json"));
  // Colour alone explains 95% of the biased validation split.
  EXPECT_GT(metrics["accuracy"].get<double>(), 0.8);

  // A checkpoint for 3-channel images refuses the 1-channel dataset.
  r = run({"eval", "--checkpoint", ckpt, "--data", "fashion-mnist", "--device", "cpu"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("channel"), std::string::npos) << r.err;

  auto img = torch::zeros({3, 28, 28});
  img.index_put_({0, torch::indexing::Slice(6, 22), torch::indexing::Slice(10, 18)}, 1.0);
  write_png(dir / "red_bar.png", img);
  r = run({"explain", "gradcam", "--checkpoint", ckpt, "--images", (dir / "red_bar.png").string(), "--target", "top1",
           "--device", "cpu", "--out", (dir / "cams").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "cams" / "report.html"));
  EXPECT_TRUE(fs::exists(dir / "cams" / "overlays" / "red_bar_gradcam.png"));
  EXPECT_TRUE(fs::exists(dir / "cams" / "maps" / "red_bar" / "gradcam.npy"));

  r = run({"explain", "gradcam", "--checkpoint", ckpt, "--images", (dir / "red_bar.png").string(), "--tap", "layer9",
           "--device", "cpu", "--out", (dir / "cams2").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("valid taps"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "cams2" / "report.html"));
  r = run({"explain", "gradcam", "--checkpoint", ckpt, "--images", (dir / "red_bar.png").string(), "--target", "10",
           "--device", "cpu", "--out", (dir / "cams3").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--target 10"), std::string::npos) << r.err;

  // Truncated PNG.
  const auto png = read_file(dir / "red_bar.png");
  write_file_atomic(dir / "cut.png", png.substr(0, png.size() / 2));
  r = run({"explain", "gradcam", "--checkpoint", ckpt, "--images", (dir / "cut.png").string(), "--device", "cpu",
           "--out", (dir / "cams4").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cut.png"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "cams4"));

  r = run({"study", "bias", "--train-images", "2000", "--control-train-images", "2000", "--epochs", "1",
           "--probe-images", "4", "--device", "cpu", "--out", (dir / "bias").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = nlohmann::json::parse(read_file(dir / "bias" / "metrics.json"));
  for (const auto* key : {"validation_accuracy", "inverted_test_accuracy"}) {
    EXPECT_GE(m["lazy"][key].get<double>(), 0.0);
    EXPECT_LE(m["lazy"][key].get<double>(), 1.0);
  }
  EXPECT_EQ(m["probe"]["lazy"].size(), 10u);
  EXPECT_GT(m["lazy"]["validation_accuracy"].get<double>(), m["lazy"]["inverted_test_accuracy"].get<double>());
  const auto html = read_file(dir / "bias" / "report.html");
  EXPECT_NE(html.find("Recolouring probe"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
}

}  // namespace loupe
