// Options every command shares (device, seed, output), declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "loupe/core/device.h"
#include "loupe/core/fs.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

struct CommonFlags {
  std::string device = "auto";
  uint64_t seed = 0;
  std::string out;
};

inline void add_common_flags(CLI::App* cmd, CommonFlags& flags, const std::string& out_help) {
  cmd->add_option("--device", flags.device, "auto (CUDA when present), cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--seed", flags.seed, "random seed (data splits, colours, initialisation, shuffling)")
      ->capture_default_str();
  cmd->add_option("--out", flags.out, out_help)->capture_default_str();
}

// The StudyCommon a study subcommand's flags describe (device resolved); seeds everything.
inline StudyCommon study_common(const CommonFlags& flags, const std::string& preset) {
  StudyCommon common;
  common.preset = preset;
  common.device = resolve_device(flags.device);
  common.seed = flags.seed;
  common.out = flags.out;
  seed_everything(flags.seed);
  return common;
}

}  // namespace loupe::cli
