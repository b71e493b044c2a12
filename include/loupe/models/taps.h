// Taps: named points inside a model where one forward call can record a tensor
// (kept in the autograd graph, for gradients), replace it (ablation, steering,
// counterfactual edits) or let it pass. LibTorch C++ modules have no forward
// hooks, so models mark these points explicitly: `x = tap("layer4", layer4(x))`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace loupe {

using TensorEdit = std::function<torch::Tensor(const torch::Tensor&)>;

// What to do at which tap during one forward call. Not thread-safe; one per call.
class Taps {
 public:
  // Keep the tensor at `name` (still attached to the autograd graph).
  Taps& record(const std::string& name);
  // Replace the tensor at `name` by edit(tensor); the edit may also record.
  Taps& replace(const std::string& name, TensorEdit edit);

  // The tensor recorded at `name` in the last call; an error if there is none.
  const torch::Tensor& recorded(const std::string& name) const;
  bool has_recorded(const std::string& name) const;
  // Every name this object acts on (recorded or replaced).
  std::vector<std::string> names() const;
  bool records(const std::string& name) const { return record_.count(name) > 0; }
  bool replaces(const std::string& name) const { return replace_.count(name) > 0; }

  // Called by models at each tap point: records and/or replaces.
  torch::Tensor apply(const std::string& name, const torch::Tensor& x);

 private:
  std::set<std::string> record_;
  std::map<std::string, TensorEdit> replace_;
  std::map<std::string, torch::Tensor> recorded_;
};

// Throws a loupe::Error naming `name` and listing the valid tap names.
void check_tap_name(const std::string& model, const std::string& name, const std::vector<std::string>& valid);

// A classifier with taps. The zoo's models are built from an ordered list of stages;
// the output of each stage is a tap with the stage's name, and the model can run
// *from* any tap (forward_from), so that perturbations of a layer cost only the layers
// above it. A TorchScript model (models/torchscript.h) overrides the four virtual
// methods with graph surgery: its taps are its submodules.
class TappedModel : public torch::nn::Module {
 public:
  // Runs every stage. `taps`, if given, may only name this model's taps.
  virtual torch::Tensor forward(const torch::Tensor& x, Taps* taps = nullptr);
  // Runs the stages after `tap`, starting from `activation` (the tap's output).
  virtual torch::Tensor forward_from(const std::string& tap, const torch::Tensor& activation, Taps* taps = nullptr);
  // Runs the stages up to and including `tap` and returns its output (after any edit
  // `taps` makes there): the layers above it cost nothing.
  virtual torch::Tensor forward_until(const std::string& tap, const torch::Tensor& x, Taps* taps = nullptr);

  // Tap names in forward order; for the zoo's models the last one is the model's output.
  virtual std::vector<std::string> tap_names() const;
  // Throws a loupe::Error naming `name` and saying why it cannot be tapped (by default:
  // it is not among tap_names(), which the message lists).
  virtual void check_tap(const std::string& name) const;
  // The last spatial tap (a [N,C,h,w] feature map) Grad-CAM uses by default.
  virtual std::string default_cam_tap() const = 0;
  // Architecture name as in the zoo registry ("resnet18", "small_cnn", ...).
  virtual std::string arch() const = 0;

 protected:
  void add_stage(const std::string& name, std::function<torch::Tensor(const torch::Tensor&)> run);

 private:
  // Stages [first, end) (end past the last stage = to the output).
  torch::Tensor run_stages(size_t first, torch::Tensor x, Taps* taps, size_t end = SIZE_MAX);
  void check_taps(const Taps* taps) const;
  size_t stage_index(const std::string& name) const;

  struct Stage {
    std::string name;
    std::function<torch::Tensor(const torch::Tensor&)> run;
  };
  std::vector<Stage> stages_;
};

}  // namespace loupe
