#include "loupe/core/shard.h"

#include <cstdlib>
#include <regex>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// A non-negative decimal integer that fits in int64, or nothing.
std::optional<int64_t> parse_index(const std::string& text) {
  static const std::regex digits("[0-9]{1,18}");
  if (!std::regex_match(text, digits)) return std::nullopt;
  return std::stoll(text);
}

int64_t environment_index(const EnvironmentLookup& environment, const std::string& name) {
  const auto value = environment(name);
  LOUPE_CHECK(value.has_value(), "sharding: ", name, " is not set, but the other array variables are");
  const auto index = parse_index(*value);
  LOUPE_CHECK(index.has_value(), "sharding: ", name, "='", *value, "': expected a non-negative integer");
  return *index;
}

}  // namespace

Shard parse_shard(const std::string& text, const std::string& option) {
  const auto slash = text.find('/');
  const auto k = slash == std::string::npos ? std::nullopt : parse_index(text.substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : parse_index(text.substr(slash + 1));
  LOUPE_CHECK(k && n && *n >= 1 && *k < *n, option, " '", text,
              "': expected K/N with 0 <= K < N (shard K of N, counted from 0), e.g. 0/4");
  return Shard{*k, *n};
}

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Shard resolve_shard(const std::optional<std::string>& spec, std::optional<int64_t> indexed_job_count,
                    const EnvironmentLookup& environment) {
  if (spec) return parse_shard(*spec);
  if (environment("SLURM_ARRAY_TASK_ID")) {
    const int64_t id = environment_index(environment, "SLURM_ARRAY_TASK_ID");
    const int64_t count = environment_index(environment, "SLURM_ARRAY_TASK_COUNT");
    LOUPE_CHECK(!environment("SLURM_ARRAY_TASK_STEP") || environment_index(environment, "SLURM_ARRAY_TASK_STEP") == 1,
                "sharding: SLURM_ARRAY_TASK_STEP=", environment("SLURM_ARRAY_TASK_STEP").value_or(""),
                ": expected a contiguous array (--array=A-B without a step), or pass --shard K/N");
    // Arrays may start anywhere (--array=1-4); the first task is shard 0.
    const int64_t min =
        environment("SLURM_ARRAY_TASK_MIN") ? environment_index(environment, "SLURM_ARRAY_TASK_MIN") : 0;
    LOUPE_CHECK(count >= 1 && id >= min && id - min < count, "sharding: SLURM_ARRAY_TASK_ID=", id,
                " SLURM_ARRAY_TASK_MIN=", min, " SLURM_ARRAY_TASK_COUNT=", count,
                ": expected a contiguous array (--array=A-B without a step), or pass --shard K/N");
    return Shard{id - min, count};
  }
  if (environment("JOB_COMPLETION_INDEX")) {
    const int64_t index = environment_index(environment, "JOB_COMPLETION_INDEX");
    LOUPE_CHECK(
        indexed_job_count.has_value(), "sharding: JOB_COMPLETION_INDEX=", index,
        " is set (a Kubernetes Indexed Job): also give the number of shards, the job's completions (--shards N)");
    LOUPE_CHECK(*indexed_job_count >= 1 && index < *indexed_job_count, "sharding: JOB_COMPLETION_INDEX=", index,
                ": expected an index below the ", *indexed_job_count, " shards");
    return Shard{index, *indexed_job_count};
  }
  return Shard{};
}

std::vector<int64_t> shard_positions(const Shard& shard, int64_t total) {
  LOUPE_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "shard ", shard.str(),
              ": expected K/N with 0 <= K < N");
  std::vector<int64_t> out;
  for (int64_t i = shard.index; i < total; i += shard.count) out.push_back(i);
  return out;
}

}  // namespace loupe
