#include "loupe/models/zoo.h"

#include <functional>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/models/resnet.h"
#include "loupe/models/small_cnn.h"
#include "loupe/models/torchscript.h"

namespace loupe {
namespace {

using Factory = std::function<std::shared_ptr<TappedModel>(const ModelSpec&)>;

// The one list of architectures: the CLI's --model choices and the tests loop over it.
const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> table = {
      {"small_cnn", [](const ModelSpec& s) { return SmallCnn(s.in_channels, s.num_classes).ptr(); }},
      {"resnet18", [](const ModelSpec& s) { return resnet18(s.in_channels, s.num_classes, false).ptr(); }},
      {"resnet18_small", [](const ModelSpec& s) { return resnet18(s.in_channels, s.num_classes, true).ptr(); }},
      {"resnet50", [](const ModelSpec& s) { return resnet50(s.in_channels, s.num_classes, false).ptr(); }},
      {"resnet50_small", [](const ModelSpec& s) { return resnet50(s.in_channels, s.num_classes, true).ptr(); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::shared_ptr<TappedModel> make_model(const ModelSpec& spec) {
  ensure_initialised();
  const Factory* factory = nullptr;
  for (const auto& entry : registry())
    if (entry.first == spec.arch) factory = &entry.second;
  std::error_code ec;
  if (!factory && fs::is_regular_file(spec.arch, ec))  // a TorchScript file; its loader names what is wrong
    return load_torchscript_model(spec.arch, nullptr,
                                  {spec.in_channels, spec.num_classes, spec.input_size ? spec.input_size : 224});
  if (!factory)
    fail("unknown model architecture '", spec.arch, "'; valid names: ", join_names(model_names()),
         ", or a TorchScript file");
  LOUPE_CHECK(spec.in_channels == 1 || spec.in_channels == 3, "model ", spec.arch, ": in_channels ", spec.in_channels,
              " is not supported; expected 1 (grey) or 3 (RGB)");
  LOUPE_CHECK(spec.num_classes >= 2, "model ", spec.arch, ": num_classes ", spec.num_classes,
              " is too few; a classifier needs at least 2");
  return (*factory)(spec);
}

void set_channels_last(torch::nn::Module& model, bool channels_last) {
  torch::NoGradGuard no_grad;
  const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto& t : model.parameters())
    if (t.dim() == 4) t.set_data(t.contiguous(format));
  for (auto& t : model.buffers())
    if (t.dim() == 4) t.set_data(t.contiguous(format));
}

}  // namespace loupe
