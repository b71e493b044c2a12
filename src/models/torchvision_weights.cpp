// torchvision state_dict names are the dotted module paths LibTorch also produces
// ("layer1.0.conv1.weight"), so import is a name-by-name copy with strict checks.
#include <torch/torch.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "loupe/core/error.h"
#include "loupe/models/safetensors.h"
#include "loupe/models/zoo.h"

namespace loupe {
namespace {

// Parameters, then buffers; undefined tensors (optional, unregistered state) skipped.
std::map<std::string, torch::Tensor> state_of(TappedModel& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model.named_parameters(true))
    if (item.value().defined()) out[item.key()] = item.value();
  for (const auto& item : model.named_buffers(true))
    if (item.value().defined()) out[item.key()] = item.value();
  return out;
}

std::string first_names(const std::vector<std::string>& names) {
  constexpr size_t kShown = 5;
  std::string s;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kShown) s += ", ... (" + std::to_string(names.size() - kShown) + " more)";
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void load_torchvision_weights(TappedModel& model, const fs::path& path) {
  const SafeTensors st = read_safetensors(path);
  auto state = state_of(model);
  std::string arch_note;
  if (auto it = st.metadata.find("arch"); it != st.metadata.end() && it->second != model.arch())
    arch_note = " (the file was saved from a " + it->second + ", this model is a " + model.arch() + ")";

  // Everything is checked before anything is copied, so a failed load leaves the model as it was.
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, t] : state) {
    auto it = st.tensors.find(name);
    // torchvision's older files and some converters omit this BatchNorm step counter;
    // it only matters for momentum=None, so the model's own value is kept.
    if (it == st.tensors.end()) {
      if (!ends_with(name, "num_batches_tracked")) missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != t.sizes()) {
      std::ostringstream os;
      os << name << ": file " << it->second.sizes() << ", model " << t.sizes();
      mismatched.push_back(os.str());
    }
  }
  for (const auto& [name, t] : st.tensors)
    if (!state.count(name)) unexpected.push_back(name);

  LOUPE_CHECK(missing.empty(), path.string(), ": ", missing.size(), " of the model's ", state.size(),
              " tensors are missing from the file: ", first_names(missing), arch_note);
  LOUPE_CHECK(unexpected.empty(), path.string(), ": ", unexpected.size(),
              " tensors in the file do not exist in the model (", model.arch(), "): ", first_names(unexpected),
              arch_note);
  LOUPE_CHECK(mismatched.empty(), path.string(), ": ", mismatched.size(), " tensors have the wrong shape (",
              first_names(mismatched), ")", arch_note);

  torch::NoGradGuard no_grad;
  for (auto& [name, t] : state) {
    auto it = st.tensors.find(name);
    if (it != st.tensors.end()) t.copy_(it->second.to(t.device(), t.scalar_type()));
  }
}

void save_torchvision_weights(TappedModel& model, const fs::path& path) {
  SafeTensors st;
  for (const auto& [name, t] : state_of(model)) st.tensors[name] = t.detach().to(torch::kCPU).contiguous();
  // "format": "pt" is what torch-side safetensors writers set; "arch" lets load name a mismatch.
  st.metadata = {{"format", "pt"}, {"arch", model.arch()}};
  write_safetensors(path, st);
}

}  // namespace loupe
