// Helpers for the CLI tests: run `loupe ARGS...` in-process with stdout and stderr
// captured, and write a random small-CNN checkpoint with two images to attack or explain.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "format_builders.h"
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

// An MNIST-like IDX pair {prefix}-images-idx3-ubyte / -labels-idx1-ubyte of n 28x28 images:
// class i % 10 is a bright 8x8 square at its own place on a noisy background (seeded).
inline void write_shape_digits(const fs::path& dir, const std::string& prefix, uint32_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto images = torch::randint(0, 40, {n, 28, 28}, gen, torch::kLong);
  std::vector<uint8_t> labels(n);
  for (uint32_t i = 0; i < n; ++i) {
    const int64_t c = i % 10, top = 2 + (c / 4) * 8, left = 2 + (c % 4) * 6;
    images[i].narrow(0, top, 8).narrow(1, left, 8).fill_(220);
    labels[i] = static_cast<uint8_t>(c);
  }
  const auto bytes = images.to(torch::kUInt8).contiguous();
  const std::vector<uint8_t> pixels(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  write_file_atomic(dir / (prefix + "-images-idx3-ubyte"), test::idx_bytes({n, 28, 28}, pixels));
  write_file_atomic(dir / (prefix + "-labels-idx1-ubyte"), test::idx_bytes({n}, labels));
}

}  // namespace loupe::test
