#include "loupe/explain/cam_base.h"

#include <torch/torch.h>

#include "explain/eval_mode.h"
#include "loupe/core/error.h"

namespace loupe {

torch::Tensor upsample_maps(const torch::Tensor& maps, int64_t height, int64_t width) {
  if (maps.size(1) == height && maps.size(2) == width) return maps;
  namespace F = torch::nn::functional;
  return F::interpolate(maps.unsqueeze(1), F::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{height, width})
                                               .mode(torch::kBilinear)
                                               .align_corners(false))
      .squeeze(1);
}

torch::Tensor scale_maps(const torch::Tensor& maps, bool signed_maps) {
  const auto flat = maps.flatten(1);
  constexpr double eps = 1e-7;  // as pytorch-grad-cam: an all-zero map stays zero
  if (signed_maps) {
    const auto peak = std::get<0>(flat.abs().max(1)).view({-1, 1, 1});
    return maps / (peak + eps);
  }
  const auto lo = std::get<0>(flat.min(1)).view({-1, 1, 1});
  const auto hi = std::get<0>(flat.max(1)).view({-1, 1, 1});
  return (maps - lo) / (hi - lo + eps);
}

torch::Tensor CamExplainer::batch_weights(CamBatch& batch) { return channel_weights(batch.activations, batch.grads); }

torch::Tensor CamExplainer::channel_weights(const torch::Tensor&, const torch::Tensor&) {
  fail(name(), ": a CAM method must define channel_weights or batch_weights");
}

torch::Tensor CamExplainer::weighted_map(const torch::Tensor& activations, const torch::Tensor&,
                                         const torch::Tensor& weights) {
  return (weights.unsqueeze(-1).unsqueeze(-1) * activations).sum(1);
}

Attribution CamExplainer::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  check_images(images, "images");
  const std::string tap = options_.tap.empty() ? model.default_cam_tap() : options_.tap;
  model.check_tap(tap);
  LOUPE_CHECK(options_.batch_size > 0, "batch size ", options_.batch_size, ": expected a positive number");
  const auto device = model_device(model);
  EvalModeGuard eval(model);

  std::vector<torch::Tensor> maps, weights, scores;
  int64_t evaluations = images.size(0);
  for (int64_t begin = 0; begin < images.size(0); begin += options_.batch_size) {
    const int64_t end = std::min(images.size(0), begin + options_.batch_size);
    const auto x = images.slice(0, begin, end).to(device, torch::kFloat);
    // The tap's tensor becomes a leaf: gradients stop there (nothing upstream is
    // kept or differentiated), and a parameter-free prefix still gets gradients.
    torch::Tensor activations, grads, score;
    Taps taps;
    taps.replace(tap, [&](const torch::Tensor& a) {
      activations = a.detach().requires_grad_(uses_gradients());
      return activations;
    });
    {
      torch::AutoGradMode grad_mode(uses_gradients());
      const auto outputs = model.forward(x, &taps);
      LOUPE_CHECK(activations.defined(), "tap ", tap, " of ", model.arch(), ": the forward pass never reached it");
      LOUPE_CHECK(activations.dim() == 4, "tap ", tap, " of ", model.arch(),
                  ": CAM methods need a spatial feature map [N,C,h,w], got ", activations.sizes());
      score = evaluate_target(target, outputs, x, sample_range(begin, end - begin, x.device()));
      if (uses_gradients()) grads = torch::autograd::grad({score.sum()}, {activations})[0];
    }
    torch::NoGradGuard no_grad;
    CamBatch batch{model, tap, target, x, activations.detach(), grads, score.detach(), begin, 0};
    const auto w = batch_weights(batch);
    evaluations += batch.evaluations;
    auto cam = weighted_map(batch.activations, grads, w);
    if (!options_.signed_maps) cam = torch::relu(cam);
    cam = upsample_maps(cam, x.size(2), x.size(3));
    if (options_.normalize) cam = scale_maps(cam, options_.signed_maps);
    maps.push_back(cam.cpu());
    weights.push_back(w.cpu());
    scores.push_back(score.detach().cpu());
  }
  Attribution result;
  result.maps = torch::cat(maps);
  result.weights = torch::cat(weights);
  result.scores = torch::cat(scores);
  result.model_evaluations = evaluations;
  return result;
}

}  // namespace loupe
