#include "loupe/explain/pixel_base.h"

#include <torch/torch.h>

#include "explain/eval_mode.h"
#include "loupe/core/error.h"
#include "loupe/explain/cam_base.h"

namespace loupe {

InputGradient input_gradient(TappedModel& model, const torch::Tensor& x, const Target& target, int64_t first) {
  torch::AutoGradMode grad_mode(true);
  const auto input = x.detach().requires_grad_(true);
  const auto score =
      evaluate_target(target, model.forward(input), input, sample_range(first, x.size(0), x.device()));
  // A target that ignores the input has zero gradient.
  torch::Tensor grads;
  if (score.requires_grad()) grads = torch::autograd::grad({score.sum()}, {input}, {}, false, false, true)[0];
  if (!grads.defined()) grads = torch::zeros_like(input);
  return {grads, score.detach()};
}

torch::Tensor target_scores(TappedModel& model, const torch::Tensor& x, const Target& target, int64_t first) {
  torch::NoGradGuard no_grad;
  return evaluate_target(target, model.forward(x), x, sample_range(first, x.size(0), x.device()));
}

torch::Tensor PixelExplainer::reduce_channels(const torch::Tensor& attributions) const {
  if (options_.signed_maps) return attributions.sum(1);
  return std::get<0>(attributions.abs().max(1));
}

Attribution PixelExplainer::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  check_images(images, "images");
  LOUPE_CHECK(options_.batch_size > 0, name(), " batch size ", options_.batch_size, ": expected a positive number");
  validate(images);
  const auto device = model_device(model);
  EvalModeGuard eval(model);

  Attribution result;
  std::vector<torch::Tensor> maps, scores;
  std::map<std::string, std::vector<torch::Tensor>> extras;
  for (int64_t begin = 0; begin < images.size(0); begin += options_.batch_size) {
    const int64_t end = std::min(images.size(0), begin + options_.batch_size);
    const auto x = images.slice(0, begin, end).to(device, torch::kFloat);
    auto batch = attribute(model, x, begin, target);
    torch::NoGradGuard no_grad;
    auto map = reduce_channels(batch.attributions.detach());
    if (options_.normalize) map = scale_maps(map, options_.signed_maps);
    maps.push_back(map.cpu());
    scores.push_back(batch.scores.detach().cpu());
    for (auto& [key, value] : batch.extras) extras[key].push_back(value.detach().cpu());
    result.model_evaluations += batch.evaluations;
  }
  result.maps = torch::cat(maps);
  result.scores = torch::cat(scores);
  for (auto& [key, parts] : extras) result.extras[key] = torch::cat(parts);
  return result;
}

}  // namespace loupe
