// loupe train --distributed with real processes on loopback: ranks are this test binary
// started again (DistributedChild.DISABLED_Rank runs `loupe ARGS...` in it), the
// one-process references run in this process.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_helpers.h"
#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/distributed.h"
#include "loupe/train/history.h"
#include "models/script_models.h"
#include "test_util.h"
#include "train/distributed_processes.h"

namespace loupe {
using test::contains;
using test::run_command;
using test::TempDir;

// The child side: started by test::spawn_loupe, runs loupe with the arguments it was given
// and exits with loupe's status (skipped, being DISABLED_, in a normal run).
TEST(DistributedChild, DISABLED_Rank) {
  const char* joined = std::getenv(test::kChildArgsVariable);
  if (!joined) GTEST_SKIP() << "only run by the distributed tests";
  std::vector<std::string> args;
  std::stringstream in(joined);
  for (std::string arg; std::getline(in, arg, test::kChildArgsSeparator);) args.push_back(arg);
  const int code = cli::run_cli(args);
  std::fflush(nullptr);
  std::_Exit(code);
}

namespace {

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// dir/net.pt: conv 3x3 (1→4) → ReLU → conv 3x3 (4→4) → ReLU → mean → linear (4→10), no
// BatchNorm (per-rank batch statistics would break the equality with one process), and
// dir/data: 48 shape digits to train on and 40 to validate on.
struct DistributedFixture {
  TempDir dir;
  fs::path model = dir.path() / "net.pt", data = dir.path() / "data";
  DistributedFixture() {
    torch::manual_seed(3);
    torch::jit::Module net("DistributedNet");
    net.register_module("conv1",
                        testing::script_conv("DistributedConv1", torch::randn({4, 1, 3, 3}) * 0.5, torch::zeros({4})));
    net.register_module("conv2",
                        testing::script_conv("DistributedConv2", torch::randn({4, 4, 3, 3}) * 0.3, torch::zeros({4})));
    net.register_module("fc", testing::script_linear("DistributedHead", torch::randn({10, 4}), torch::zeros({10})));
    net.define(R"(
def forward(self, x):
    x = torch.relu(self.conv1.forward(x))
    x = torch.relu(self.conv2.forward(x))
    return self.fc.forward(torch.mean(x, [2, 3]))
)");
    net.save(model.string());
    fs::create_directories(data);
    test::write_shape_digits(data, "train", 48, 1);
    test::write_shape_digits(data, "t10k", 40, 2);
  }
  // `loupe train` on the first 32 images with SGD, writing `out`.
  std::vector<std::string> train_args(const std::string& out, int64_t batch, int64_t epochs,
                                      const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args = {"train",
                                     "--model",
                                     model.string(),
                                     "--data",
                                     "mnist",
                                     "--data-dir",
                                     data.string(),
                                     "--train-images",
                                     "32",
                                     "--optimizer",
                                     "sgd",
                                     "--lr",
                                     "0.1",
                                     "--batch",
                                     std::to_string(batch),
                                     "--epochs",
                                     std::to_string(epochs),
                                     "--device",
                                     "cpu",
                                     "--out",
                                     (dir.path() / out).string()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  // In this process, one rank alone (no --distributed).
  test::CliRun run_here(const std::vector<std::string>& args) const {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    return run_command(args.front(), rest);
  }
  // `world` ranks as processes with --distributed; their exit statuses (logs at out.rankR).
  std::vector<int> run_ranks(int world, std::vector<std::string> args, double timeout = 120) const {
    args.push_back("--distributed");
    const int port = test::free_loopback_port();
    std::vector<pid_t> pids;
    for (int r = 0; r < world; ++r)
      pids.push_back(test::spawn_loupe(args, test::rank_environment(r, world, port), log(r)));
    std::vector<int> codes;
    for (const pid_t pid : pids) codes.push_back(test::wait_exit(pid, timeout));
    return codes;
  }
  fs::path log(int rank) const { return dir.path() / ("rank" + std::to_string(rank)); }
  std::string out_of(int rank) const { return read_text_file(log(rank).string() + ".out"); }
  std::string err_of(int rank) const { return read_text_file(log(rank).string() + ".err"); }
};

// The checkpoint's weights, flattened in order.
std::vector<torch::Tensor> weights_of(const fs::path& checkpoint) {
  std::vector<torch::Tensor> out;
  for (const auto& p : load_model(checkpoint)->parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_same_weights(const fs::path& a, const fs::path& b, double tolerance = 1e-5) {
  const auto wa = weights_of(a), wb = weights_of(b);
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i)
    EXPECT_TRUE(torch::allclose(wa[i], wb[i], tolerance, tolerance))
        << a.filename() << " vs " << b.filename() << " parameter " << i << ": max difference "
        << (wa[i] - wb[i]).abs().max().item<double>();
}

// Have the weights moved from the model file's? (Two untrained copies would also agree.)
bool trained(const fs::path& checkpoint, const DistributedFixture& f) {
  double before = 0, after = 0;
  for (const auto& p : torch::jit::load(f.model.string()).parameters()) before += p.abs().sum().item<double>();
  for (const auto& p : weights_of(checkpoint)) after += p.abs().sum().item<double>();
  return std::abs(after - before) > 1e-3;
}

TEST(DistributedCli, TwoRanksTrainWhatOneProcessTrainsWithTheCombinedBatch) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  DistributedFixture f;
  const auto one = f.run_here(f.train_args("one.pt", 8, 2));
  ASSERT_EQ(one.code, 0) << one.err;
  fs::create_directories(f.dir.path() / "ddp");
  const auto codes = f.run_ranks(2, f.train_args("ddp/two.pt", 4, 2));
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << f.err_of(0) << f.err_of(1);
  EXPECT_TRUE(trained(f.dir.path() / "one.pt", f));
  expect_same_weights(f.dir.path() / "one.pt", f.dir.path() / "ddp" / "two.pt");
  // The logs are means over the global batch, so the histories agree too.
  const auto h1 = history_from_json(read_checkpoint_info(f.dir.path() / "one.pt").state.history_json);
  const auto info2 = read_checkpoint_info(f.dir.path() / "ddp" / "two.pt");
  const auto h2 = history_from_json(info2.state.history_json);
  ASSERT_EQ(h1.size(), 2u);
  ASSERT_EQ(h2.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(h1[i].step, h2[i].step);
    for (const auto* key : {"loss", "accuracy", "val_loss", "val_accuracy"})
      EXPECT_NEAR(h1[i].value(key), h2[i].value(key), 1e-5) << key << " epoch " << i + 1;
  }
  const auto extra = nlohmann::json::parse(info2.state.extra_json);
  EXPECT_EQ(extra["world_size"], 2);
  EXPECT_EQ(extra["batch_size"], 4);
  EXPECT_EQ(extra["images"], 64);
  // Rank 0 alone reports and writes: the folder holds the checkpoint only (no lock left).
  EXPECT_TRUE(contains(f.out_of(0), "trained ")) << f.out_of(0);
  EXPECT_FALSE(contains(f.out_of(1), "trained ")) << f.out_of(1);
  EXPECT_EQ(std::distance(fs::directory_iterator(f.dir.path() / "ddp"), fs::directory_iterator()), 1);
}

TEST(DistributedCli, LearningFromFailureKeepsEveryRanksLossAveragesInStep) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  // LfF steps two models and weights each sample by per-image loss averages, which every
  // rank must keep for the whole dataset as one process does.
  DistributedFixture f;
  const auto one = f.run_here(f.train_args("one.pt", 8, 1, {"--objective", "lff"}));
  ASSERT_EQ(one.code, 0) << one.err;
  ASSERT_EQ(f.run_ranks(2, f.train_args("two.pt", 4, 1, {"--objective", "lff"})), (std::vector<int>{0, 0}))
      << f.err_of(0) << f.err_of(1);
  // Summation order alone moves conv1's bias (a sum over 6,272 terms per step, through
  // LfF's weights) by up to 3e-5 here; per-rank loss averages moved it by 2e-3.
  expect_same_weights(f.dir.path() / "one.pt", f.dir.path() / "two.pt", 1e-4);
  const auto h1 = history_from_json(read_checkpoint_info(f.dir.path() / "one.pt").state.history_json);
  const auto h2 = history_from_json(read_checkpoint_info(f.dir.path() / "two.pt").state.history_json);
  ASSERT_EQ(h1.size(), 1u);
  ASSERT_EQ(h2.size(), 1u);
  for (const auto* key : {"loss", "weight", "gce", "val_accuracy"})
    EXPECT_NEAR(h1[0].value(key), h2[0].value(key), 1e-5) << key;
}

TEST(DistributedCli, ResumeCarriesEpochsAcrossAChangeOfWorldSize) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  DistributedFixture f;
  const auto reference = f.run_here(f.train_args("ref.pt", 8, 2));
  ASSERT_EQ(reference.code, 0) << reference.err;

  // 2 ranks x 4 for epoch 1, then one process x 8 for epoch 2 = one process x 8 throughout.
  ASSERT_EQ(f.run_ranks(2, f.train_args("a.pt", 4, 1)), (std::vector<int>{0, 0})) << f.err_of(0) << f.err_of(1);
  const auto a = f.run_here(f.train_args("a.pt", 8, 2, {"--resume"}));
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_TRUE(contains(a.out, "after 2 epoch(s)")) << a.out;
  expect_same_weights(f.dir.path() / "ref.pt", f.dir.path() / "a.pt");

  // And the other way: one process for epoch 1, two ranks resume (both read the file).
  ASSERT_EQ(f.run_here(f.train_args("b.pt", 8, 1)).code, 0);
  ASSERT_EQ(f.run_ranks(2, f.train_args("b.pt", 4, 2, {"--resume"})), (std::vector<int>{0, 0}))
      << f.err_of(0) << f.err_of(1);
  EXPECT_TRUE(contains(f.out_of(0), "after 2 epoch(s)")) << f.out_of(0);
  expect_same_weights(f.dir.path() / "ref.pt", f.dir.path() / "b.pt");

  // Another global batch: 2 ranks x 4 took 4 steps per epoch, one process x 4 takes 8;
  // epoch 2 starts at step 8 and covers the 32 images once.
  ASSERT_EQ(f.run_ranks(2, f.train_args("c.pt", 4, 1)), (std::vector<int>{0, 0})) << f.err_of(0);
  const auto c = f.run_here(f.train_args("c.pt", 4, 2, {"--resume"}));
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(contains(c.out, "after 2 epoch(s)")) << c.out;
  const auto info = read_checkpoint_info(f.dir.path() / "c.pt");
  const auto history = history_from_json(info.state.history_json);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].step, 4);
  EXPECT_EQ(history[1].step, 16);
  EXPECT_EQ(history[1].epoch, 2);
  EXPECT_EQ(info.state.step, 16);
  const auto extra = nlohmann::json::parse(info.state.extra_json);
  EXPECT_EQ(extra["world_size"], 1);
  EXPECT_EQ(extra["steps_per_epoch"], 8);
  EXPECT_EQ(extra["images"], 64);
}

TEST(DistributedCli, AKilledRankEndsTheOtherWithAnErrorWithinTheTimeout) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  DistributedFixture f;
  auto args = f.train_args("k.pt", 4, 10000, {"--distributed", "--dist-timeout", "10"});
  const int port = test::free_loopback_port();
  const pid_t rank0 = test::spawn_loupe(args, test::rank_environment(0, 2, port), f.log(0));
  const pid_t rank1 = test::spawn_loupe(args, test::rank_environment(1, 2, port), f.log(1));
  // Mid-training: rank 0 has written its first epoch's checkpoint.
  for (int i = 0; i < 6000 && !fs::exists(f.dir.path() / "k.pt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(f.dir.path() / "k.pt")) << f.err_of(0) << f.err_of(1);
  ::kill(rank1, SIGKILL);
  EXPECT_EQ(test::wait_exit(rank1, 30), -2);
  // 10 s is the collective timeout; a dead peer is usually seen at once (its socket closes).
  EXPECT_EQ(test::wait_exit(rank0, 40), 1) << f.err_of(0);
  const auto err = f.err_of(0);
  EXPECT_EQ(err.rfind("loupe: error: distributed training: ", 0), 0u) << err;
  EXPECT_TRUE(contains(err, "failed on rank 0 of 2 (another rank exited, or none answered within --dist-timeout 10 s)"))
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(DistributedCli, WithoutTheRendezvousVariablesItSaysWhichAreMissing) {
  // In this process: the variables are unset for the call and put back after.
  std::map<std::string, std::string> saved;
  for (const char* name : {"MASTER_ADDR", "MASTER_PORT", "RANK", "SLURM_PROCID", "WORLD_SIZE", "SLURM_NTASKS"})
    if (const char* v = std::getenv(name)) saved[name] = v, ::unsetenv(name);
  DistributedFixture f;
  const auto none = f.run_here(f.train_args("x.pt", 4, 1, {"--distributed"}));
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", "http", 1);
  ::setenv("RANK", "0", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  const auto bad_port = f.run_here(f.train_args("x.pt", 4, 1, {"--distributed"}));
  for (const char* name : {"MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"}) ::unsetenv(name);
  for (const auto& [name, value] : saved) ::setenv(name.c_str(), value.c_str(), 1);
  EXPECT_EQ(none.code, 1);
  EXPECT_TRUE(contains(none.err,
                       "MASTER_ADDR, MASTER_PORT, RANK (or SLURM_PROCID), WORLD_SIZE (or SLURM_NTASKS) are "
                       "not set; launch with torchrun, srun"))
      << none.err;
  EXPECT_EQ(bad_port.code, 1);
  EXPECT_TRUE(contains(bad_port.err, "loupe: error: MASTER_PORT 'http': expected a port number")) << bad_port.err;
  EXPECT_FALSE(fs::exists(f.dir.path() / "x.pt"));
}

}  // namespace
}  // namespace loupe
