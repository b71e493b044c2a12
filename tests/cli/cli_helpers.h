// Helpers for the CLI tests: run `loupe ARGS...` in-process with stdout and stderr
// captured, and write a random small-CNN checkpoint with two images to attack or explain.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "loupe/cli.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/zoo.h"

namespace loupe::test {

struct CliRun {
  int code;
  std::string out, err;
};

// `loupe command args...`.
inline CliRun run_command(const std::string& command, std::vector<std::string> args) {
  args.insert(args.begin(), command);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = cli::run_cli(args);
  return {code, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
}

// dir/m.pt: an untrained small CNN (3 channels, 10 classes, seed 0); dir/imgs/{a,b}.png:
// random 28x28 RGB images.
inline void write_small_cnn_and_images(const fs::path& dir) {
  torch::manual_seed(0);
  const ModelSpec spec{"small_cnn", 3, 10};
  auto model = make_model(spec);
  save_checkpoint(dir / "m.pt", {{kClassifierModule, model.get(), spec_json(spec)}}, {}, {});
  fs::create_directories(dir / "imgs");
  write_png(dir / "imgs" / "a.png", torch::rand({3, 28, 28}));
  write_png(dir / "imgs" / "b.png", torch::rand({3, 28, 28}));
}

}  // namespace loupe::test
