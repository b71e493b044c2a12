// Writes a checkpoint as loupe 0.1 did (format 1): header values beside the module's
// state under "model", so that tests can check old files still load.
#pragma once

#include <torch/serialize.h>
#include <torch/torch.h>

#include <map>
#include <sstream>
#include <string>

#include "loupe/core/fs.h"

namespace loupe::test {

inline void save_format1(const fs::path& path, torch::nn::Module& model,
                         const std::map<std::string, c10::IValue>& header) {
  torch::serialize::OutputArchive archive;
  archive.write("loupe_checkpoint", c10::IValue(int64_t{1}));
  for (const auto& [key, value] : header) archive.write(key, value);
  torch::serialize::OutputArchive sub(archive.compilation_unit());
  model.save(sub);
  archive.write("model", sub);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

// The header of a format-1 classifier checkpoint after `epochs` epochs.
inline std::map<std::string, c10::IValue> format1_classifier_header(const std::string& arch, int64_t in_channels,
                                                                    int64_t num_classes, int64_t epochs) {
  return {{"arch", c10::IValue(arch)},
          {"in_channels", c10::IValue(in_channels)},
          {"num_classes", c10::IValue(num_classes)},
          {"step", c10::IValue(epochs)},
          {"extra_json", c10::IValue(std::string("[]"))}};
}

}  // namespace loupe::test
