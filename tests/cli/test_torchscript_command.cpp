// `--model FILE.pt` (a TorchScript model) in explain, eval, attack and probe: the same
// maps and numbers as the zoo model with the same weights, and clear errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "cli/cli_helpers.h"
#include "loupe/core/npy.h"
#include "loupe/models/checkpoint.h"
#include "models/script_models.h"
#include "test_util.h"

namespace loupe {
namespace {

using test::contains;
using test::run_command;
using test::TempDir;

// dir/m.pt: a zoo small CNN checkpoint ([in_channels], 10 classes); dir/s.pt: the same
// network as a TorchScript module.
void write_zoo_and_script(const fs::path& dir, int64_t in_channels) {
  torch::manual_seed(2);
  SmallCnn cnn(in_channels, 10);
  {
    torch::NoGradGuard no_grad;
    for (auto* bn : {cnn->bn1.get(), cnn->bn2.get(), cnn->bn3.get()}) {
      bn->running_mean.uniform_(-0.1, 0.1);
      bn->running_var.uniform_(0.5, 1.5);
    }
  }
  cnn->eval();
  const ModelSpec spec{"small_cnn", in_channels, 10};
  save_checkpoint(dir / "m.pt", {{kClassifierModule, cnn.get(), spec_json(spec)}}, {}, {});
  testing::write_small_cnn_script(cnn, dir / "s.pt");
}

// dir/data: shape-digit IDX files ("mnist" with --data-dir), `train` training images.
fs::path write_digits(const fs::path& dir, uint32_t train) {
  const auto data = dir / "data";
  fs::create_directories(data);
  test::write_shape_digits(data, "train", train, 1);
  test::write_shape_digits(data, "t10k", 40, 2);
  return data;
}

TEST(CliTorchScript, ExplainGivesTheZooModelsMaps) {
  TempDir dir;
  test::write_small_cnn_and_images(dir.path());  // the images
  write_zoo_and_script(dir.path(), 3);
  auto explain = [&](const std::string& flag, const std::string& model, const std::string& out) {
    return run_command("explain", {"--methods", "gradcam,kernelshap,lime", flag, model, "--images",
                                   (dir.path() / "imgs").string(), "--samples", "60", "--segmentation", "grid",
                                   "--grid-cell", "7", "--device", "cpu", "--out", (dir.path() / out).string()});
  };
  auto zoo = explain("--checkpoint", (dir.path() / "m.pt").string(), "zoo");
  ASSERT_EQ(zoo.code, 0) << zoo.err;
  auto script = explain("--model", (dir.path() / "s.pt").string(), "script");
  ASSERT_EQ(script.code, 0) << script.err;
  for (const auto* image : {"a", "b"})
    for (const auto* method : {"gradcam", "kernelshap", "lime"}) {
      const auto file = fs::path(image) / (std::string(method) + ".npy");
      const auto a = read_npy(dir.path() / "zoo" / "maps" / file);
      const auto b = read_npy(dir.path() / "script" / "maps" / file);
      EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << file;
    }
  // A CAM tap by submodule name; an unknown one lists the valid taps.
  auto tapped = run_command("explain", {"gradcam", "--model", (dir.path() / "s.pt").string(), "--tap", "conv2",
                                        "--images", (dir.path() / "imgs" / "a.png").string(), "--device", "cpu",
                                        "--out", (dir.path() / "conv2").string()});
  EXPECT_EQ(tapped.code, 0) << tapped.err;
  auto unknown = run_command(
      "explain", {"gradcam", "--model", (dir.path() / "s.pt").string(), "--tap", "layer4", "--images",
                  (dir.path() / "imgs" / "a.png").string(), "--device", "cpu", "--out", (dir.path() / "bad").string()});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(contains(unknown.err, "'layer4'") && contains(unknown.err, "conv1, conv2, conv3, fc")) << unknown.err;
  EXPECT_FALSE(fs::exists(dir.path() / "bad"));
}

TEST(CliTorchScript, EvalAttackAndProbeTakeATorchScriptModel) {
  TempDir dir;
  write_zoo_and_script(dir.path(), 1);
  const auto data = write_digits(dir.path(), 60);
  auto eval = [&](const std::string& flag, const std::string& model, const std::string& out) {
    return run_command("eval", {flag, model, "--data", "mnist", "--data-dir", data.string(), "--device", "cpu", "--out",
                                (dir.path() / out).string()});
  };
  auto zoo = eval("--checkpoint", (dir.path() / "m.pt").string(), "eval_zoo");
  ASSERT_EQ(zoo.code, 0) << zoo.err;
  auto script = eval("--model", (dir.path() / "s.pt").string(), "eval_script");
  ASSERT_EQ(script.code, 0) << script.err;
  const auto a = test::read_metrics(dir.path() / "eval_zoo"), b = test::read_metrics(dir.path() / "eval_script");
  EXPECT_EQ(a["accuracy"], b["accuracy"]);
  EXPECT_NEAR(a["loss"].get<double>(), b["loss"].get<double>(), 1e-5);

  fs::create_directories(dir.path() / "imgs");
  write_png(dir.path() / "imgs" / "x.png", torch::rand({1, 28, 28}));
  auto attack = run_command(
      "attack", {"--model", (dir.path() / "s.pt").string(), "--images", (dir.path() / "imgs").string(), "--target", "3",
                 "--eps", "0.3", "--device", "cpu", "--out", (dir.path() / "attack").string()});
  EXPECT_EQ(attack.code, 0) << attack.err;
  auto top = run_command("probe", {"top", "--model", (dir.path() / "s.pt").string(), "--tap", "conv3", "--data",
                                   "mnist", "--data-dir", data.string(), "--images", "20", "--units", "0,1", "--device",
                                   "cpu", "--out", (dir.path() / "top").string()});
  EXPECT_EQ(top.code, 0) << top.err;

  // The two kinds of file are not interchangeable, and each error says which flag to use.
  auto swapped = eval("--checkpoint", (dir.path() / "s.pt").string(), "swapped");
  EXPECT_EQ(swapped.code, 1);
  EXPECT_TRUE(contains(swapped.err, "TorchScript model") && contains(swapped.err, "--model")) << swapped.err;
  auto other = eval("--model", (dir.path() / "m.pt").string(), "other");
  EXPECT_EQ(other.code, 1);
  EXPECT_TRUE(contains(other.err, "loupe checkpoint") && contains(other.err, "--checkpoint")) << other.err;
  auto missing = eval("--model", (dir.path() / "nope.pt").string(), "missing");
  EXPECT_EQ(missing.code, 2);  // a usage error: neither a zoo name nor a file
  EXPECT_TRUE(contains(missing.err, "neither a zoo architecture")) << missing.err;
  auto classes = run_command("eval", {"--model", (dir.path() / "s.pt").string(), "--num-classes", "7", "--data",
                                      "mnist", "--data-dir", data.string(), "--device", "cpu"});
  EXPECT_EQ(classes.code, 1);
  EXPECT_TRUE(contains(classes.err, "returns 10 logits, but 7 classes")) << classes.err;
  for (const auto* out : {"swapped", "other", "missing"}) EXPECT_FALSE(fs::exists(dir.path() / out)) << out;
}

TEST(CliTorchScript, TrainFineTunesATorchScriptModelAndItsCheckpointLoads) {
  TempDir dir;
  write_zoo_and_script(dir.path(), 1);
  const auto data = write_digits(dir.path(), 200);
  const std::vector<std::string> on_data = {"--data", "mnist", "--data-dir", data.string(), "--device", "cpu"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), on_data.begin(), on_data.end());
    return args;
  };
  const auto script = (dir.path() / "s.pt").string(), tuned = (dir.path() / "tuned.pt").string();
  auto before = run_command("eval", with({"--model", script, "--out", (dir.path() / "before").string()}));
  ASSERT_EQ(before.code, 0) << before.err;
  auto train = run_command("train", with({"--model", script, "--epochs", "3", "--batch", "16", "--out", tuned}));
  ASSERT_EQ(train.code, 0) << train.err;
  auto after = run_command("eval", with({"--checkpoint", tuned, "--out", (dir.path() / "after").string()}));
  ASSERT_EQ(after.code, 0) << after.err;
  // The checkpoint holds the fine-tuned weights and refers to the TorchScript file.
  EXPECT_LT(test::read_metrics(dir.path() / "after")["loss"].get<double>(),
            test::read_metrics(dir.path() / "before")["loss"].get<double>());
  const auto spec = classifier_spec(read_checkpoint_info(tuned), tuned);
  EXPECT_EQ(spec.arch, fs::absolute(script).string());
  EXPECT_EQ(spec.input_size, 28);
  EXPECT_EQ(spec.num_classes, 10);
}

}  // namespace
}  // namespace loupe
