#include "loupe/probe/units.h"

#include <torch/torch.h>

#include <set>

#include "loupe/core/error.h"

namespace loupe {

namespace {

torch::Tensor as_maps(const torch::Tensor& a, const std::string& tap) {
  if (a.dim() == 4) return a;
  LOUPE_CHECK(a.dim() == 2, "tap '", tap, "': activations of shape ", a.sizes(),
              "; expected a feature map [N,C,h,w] or a vector [N,C]");
  return a.view({a.size(0), a.size(1), 1, 1});
}

// Every tap of one forward pass of a zero image of `image_shape` (C,H,W), in eval mode
// without gradients (the model's mode is restored).
Taps record_zero_image(TappedModel& model, const std::vector<int64_t>& image_shape) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = model.parameters().empty() ? torch::Device(torch::kCPU) : model.parameters().front().device();
  std::vector<int64_t> shape = {1};
  shape.insert(shape.end(), image_shape.begin(), image_shape.end());
  Taps taps;
  for (const auto& name : model.tap_names()) taps.record(name);
  model.forward(torch::zeros(shape, torch::TensorOptions().device(device)), &taps);
  model.train(was_training);
  return taps;
}

}  // namespace

torch::Tensor unit_activations(TappedModel& model, const torch::Tensor& images, const std::string& tap,
                               const torch::Tensor& units) {
  const auto maps = as_maps(model.forward_until(tap, images), tap);
  return maps.index_select(1, units.to(maps.device()));
}

int64_t unit_count(TappedModel& model, const std::string& tap, const std::vector<int64_t>& image_shape) {
  model.check_tap(tap);
  return as_maps(record_zero_image(model, image_shape).recorded(tap), tap).size(1);
}

std::vector<std::string> feature_map_taps(TappedModel& model, const std::vector<int64_t>& image_shape) {
  const auto taps = record_zero_image(model, image_shape);
  std::vector<std::string> maps;
  for (const auto& name : model.tap_names())
    if (taps.recorded(name).dim() == 4) maps.push_back(name);
  return maps;
}

torch::Tensor resolve_units(const std::vector<int64_t>& units, int64_t count, const std::string& tap) {
  if (units.empty()) return torch::arange(count, torch::kLong);
  std::set<int64_t> seen;
  for (const auto u : units) {
    LOUPE_CHECK(u >= 0 && u < count, "unit ", u, " of tap '", tap, "': expected a unit in [0, ", count, ")");
    LOUPE_CHECK(seen.insert(u).second, "unit ", u, " of tap '", tap, "' is listed twice");
  }
  return torch::tensor(units, torch::kLong);
}

}  // namespace loupe
