#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "error_matchers.h"
#include "loupe/core/device.h"
#include "loupe/models/vae.h"
#include "loupe/train/distributed.h"
#include "loupe/train/objective.h"
#include "loupe/train/vae_trainer.h"
#include "test_util.h"
#include "train/distributed_processes.h"

namespace loupe {
using test::contains;
using test::error_of;
namespace {

TEST(DistributedSampler, SharesAreEqualInLengthDisjointAndCoverTheEpoch) {
  for (const int64_t n : {1, 7, 12, 13, 31})
    for (const int world : {1, 2, 3, 5}) {
      const auto order = torch::randperm(n, make_generator(static_cast<uint64_t>(n)), torch::kLong);
      const int64_t per_rank = (n + world - 1) / world, padding = per_rank * world - n;
      std::multiset<int64_t> drawn;
      for (int r = 0; r < world; ++r) {
        const auto share = distributed_share(order, r, world);
        ASSERT_EQ(share.size(0), per_rank) << "n " << n << " world " << world << " rank " << r;
        // torch's DistributedSampler: positions r, r + W, ... of the order padded with its start.
        for (int64_t k = 0; k < per_rank; ++k) {
          EXPECT_EQ(share[k].item<int64_t>(), order[(r + k * world) % n].item<int64_t>());
          drawn.insert(share[k].item<int64_t>());
        }
      }
      // Every image once; the padding repeats the order's start.
      for (int64_t p = 0; p < n; ++p) {
        const size_t repeats = padding > p ? static_cast<size_t>((padding - 1 - p) / n + 1) : 0;
        EXPECT_EQ(drawn.count(order[p].item<int64_t>()), 1 + repeats) << "n " << n << " world " << world;
      }
    }
  EXPECT_TRUE(torch::equal(distributed_share(torch::arange(5), 0, 1), torch::arange(5)));
  EXPECT_LOUPE_ERROR(distributed_share(torch::arange(5), 2, 2), "rank 2 of 2");
}

TEST(DistributedRendezvous, ReadsTorchrunsVariablesAndSlurmsInTheirPlace) {
  const auto torchrun = rendezvous_from(
      {{"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29500"}, {"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}});
  EXPECT_EQ(torchrun.endpoint(), "node7:29500");
  EXPECT_EQ(torchrun.rank, 3);
  EXPECT_EQ(torchrun.world_size, 8);
  EXPECT_EQ(torchrun.local_rank, 1);
  const auto slurm = rendezvous_from({{"MASTER_ADDR", "n1"},
                                      {"MASTER_PORT", "1234"},
                                      {"SLURM_PROCID", "5"},
                                      {"SLURM_NTASKS", "6"},
                                      {"SLURM_LOCALID", "2"}});
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.world_size, 6);
  EXPECT_EQ(slurm.local_rank, 2);
  // torchrun's variables win over Slurm's; LOCAL_RANK defaults to 0.
  const auto both = rendezvous_from(
      {{"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}, {"RANK", "0"}, {"SLURM_PROCID", "5"}, {"WORLD_SIZE", "2"}});
  EXPECT_EQ(both.rank, 0);
  EXPECT_EQ(both.local_rank, 0);
}

TEST(DistributedRendezvous, MissingOrMalformedVariablesAreNamed) {
  const std::map<std::string, std::string> good = {
      {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}, {"RANK", "1"}, {"WORLD_SIZE", "2"}};
  const auto with = [&](const std::string& name, const std::string& value) {
    auto env = good;
    env[name] = value;
    return error_of([&] { rendezvous_from(env); });
  };
  const auto without = [&](const std::string& name) {
    auto env = good;
    env.erase(name);
    return error_of([&] { rendezvous_from(env); });
  };
  const auto none = error_of([] { rendezvous_from({}); });
  EXPECT_TRUE(
      contains(none, "MASTER_ADDR, MASTER_PORT, RANK (or SLURM_PROCID), WORLD_SIZE (or SLURM_NTASKS) are not set"))
      << none;
  EXPECT_TRUE(contains(without("MASTER_PORT"), "MASTER_PORT is not set")) << without("MASTER_PORT");
  EXPECT_TRUE(contains(without("RANK"), "RANK (or SLURM_PROCID) is not set")) << without("RANK");
  EXPECT_TRUE(contains(with("MASTER_PORT", "abc"), "MASTER_PORT 'abc': expected a port number in 1..65535"));
  EXPECT_TRUE(contains(with("MASTER_PORT", "70000"), "MASTER_PORT '70000'"));
  EXPECT_TRUE(contains(with("RANK", "2"), "RANK '2': expected a whole number in [0, WORLD_SIZE 2)"))
      << with("RANK", "2");
  EXPECT_TRUE(contains(with("RANK", "1x"), "RANK '1x'"));
  EXPECT_TRUE(contains(with("WORLD_SIZE", "0"), "WORLD_SIZE '0': expected a whole number of ranks >= 1"));
  EXPECT_TRUE(contains(with("LOCAL_RANK", "-1"), "LOCAL_RANK '-1'"));
  EXPECT_TRUE(contains(with("MASTER_ADDR", ""), "MASTER_ADDR is empty"));
  auto slurm = good;
  slurm.erase("RANK");
  slurm["SLURM_PROCID"] = "one";
  EXPECT_TRUE(contains(error_of([&] { rendezvous_from(slurm); }), "SLURM_PROCID 'one'"));
}

// Runs f on ranks 0 and 1 of a group on loopback, each in a thread of this process;
// returns what each threw ("" = nothing).
std::vector<std::string> on_two_ranks(const std::function<void(ProcessGroup&)>& f) {
  const int port = test::free_loopback_port();
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        ProcessGroup group({"127.0.0.1", port, r, 2, r}, torch::kCPU, std::chrono::seconds(30));
        f(group);
        group.barrier();
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

TEST(DistributedGroup, TwoRanksAverageGradientsBucketByBucket) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  // 7M floats (28 MB) is a bucket of its own; the double parameter another; a gradient on
  // rank 1 only is averaged with rank 0's zeros; one on neither rank stays undefined.
  const int64_t big = 7'000'000;
  const auto local_grads = [](int r) {
    auto gen = make_generator(10 + static_cast<uint64_t>(r));
    return std::vector<torch::Tensor>{torch::randn({10}, gen),   torch::full({big}, r + 1.0f),
                                      torch::randn({3, 4}, gen), torch::randn({5}, gen),
                                      torch::Tensor(),           torch::randn({3}, gen, torch::kDouble)};
  };
  const auto g0 = local_grads(0), g1 = local_grads(1);
  const auto errors = on_two_ranks([&](ProcessGroup& group) {
    const int r = group.rank();
    std::vector<torch::Tensor> params;
    for (const auto& g : g0)
      params.push_back(
          torch::zeros(g.defined() ? g.sizes() : c10::IntArrayRef{2}, g.defined() ? g.options() : torch::kFloat)
              .requires_grad_());
    const auto& mine = r == 0 ? g0 : g1;
    for (size_t i = 0; i < params.size(); ++i)
      if (mine[i].defined() && !(i == 3 && r == 0)) params[i].mutable_grad() = mine[i].clone();
    group.average_gradients(params);
    for (const size_t i : {0, 1, 2, 5})
      EXPECT_TRUE(torch::allclose(params[i].grad(), (g0[i] + g1[i]) / 2, 1e-6, 1e-7)) << "rank " << r << " param " << i;
    EXPECT_TRUE(torch::allclose(params[3].grad(), g1[3] / 2)) << "rank " << r;
    EXPECT_FALSE(params[4].grad().defined());
  });
  EXPECT_EQ(errors, std::vector<std::string>(2));
}

TEST(DistributedGroup, BroadcastGatherSumAndOneOptimisersStep) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  const auto errors = on_two_ranks([](ProcessGroup& group) {
    const int r = group.rank();
    auto weights = torch::full({4}, r + 1.0f), counts = torch::full({2}, int64_t{10} * (r + 1));
    group.broadcast({weights, counts});
    EXPECT_TRUE(torch::equal(weights, torch::full({4}, 1.0f))) << "rank " << r;
    EXPECT_TRUE(torch::equal(counts, torch::full({2}, int64_t{10}))) << "rank " << r;
    const auto gathered = group.all_gather(torch::tensor(std::vector<int64_t>{10 * r, 10 * r + 1}));
    EXPECT_TRUE(torch::equal(gathered, torch::tensor(std::vector<int64_t>{0, 1, 10, 11}))) << "rank " << r;
    auto sum = torch::tensor({r + 1.0});
    group.all_reduce_sum(sum);
    EXPECT_EQ(sum.item<double>(), 3.0);

    // step("a") averages and steps a's parameters only; step() then does b's.
    auto a = torch::zeros({2}).requires_grad_(), b = torch::zeros({2}).requires_grad_();
    torch::optim::SGD opt_a({a}, torch::optim::SGDOptions(1)), opt_b({b}, torch::optim::SGDOptions(1));
    a.mutable_grad() = torch::full({2}, 2.0f * (r + 1));  // mean 3
    b.mutable_grad() = torch::full({2}, 4.0f * (r + 1));  // mean 6
    Optimizers optimizers;
    optimizers.add("a", &opt_a);
    optimizers.add("b", &opt_b);
    optimizers.set_group(&group);
    optimizers.step("a");
    EXPECT_TRUE(torch::equal(a, torch::full({2}, -3.0f))) << "rank " << r;
    EXPECT_TRUE(torch::equal(b, torch::zeros({2})));
    EXPECT_TRUE(torch::equal(b.grad(), torch::full({2}, 4.0f * (r + 1))));
    a.mutable_grad().zero_();
    optimizers.step();
    EXPECT_TRUE(torch::equal(b, torch::full({2}, -6.0f))) << "rank " << r;
  });
  EXPECT_EQ(errors, std::vector<std::string>(2));
}

TEST(DistributedGroup, AStoreNobodyServesOrRanksThatNeverComeFailWithinTheTimeout) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  const int port = test::free_loopback_port();
  const auto start = std::chrono::steady_clock::now();
  const auto unreachable = error_of([&] {
    ProcessGroup({"127.0.0.1", port, 1, 2, 0}, torch::kCPU, std::chrono::seconds(1));
  });
  EXPECT_TRUE(contains(unreachable, "rank 1 could not reach the rendezvous at MASTER_ADDR:MASTER_PORT 127.0.0.1:" +
                                        std::to_string(port) + " within --dist-timeout 1 s"))
      << unreachable;
  const auto alone = error_of([&] {
    ProcessGroup({"127.0.0.1", port, 0, 2, 0}, torch::kCPU, std::chrono::seconds(1));
  });
  EXPECT_TRUE(contains(alone, "rank 0 of 2 could not connect to the other ranks within --dist-timeout 1 s")) << alone;
  // An upper bound only: both gave up after about their timeout, not c10d's default 30 min.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30);
  EXPECT_LOUPE_ERROR(ProcessGroup({"127.0.0.1", port, 0, 2, 0}, torch::kCPU, std::chrono::milliseconds(0)),
                     "expected a positive time");
}

TEST(DistributedGroup, CudaIsRefusedWithoutNccl) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  EXPECT_LOUPE_ERROR(ProcessGroup({"127.0.0.1", 1, 0, 1, 0}, torch::Device(torch::kCUDA, 0), std::chrono::seconds(1)),
                     "needs c10d's NCCL backend");
}

}  // namespace
}  // namespace loupe

namespace loupe {
namespace {

// The VAE trainer on the shared loop: two ranks that start from different weights end
// with identical ones (broadcast at the start, averaged gradients at every step) that
// moved away from rank 0's start. Exact equality with one process does not hold for a
// VAE (each rank draws its own reparameterisation noise and beta-TCVAE estimates its
// total correlation within the rank's batch); staying in step is what must hold.
TEST(DistributedGroup, VaeTrainerRanksStayInStep) {
  if (!distributed_available()) GTEST_SKIP() << "built without c10d's Gloo";
  auto gen = make_generator(4);
  const TensorDataset data(torch::randint(0, 256, {16, 1, 64, 64}, gen, torch::kLong).to(torch::kByte),
                           torch::zeros({16}, torch::kLong), {"x"});
  std::vector<torch::Tensor> start(2), trained(2);
  const auto errors = on_two_ranks([&](ProcessGroup& group) {
    const int r = group.rank();
    torch::NoGradGuard no_grad_for_init;
    Vae vae(VaeSpec().set_channels(1).set_latents(3));
    for (auto& p : vae->parameters()) p.add_(static_cast<double>(r));  // different starts
    start[static_cast<size_t>(r)] = torch::nn::utils::parameters_to_vector(vae->parameters()).clone();
    TrainOptions o;
    o.set_max_steps(3).set_batch_size(4).set_seed(0).set_label("vae rank " + std::to_string(r));
    o.set_group(std::shared_ptr<ProcessGroup>(&group, [](ProcessGroup*) {}));
    {
      at::AutoGradMode grad(true);
      train_vae(*vae, data, VaeObjectiveOptions(), o, torch::kCPU);
    }
    trained[static_cast<size_t>(r)] = torch::nn::utils::parameters_to_vector(vae->parameters()).clone();
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_FALSE(torch::equal(start[0], start[1]));
  EXPECT_TRUE(torch::equal(trained[0], trained[1]));
  EXPECT_GT((trained[0] - start[0]).abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace loupe
