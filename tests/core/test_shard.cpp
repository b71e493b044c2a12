#include <gtest/gtest.h>

#include <map>
#include <set>

#include "error_matchers.h"
#include "loupe/core/shard.h"

namespace loupe {
namespace {

EnvironmentLookup fake_environment(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Shard, ParsesKOfN) {
  const auto s = parse_shard("2/5");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_EQ(s.str(), "2/5");
  EXPECT_TRUE(parse_shard("0/1").whole());
  for (const auto* bad : {"5/4", "4/4", "-1/4", "1/0", "1", "a/b", "1/4/2", "", "1 /4", "/4", "1/"})
    EXPECT_LOUPE_ERROR(parse_shard(bad), std::string("--shard '") + bad + "': expected K/N with 0 <= K < N");
}

// N shards take every position exactly once, round robin, whatever N is against the total.
TEST(Shard, ShardsCoverTheListExactlyOnce) {
  for (const int64_t total : {0, 1, 7, 10}) {
    for (const int64_t n : {1, 3, 4, 12}) {
      std::multiset<int64_t> seen;
      for (int64_t k = 0; k < n; ++k)
        for (const auto i : shard_positions({k, n}, total)) seen.insert(i);
      ASSERT_EQ(static_cast<int64_t>(seen.size()), total);
      for (int64_t i = 0; i < total; ++i) EXPECT_EQ(seen.count(i), 1u) << i << " of " << total << ", N " << n;
    }
  }
  EXPECT_EQ(shard_positions({1, 3}, 8), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(shard_items<std::string>({2, 3}, {"a", "b", "c", "d", "e", "f"}), (std::vector<std::string>{"c", "f"}));
}

TEST(Shard, FromSlurmAndKubernetesEnvironments) {
  // No variables: the whole list; an explicit spec wins over the environment.
  EXPECT_TRUE(resolve_shard(std::nullopt, std::nullopt, fake_environment({})).whole());
  const auto slurm = fake_environment({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  EXPECT_EQ(resolve_shard(std::nullopt, std::nullopt, slurm).str(), "3/4");
  EXPECT_EQ(resolve_shard(std::string("1/2"), std::nullopt, slurm).str(), "1/2");
  // --array=1-4: task 1 is shard 0.
  const auto from_one =
      fake_environment({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  EXPECT_EQ(resolve_shard(std::nullopt, std::nullopt, from_one).str(), "0/4");
  const auto k8s = fake_environment({{"JOB_COMPLETION_INDEX", "2"}});
  EXPECT_EQ(resolve_shard(std::nullopt, 3, k8s).str(), "2/3");

  EXPECT_LOUPE_ERROR(resolve_shard(std::nullopt, std::nullopt, k8s), "also give the number of shards");
  EXPECT_LOUPE_ERROR(resolve_shard(std::nullopt, 2, k8s), "JOB_COMPLETION_INDEX=2: expected an index below the 2");
  EXPECT_LOUPE_ERROR(resolve_shard(std::nullopt, std::nullopt, fake_environment({{"SLURM_ARRAY_TASK_ID", "1"}})),
                     "SLURM_ARRAY_TASK_COUNT is not set");
  EXPECT_LOUPE_ERROR(resolve_shard(std::nullopt, std::nullopt,
                                   fake_environment({{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "4"}})),
                     "SLURM_ARRAY_TASK_ID='x': expected a non-negative integer");
  EXPECT_LOUPE_ERROR(resolve_shard(std::nullopt, std::nullopt,
                                   fake_environment({{"SLURM_ARRAY_TASK_ID", "6"},
                                                     {"SLURM_ARRAY_TASK_COUNT", "4"},
                                                     {"SLURM_ARRAY_TASK_STEP", "2"}})),
                     "SLURM_ARRAY_TASK_STEP=2");
  EXPECT_LOUPE_ERROR(resolve_shard(std::nullopt, std::nullopt,
                                   fake_environment({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}})),
                     "expected a contiguous array");
}

}  // namespace
}  // namespace loupe
