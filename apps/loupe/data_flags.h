// The dataset flags of `loupe train` and `loupe eval` (--data, --data-dir, --bias,
// --test-offset), declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "loupe/core/option_checks.h"
#include "loupe/data/registry.h"

namespace loupe::cli {

struct DataFlags {
  std::string name;
  std::string dir;
  double bias = 0.95;
  int64_t test_offset = 5;
};

// `required` false: the command has another source of images (eval's --images).
inline CLI::Option* add_data_flags(CLI::App* cmd, DataFlags& d, bool required = true) {
  auto* data =
      cmd->add_option("--data", d.name, "dataset name")->required(required)->check(CLI::IsMember(dataset_names()));
  cmd->add_option("--data-dir", d.dir,
                  "folder with the IDX files (mnist; fashion-mnist defaults to /usr/share/datasets/fashion-mnist) "
                  "or the image-folder root (folder)");
  cmd->add_option("--bias", d.bias, "coloured datasets: fraction of train images in their class colour")
      ->capture_default_str();
  cmd->add_option("--test-offset", d.test_offset, "coloured datasets: test colour of class c is (c+offset) mod 10")
      ->capture_default_str();
  return data;
}

inline void check_data_flags(const DataFlags& d) {
  check_real("--bias", d.bias, 0, 1, "fraction of train images in their class colour");
  check_count("--test-offset", d.test_offset, 0, 9, "class c's test colour is (c + offset) mod 10");
}

inline DataSplits load_data(const DataFlags& d, uint64_t seed) {
  DataRequest r;
  r.name = d.name;
  r.dir = d.dir;
  r.seed = seed;
  r.bias = d.bias;
  r.test_offset = d.test_offset;
  return load_dataset(r);
}

}  // namespace loupe::cli
