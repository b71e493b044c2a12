// Where a classifier comes from, as every command that audits one accepts it: a loupe
// checkpoint (loupe train), a zoo architecture with torchvision-named weights, or the
// user's own TorchScript file (models/torchscript.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "loupe/core/fs.h"
#include "loupe/models/taps.h"
#include "loupe/models/zoo.h"

namespace loupe {

struct ClassifierSource {
  fs::path checkpoint;       // a loupe checkpoint; or:
  std::string model;         // a zoo architecture (with `weights`) or a TorchScript file
  fs::path weights;          // torchvision-named .safetensors of a zoo architecture
  int64_t num_classes = 0;   // zoo: 0 = 1000; TorchScript: 0 = from a probe forward (else checked)
  int64_t in_channels = 0;   // zoo: 0 = 3; TorchScript: 0 = from its first convolution
  int64_t probe_size = 224;  // TorchScript: side of the probe forward's zero image
};

struct LoadedClassifier {
  std::shared_ptr<TappedModel> model;  // on the CPU, in eval mode
  ModelSpec spec;                      // arch: the zoo name, or the TorchScript file's path
};

// Errors name the flag (--checkpoint, --model, --weights) and what was expected: both
// or neither of checkpoint and model, a model that is neither a zoo name nor a file, a
// TorchScript file given as a checkpoint or the other way round.
LoadedClassifier load_classifier(const ClassifierSource& source);

// True for a zoo architecture name.
bool is_zoo_model(const std::string& name);

}  // namespace loupe
