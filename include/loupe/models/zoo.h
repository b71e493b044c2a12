// The model zoo: a name → factory registry driving the CLI's choices and the tests.
// Parameter and buffer names follow torchvision, so its weights load from
// .safetensors files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/models/taps.h"

namespace loupe {

struct ModelSpec {
  std::string arch;         // a zoo name, e.g. "resnet18_small", or a TorchScript file's path
  int64_t in_channels = 3;  // 1 or 3
  int64_t num_classes = 10;
  int64_t input_size = 0;  // TorchScript: side of the probe forward's image (0 = 224)
};

// Zoo names: "small_cnn", "resnet18" (7x7/2 stem + max-pool), "resnet18_small"
// (3x3/1 stem, no max-pool, for 28x28–64x64 inputs), "resnet50", "resnet50_small".
std::vector<std::string> model_names();
// Unknown names are a loupe::Error listing the valid ones; in_channels must be 1 or 3
// and num_classes at least 2. An arch that is a TorchScript file (models/torchscript.h)
// loads it, with the file's weights, checking the channels and classes.
std::shared_ptr<TappedModel> make_model(const ModelSpec& spec);

// Loads torchvision-named weights from a .safetensors file into the model. Missing
// or unexpected names and shape mismatches are errors naming the file and tensor.
void load_torchvision_weights(TappedModel& model, const fs::path& path);
// Puts every 4-D parameter and buffer (convolution weights) in channels-last memory
// format (or back to contiguous): LibTorch's oneDNN convolutions then run in NHWC, 1.3-1.5x
// faster on AVX-512 CPUs (ResNet-18/50 at 224, fp32; 2.5-3.3x with bf16 autocast). The
// values are unchanged; outputs differ in the last bits (another summation order).
void set_channels_last(torch::nn::Module& model, bool channels_last = true);

// Writes the model's parameters and buffers under their torchvision names.
void save_torchvision_weights(TappedModel& model, const fs::path& path);

}  // namespace loupe
