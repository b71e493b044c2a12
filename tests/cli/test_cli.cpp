// End-to-end tests of the CLI entry point: exit codes, one-line errors, and the
// train → eval → explain → study chain on real FashionMNIST (skipped if absent).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "loupe/cli.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/core/output_dir.h"
#include "loupe/data/mnist.h"
#include "test_util.h"

namespace loupe {
namespace {

struct Run {
  int code;
  std::string out, err;
};

Run run(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = cli::run_cli(args);
  return {code, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
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

TEST(Cli, UnknownOrMissingCommandIsAUsageErrorNamingTheChoices) {
  auto r = run({"bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("loupe: error: unknown command 'bogus'; expected one of demo, study, train, eval, explain", 0),
            0u)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run({"study", "bogus", "--out", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(test::contains(r.err,
                             "unknown command 'study bogus'; expected one of bias, compare, disentangle, "
                             "outliers"))
      << r.err;
  r = run({});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(test::contains(r.err, "no command given; expected one of demo, study")) << r.err;
  r = run({"study"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(test::contains(r.err, "'loupe study' needs a command; expected one of bias")) << r.err;
  EXPECT_EQ(run({"--version"}).code, 0);
  EXPECT_EQ(run({"study", "--help"}).code, 0);
}

// Whatever CLI11 cannot read exits 2 with one line naming the option or value.
TEST(Cli, ParseErrorsExitTwoNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string part;
  };
  const std::vector<Case> cases = {
      {{"train", "--data", "imagenet"}, "imagenet"},
      {{"train", "--data", "mnist", "--model", "vgg99"}, "vgg99"},
      {{"train", "--data", "mnist", "--frobnicate"}, "--frobnicate"},
      {{"train", "--data", "mnist", "--epochs", "two"}, "--epochs"},
      {{"train"}, "--data"},
      {{"study", "bias", "--preset", "slow"}, "slow"},
      {{"study", "compare", "--methods", "gradcam,nope"}, "nope"},
      {{"explain", "nope", "--images", "x.png"}, "nope"},
      {{"explain", "--methods", "gradcam,nope", "--images", "x.png"}, "--methods"},
      {{"explain", "gradcam", "--images", "x.png", "--size", "big"}, "--size"},
      {{"explain", "gradcam", "--images", "x.png", "--out", ""}, "--out"},
      {{"study", "bias", "--out", ""}, "--out"},
      {{"train", "--data", "mnist", "--out", ""}, "--out"},
  };
  test::TempDir tmp;
  const auto out = tmp.path() / "out";
  for (auto c : cases) {
    if (std::find(c.args.begin(), c.args.end(), "--out") == c.args.end())
      c.args.insert(c.args.end(), {"--out", out.string()});
    const auto r = run(c.args);
    EXPECT_FALSE(fs::exists(out)) << c.part;
    EXPECT_EQ(r.code, 2) << c.part << ": " << r.err;
    EXPECT_EQ(r.err.rfind("loupe: error: ", 0), 0u) << r.err;
    EXPECT_TRUE(test::contains(r.err, c.part)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

// Values CLI11 reads but loupe rejects exit 1, naming option and value, before any data
// is loaded or any folder made. Each case would otherwise fail fast anyway (a missing
// data folder, tiny settings), so a missing check shows as a wrong message, not a hang.
TEST(Cli, OutOfRangeValuesAreRefusedBeforeAnyWork) {
  test::TempDir tmp;
  const auto out = tmp.path() / "out";
  const std::string nowhere = (tmp.path() / "nonexistent").string();
  struct Case {
    std::vector<std::string> args;
    std::string part;
  };
  const std::vector<std::string> bias = {"study", "bias", "--data", nowhere};
  const std::vector<std::string> outliers = {"study", "outliers", "--pool", "2", "--steps", "1", "--outliers", "1"};
  const std::vector<std::string> disentangle = {"study",   "disentangle", "--pool",        "2",
                                                "--steps", "1",           "--eval-images", "20"};
  const std::vector<std::string> compare = {"study", "compare", "--images", nowhere};
  const std::vector<std::string> explain = {"explain", "gradcam", "--checkpoint", nowhere, "--images", nowhere};
  const std::vector<std::string> train = {"train", "--data", "mnist", "--data-dir", nowhere};
  auto with = [](std::vector<std::string> base, const std::vector<std::string>& more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  const std::vector<Case> cases = {
      {with(bias, {"--probe-images", "-1"}), "--probe-images -1: expected a number from 1 to 100000"},
      {with(bias, {"--epochs", "0"}), "--epochs 0"},
      {with(bias, {"--test-offset", "12"}), "--test-offset 12"},
      {with(bias, {"--seed", "-1"}), "--seed -1: expected a number >= 0"},
      {with(outliers, {"--shrinkage", "fixed", "--lambda", "-1"}), "--lambda -1"},
      {with(outliers, {"--threshold-value", "2"}), "--threshold-value 2"},
      {with(outliers, {"--morph-steps", "1"}), "--morph-steps 1"},
      {with(outliers, {"--normals", "-3"}), "--normals -3"},
      {with(disentangle, {"--latents", "5000"}), "--latents 5000"},
      {with(disentangle, {"--beta", "-1"}), "--beta -1"},
      {with(compare, {"--samples", "0"}), "--samples 0"},
      {with(compare, {"--size", "100000"}), "--size 100000: one 3x100000x100000 float image alone needs 111.8 GiB"},
      {with(compare, {"--methods", "lime,lime"}), "listed twice"},
      {with(explain, {"--samples", "-5"}), "--samples -5"},
      {with(explain, {"--samples", "2000000000"}), "--samples 2000000000: expected a number from 0 to 100000"},
      {with(explain, {"--size", "-1"}), "--size -1"},
      {with(explain, {"--size", "100000"}), "111.8 GiB"},
      {with(explain, {"--seed", "-1"}), "--seed -1"},
      {with(explain, {"--target", "-3"}), "--target -3"},
      {with(explain, {"--ig-steps", "0"}), "--ig-steps 0"},
      {with(explain, {"--ratio", "1.5"}), "--ratio 1.5"},
      {with(train, {"--train-images", "-5"}), "--train-images -5"},
      {with(train, {"--lr", "0"}), "--lr 0"},
      {with(train, {"--bias", "1.5"}), "--bias 1.5"},
      {{"eval", "--checkpoint", nowhere, "--data", "mnist", "--test-offset", "-1"}, "--test-offset -1"},
      {{"demo", "--seed", "-2"}, "--seed -2"},
  };
  for (auto c : cases) {
    const bool is_train = c.args[0] == "train";
    c.args.insert(c.args.end(), {"--device", "cpu", "--out", is_train ? (out / "m.pt").string() : out.string()});
    const auto r = run(c.args);
    EXPECT_EQ(r.code, 1) << c.part << ": " << r.err;
    EXPECT_TRUE(test::contains(r.err, c.part)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.part;
  }
}

TEST(Cli, EmptyOutWritesNothingIntoTheCurrentFolder) {
  test::TempDir tmp;
  const auto previous = fs::current_path();
  fs::current_path(tmp.path());
  auto img = torch::zeros({3, 8, 8});
  write_png("a.png", img);
  const auto r = run(
      {"explain", "gradcam", "--model", "small_cnn", "--weights", "w.safetensors", "--images", "a.png", "--out", ""});
  fs::current_path(previous);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(test::contains(r.err, "--out: empty path")) << r.err;
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) entries += e.path().filename() != "a.png";
  EXPECT_EQ(entries, 0u);
}

TEST(Cli, ASecondRunOnTheSameOutIsRefusedNamingFolderAndPid) {
  test::TempDir tmp;
  const auto out = tmp.path() / "out";
  const OutputDir first(out);
  write_file_atomic(out / "report.html", "the first run's");
  const auto pid = std::to_string(::getpid());
  auto r =
      run({"study", "bias", "--data", (tmp.path() / "nonexistent").string(), "--device", "cpu", "--out", out.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "--out " + out.string() + ": in use by another loupe run (pid " + pid)) << r.err;
  r = run(
      {"explain", "gradcam", "--checkpoint", "m.pt", "--images", "a.png", "--device", "cpu", "--out", out.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "pid " + pid)) << r.err;
  EXPECT_EQ(read_file(out / "report.html"), "the first run's");  // the refused runs touched nothing
}

TEST(Cli, ALinkInsideOutIsRefusedBeforeAnyWork) {
  test::TempDir tmp;
  const auto out = tmp.path() / "out", elsewhere = tmp.path() / "elsewhere";
  fs::create_directories(out);
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, out / "models");
  // The data folder is missing too: the link must be found first.
  const auto r =
      run({"study", "bias", "--data", (tmp.path() / "nonexistent").string(), "--device", "cpu", "--out", out.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "--out " + out.string() + ": " + (out / "models").string() +
                                        " is a symbolic link inside the output folder"))
      << r.err;
  EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST(Cli, TrainRefusesASecondTrainingOnOneCheckpoint) {
  test::TempDir tmp;
  const auto ckpt = tmp.path() / "m.pt";
  const FileLock first(tmp.path() / "m.pt.lock", "--out " + ckpt.string());
  const auto r = run({"train", "--data", "mnist", "--data-dir", (tmp.path() / "nonexistent").string(), "--device",
                      "cpu", "--out", ckpt.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(
      r.err, "--out " + ckpt.string() + ": in use by another loupe run (pid " + std::to_string(::getpid())))
      << r.err;
}

TEST(Cli, UnwritableOutIsRefusedBeforeAnyWork) {
  test::TempDir tmp;
  fs::path read_only = tmp.path() / "read-only";
  if (::geteuid() == 0) {
    if (!fs::is_directory("/sys")) GTEST_SKIP() << "no /sys to stand for a read-only folder";
    read_only = "/sys";  // refuses new files even to root
  } else {
    fs::create_directories(read_only);
    fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec);
  }
  // The data folder is missing too: the output check must come first.
  auto r = run({"train", "--data", "mnist", "--data-dir", (tmp.path() / "nonexistent").string(), "--device", "cpu",
                "--out", (read_only / "m.pt").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "cannot write into " + read_only.string())) << r.err;
  r = run({"study", "bias", "--data", (tmp.path() / "nonexistent").string(), "--device", "cpu", "--out",
           read_only.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(test::contains(r.err, "--out " + read_only.string() + ": cannot write into")) << r.err;
  if (read_only != "/sys") fs::permissions(read_only, fs::perms::owner_all);
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
