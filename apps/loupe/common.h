// Options every command shares (device, seed, output), declared once.
#pragma once

#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

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

// The StudyCommon a study command's flags describe; seeds every generator first.
inline StudyCommon study_common(const CommonFlags& flags, const std::string& preset) {
  seed_everything(flags.seed);
  return {preset, resolve_device(flags.device), flags.seed, flags.out};
}

inline void print_report_path(const CommonFlags& flags) {
  std::cout << "report: " << (fs::path(flags.out) / "report.html").string() << "\n";
}

}  // namespace loupe::cli
