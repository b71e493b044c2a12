// `loupe explain --results h5` and `loupe merge` as a user runs them: a real process
// killed with SIGKILL and resumed, shards merged, bad shards refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/cli_helpers.h"
#include "data/idx_files.h"
#include "loupe/core/h5.h"
#include "loupe/data/image_stream.h"
#include "test_util.h"

namespace loupe {
namespace {

#ifdef LOUPE_HAVE_HDF5

// A gray small CNN and an IDX file of n random 28x28 images.
struct AuditFixture {
  test::TempDir dir;
  fs::path checkpoint, idx;
  explicit AuditFixture(int64_t n) {
    torch::manual_seed(0);
    const ModelSpec spec{"small_cnn", 1, 10};
    auto model = make_model(spec);
    checkpoint = dir.path() / "m.pt";
    save_checkpoint(checkpoint, {{kClassifierModule, model.get(), spec_json(spec)}}, {}, {});
    idx = dir.path() / "val-images-idx3-ubyte";
    test::write_idx(idx, torch::randint(0, 256, {n, 28, 28}, torch::TensorOptions().dtype(torch::kByte)));
  }
  std::vector<std::string> args(const std::string& out, std::vector<std::string> more = {}) const {
    std::vector<std::string> a = {"--methods",    "gradcam,occlusion",
                                  "--checkpoint", checkpoint.string(),
                                  "--images",     idx.string(),
                                  "--window",     "4",
                                  "--stride",     "4",
                                  "--batch",      "2",
                                  "--results",    "h5",
                                  "--out",        (dir.path() / out).string()};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
};

int64_t files_in(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  return std::distance(fs::directory_iterator(dir, ec), fs::directory_iterator());
}

void expect_same_maps(const fs::path& a, const fs::path& b) {
  const auto fa = h5::File::open(a / "results.h5"), fb = h5::File::open(b / "results.h5");
  for (const auto* name : {"position", "predicted", "explained_class"})
    EXPECT_TRUE(torch::equal(fa.read_all(name), fb.read_all(name))) << name;
  for (const auto* name : {"maps/gradcam", "maps/occlusion", "iou", "probability"}) {
    const auto x = fa.read_all(name), y = fb.read_all(name);
    ASSERT_EQ(x.sizes(), y.sizes()) << name;
    EXPECT_TRUE(torch::allclose(x, y, 1e-5, 1e-6)) << name << ": " << (x - y).abs().max().item<double>();
  }
}

TEST(CliAudit, SigkilledRunResumesToTheUninterruptedResults) {
  AuditFixture fx(60);
  const auto out = fx.dir.path() / "killed";
  std::vector<std::string> argv = {LOUPE_BINARY_DIR "/loupe", "explain"};
  for (const auto& a : fx.args("killed")) argv.push_back(a);
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  // Killed once three batches are on disk.
  const auto start = std::chrono::steady_clock::now();
  while (files_in(out / "partial") < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run ended before it was killed";
  ASSERT_FALSE(fs::exists(out / "results.h5"));
  const auto resumed = test::run_command("explain", fx.args("killed", {"--resume"}));
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(test::contains(resumed.out, "resumed: ")) << resumed.out;
  const auto whole = test::run_command("explain", fx.args("whole"));
  ASSERT_EQ(whole.code, 0) << whole.err;
  expect_same_maps(fx.dir.path() / "whole", out);
  EXPECT_FALSE(fs::exists(out / "partial"));
  EXPECT_TRUE(fs::exists(out / "report.html"));
}

TEST(CliAudit, ShardsFromSlurmVariablesMergeIntoTheWholeRun) {
  AuditFixture fx(9);
  for (int k = 0; k < 3; ++k) {
    setenv("SLURM_ARRAY_TASK_ID", std::to_string(k + 1).c_str(), 1);  // an array 1-3
    setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
    const auto r = test::run_command("explain", fx.args("shard" + std::to_string(k)));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(test::contains(r.out, "shard " + std::to_string(k) + "/3: 3 of 9 images")) << r.out;
  }
  for (const auto* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"}) unsetenv(v);
  const auto d = fx.dir.path();
  const auto missing =
      test::run_command("merge", {(d / "shard0").string(), (d / "shard2").string(), "--out", (d / "bad").string()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(test::contains(missing.err, "shard(s) 1/3 missing")) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);
  EXPECT_FALSE(fs::exists(d / "bad"));
  const auto twice =
      test::run_command("merge", {(d / "shard0").string(), (d / "shard1").string(), (d / "shard1").string(),
                                  (d / "shard2").string(), "--out", (d / "bad").string()});
  EXPECT_TRUE(test::contains(twice.err, "given twice")) << twice.err;
  EXPECT_FALSE(fs::exists(d / "bad"));
  const auto merged = test::run_command("merge", {(d / "shard2").string(), (d / "shard0").string(),
                                                  (d / "shard1").string(), "--out", (d / "merged").string()});
  ASSERT_EQ(merged.code, 0) << merged.err;
  EXPECT_TRUE(test::contains(merged.out, "merged 3 shard(s): 9 images")) << merged.out;
  const auto whole = test::run_command("explain", fx.args("whole"));
  ASSERT_EQ(whole.code, 0) << whole.err;
  expect_same_maps(d / "whole", d / "merged");
  EXPECT_TRUE(fs::exists(d / "merged" / "report.html"));
  // A dataset file cannot go to .npy files.
  auto npy = fx.args("x");
  *std::find(npy.begin(), npy.end(), "h5") = "npy";
  EXPECT_TRUE(test::contains(test::run_command("explain", npy).err, "is a dataset file"));
}

#endif

}  // namespace
}  // namespace loupe

namespace loupe {
namespace {

TEST(CliAudit, EvalStreamsAnIdxFileToTheInMemoryNumbers) {
  test::TempDir dir;
  test::write_shape_digits(dir.path(), "train", 40, 1);
  test::write_shape_digits(dir.path(), "t10k", 30, 2);
  torch::manual_seed(0);
  const ModelSpec spec{"small_cnn", 1, 10};
  auto model = make_model(spec);
  const auto checkpoint = dir.path() / "m.pt";
  save_checkpoint(checkpoint, {{kClassifierModule, model.get(), spec_json(spec)}}, {}, {});
  const auto in_memory = test::run_command("eval", {"--checkpoint", checkpoint.string(), "--data", "mnist",
                                                    "--data-dir", dir.path().string(), "--split", "test"});
  ASSERT_EQ(in_memory.code, 0) << in_memory.err;
  const auto streamed = test::run_command(
      "eval", {"--checkpoint", checkpoint.string(), "--images", (dir.path() / "t10k-images-idx3-ubyte").string(),
               "--batch", "7", "--out", (dir.path() / "report").string()});
  ASSERT_EQ(streamed.code, 0) << streamed.err;
  // "accuracy A, loss L" and the confusion matrix: the same text after the data's name.
  const auto tail = [](const std::string& s) { return s.substr(s.find("30 images)")); };
  EXPECT_EQ(tail(streamed.out).substr(0, tail(streamed.out).find("report:")), tail(in_memory.out));
  EXPECT_TRUE(fs::exists(dir.path() / "report" / "report.html"));
  const auto unlabelled = dir.path() / "u-images-idx3-ubyte";
  fs::copy_file(dir.path() / "t10k-images-idx3-ubyte", unlabelled);
  const auto none = test::run_command("eval", {"--checkpoint", checkpoint.string(), "--images", unlabelled.string()});
  EXPECT_EQ(none.code, 1);
  EXPECT_TRUE(test::contains(none.err, "has no labels")) << none.err;
}

}  // namespace
}  // namespace loupe
