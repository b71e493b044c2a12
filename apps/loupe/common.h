// Options every command shares (device, seed, output), declared once.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "loupe/core/device.h"
#include "loupe/core/fs.h"

namespace loupe::cli {

struct CommonFlags {
  std::string device = "auto";
  uint64_t seed = 0;
  std::string out;
};

inline void add_common_flags(CLI::App* cmd, CommonFlags& flags, const std::string& out_help) {
  cmd->add_option("--device", flags.device, "auto (CUDA when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  cmd->add_option("--seed", flags.seed, "random seed (data splits, colours, initialisation, shuffling)")
      ->capture_default_str();
  cmd->add_option("--out", flags.out, out_help)->capture_default_str();
}

}  // namespace loupe::cli
