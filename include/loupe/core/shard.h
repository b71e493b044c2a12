// Sharding an audit over a job array: shard K of N takes the items i with i mod N == K of
// a deterministically ordered list, so N shards cover the list exactly once whatever
// machine runs each. K and N come from "--shard K/N" or, when it is absent, from the
// scheduler's environment: Slurm array jobs (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of
// SLURM_ARRAY_TASK_COUNT) or Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX, with N given,
// as the job's completions).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace loupe {

struct Shard {
  int64_t index = 0;  // K, 0-based
  int64_t count = 1;  // N
  bool whole() const { return count == 1; }
  std::string str() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "K/N" with 0 <= K < N; anything else is a loupe::Error naming `option` and the text.
Shard parse_shard(const std::string& text, const std::string& option = "--shard");

// Reads a variable of the environment; the default reads the process's (std::getenv).
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvironmentLookup process_environment();

// `spec` if given; else Slurm's array variables; else JOB_COMPLETION_INDEX of
// `indexed_job_count` (required then); else the whole list (0/1). Inconsistent variables
// are errors naming them.
Shard resolve_shard(const std::optional<std::string>& spec, std::optional<int64_t> indexed_job_count = std::nullopt,
                    const EnvironmentLookup& environment = process_environment());

// The positions in [0, total) that shard `shard` takes, in order.
std::vector<int64_t> shard_positions(const Shard& shard, int64_t total);

// The items of `items` that the shard takes, in order.
template <class T>
std::vector<T> shard_items(const Shard& shard, const std::vector<T>& items) {
  std::vector<T> out;
  for (const auto i : shard_positions(shard, static_cast<int64_t>(items.size())))
    out.push_back(items[static_cast<size_t>(i)]);
  return out;
}

}  // namespace loupe
