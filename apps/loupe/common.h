// Options every command shares (device, seed, output), declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/core/option_checks.h"
#include "loupe/models/classifier_source.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

struct CommonFlags {
  std::string device = "auto";
  int64_t seed = 0;  // signed, so that "--seed -1" is caught rather than wrapped to 2^64-1
  std::string out;
};

// An empty --out would write into the current folder: a usage error, like a missing value.
inline CLI::Validator non_empty_path() {
  return CLI::Validator(
      [](std::string& value) { return value.empty() ? std::string("empty path; expected a file or folder name") : ""; },
      "PATH");
}

inline void add_common_flags(CLI::App* cmd, CommonFlags& flags, const std::string& out_help) {
  cmd->add_option("--device", flags.device, "auto (CUDA when present), cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--seed", flags.seed, "random seed >= 0 (data splits, colours, initialisation, shuffling)")
      ->capture_default_str();
  cmd->add_option("--out", flags.out, out_help)->check(non_empty_path())->capture_default_str();
}

// Range checks of the shared flags; every command calls this first.
inline void check_common_flags(const CommonFlags& flags) { check_count("--seed", flags.seed, 0, kNoLimit); }

// The StudyCommon a study command's flags describe; checks them and seeds every generator.
inline StudyCommon study_common(const CommonFlags& flags, const std::string& preset) {
  check_common_flags(flags);
  seed_everything(static_cast<uint64_t>(flags.seed));
  return {parse_preset(preset, "--preset"), resolve_device(flags.device), static_cast<uint64_t>(flags.seed), flags.out};
}

// --base, --data, --bias and --test-offset of the shortcut studies (bias, robustness).
inline void add_shortcut_data_flags(CLI::App* cmd, std::string& base, std::string& data_dir, double& bias,
                                    int64_t& test_offset) {
  cmd->add_option("--base", base, "fashion-mnist or mnist")
      ->check(CLI::IsMember({"fashion-mnist", "mnist"}))
      ->capture_default_str();
  cmd->add_option("--data", data_dir,
                  "folder with the IDX files (required for mnist; FashionMNIST defaults to "
                  "/usr/share/datasets/fashion-mnist)");
  cmd->add_option("--bias", bias, "fraction of train/validation images in their class colour")->capture_default_str();
  cmd->add_option("--test-offset", test_offset, "test colour of class c is (c + offset) mod 10")->capture_default_str();
}

// --model: a zoo architecture or an existing file (a TorchScript model).
inline CLI::Validator zoo_or_torchscript() {
  return CLI::Validator(
      [](std::string& value) {
        std::error_code ec;
        if (is_zoo_model(value) || fs::is_regular_file(value, ec)) return std::string();
        return "'" + value + "' is neither a zoo architecture (" + join_names(model_names()) +
               ") nor an existing TorchScript file";
      },
      "ARCH|FILE.pt");
}

// The classifier a command audits: --checkpoint, or --model (zoo + --weights, or a
// TorchScript file) with --num-classes and --in-channels.
inline void add_classifier_flags(CLI::App* cmd, ClassifierSource& s) {
  cmd->add_option("--checkpoint", s.checkpoint, "a classifier checkpoint written by loupe train");
  cmd->add_option("--model", s.model,
                  "a zoo architecture (with --weights) or a TorchScript file (torch.jit.save; taps are its "
                  "submodules, e.g. layer4)")
      ->check(zoo_or_torchscript());
  cmd->add_option("--weights", s.weights, "torchvision-named weights (.safetensors) of a zoo --model");
  cmd->add_option("--num-classes", s.num_classes,
                  "classes of --model (zoo default 1000; TorchScript: read from a probe forward)");
  cmd->add_option("--in-channels", s.in_channels,
                  "input channels of --model (zoo default 3; TorchScript: read from its first convolution)");
}

// The side a TorchScript model's probe forward uses for images resized to `size` (0 =
// kept): `size`, or the first image's height.
inline int64_t probe_side(int64_t size, const std::vector<fs::path>& files) {
  if (size != 0 || files.empty()) return size != 0 ? size : 224;
  return read_image(files.front()).size(1);
}

inline void check_classifier_flags(const ClassifierSource& s) {
  check_count("--num-classes", s.num_classes, 0, 100000, "0 = the model's own");
  check_count("--in-channels", s.in_channels, 0, 4, "0 = the model's own");
}

inline void print_report_path(const CommonFlags& flags) {
  std::cout << "report: " << (fs::path(flags.out) / "report.html").string() << "\n";
}

}  // namespace loupe::cli
