#include "loupe/explain/faithfulness.h"

#include <torch/torch.h>

#include "explain/eval_mode.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/explain/explainer.h"

namespace loupe {
namespace {

// Scores the images `start` with the first counts[k] pixels (in `order`) taken from `end`,
// for k = 0..steps; every (image, step) pair is one row of the evaluated batches.
FaithfulnessCurve pixel_curve(TappedModel& model, const torch::Tensor& images, const torch::Tensor& maps,
                              const Target& target, const FaithfulnessOptions& options, bool deletion) {
  const std::string what = deletion ? "deletion curve" : "insertion curve";
  check_images(images, what + " images");
  LOUPE_CHECK(options.steps >= 1, what, " steps ", options.steps, ": expected at least 1");
  LOUPE_CHECK(options.batch_size >= 1, what, " batch size ", options.batch_size, ": expected a positive number");
  const int64_t n = images.size(0), height = images.size(2), width = images.size(3), pixels = height * width;
  LOUPE_CHECK(maps.defined() && maps.dim() == 3 && maps.size(0) == n && maps.size(1) == height && maps.size(2) == width,
              what, " maps: expected [", n, ",", height, ",", width, "] to match the images, got ",
              maps.defined() ? maps.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(maps.is_floating_point(), what, " maps: expected real values, got ", maps.scalar_type());
  check_finite(maps, what + " maps");

  const auto device = model_device(model);
  EvalModeGuard eval(model);
  torch::NoGradGuard no_grad;
  const auto x = images.to(device, torch::kFloat);
  const auto baseline =
      make_baseline(x, deletion ? options.deletion_baseline : options.insertion_baseline, options.blur_sigma);
  const auto start = deletion ? x : baseline;
  const auto end = deletion ? baseline : x;
  // rank[i,p]: the position of pixel p when image i's pixels are sorted by attribution.
  const auto order = std::get<1>(torch::sort(maps.to(device).flatten(1), /*stable=*/true, 1, /*descending=*/true));
  const auto rank = torch::empty_like(order).scatter_(
      1, order, torch::arange(pixels, order.options()).unsqueeze(0).expand({n, pixels}).contiguous());
  const int64_t points = options.steps + 1;
  const auto counts = (torch::arange(points, order.options()) * pixels).div(options.steps, "floor");

  std::vector<torch::Tensor> scores;
  for (int64_t row = 0; row < n * points; row += options.batch_size) {
    const auto rows = torch::arange(row, std::min(n * points, row + options.batch_size), order.options());
    const auto image = rows.div(points, "floor"), step = rows.remainder(points);
    const auto changed =
        (rank.index_select(0, image) < counts.index_select(0, step).unsqueeze(1)).view({-1, 1, height, width});
    const auto perturbed = torch::where(changed, end.index_select(0, image), start.index_select(0, image));
    scores.push_back(evaluate_target(target, model.forward(perturbed), perturbed, image).cpu());
  }
  FaithfulnessCurve curve;
  curve.fractions = torch::arange(points, torch::kDouble) / static_cast<double>(options.steps);
  curve.scores = torch::cat(scores).to(torch::kDouble).view({n, points});
  const auto& s = curve.scores;
  curve.auc = (s.slice(1, 1) + s.slice(1, 0, points - 1)).sum(1) / (2.0 * options.steps);
  return curve;
}

}  // namespace

FaithfulnessCurve deletion_curve(TappedModel& model, const torch::Tensor& images, const torch::Tensor& maps,
                                 const Target& target, const FaithfulnessOptions& options) {
  return pixel_curve(model, images, maps, target, options, /*deletion=*/true);
}

FaithfulnessCurve insertion_curve(TappedModel& model, const torch::Tensor& images, const torch::Tensor& maps,
                                  const Target& target, const FaithfulnessOptions& options) {
  return pixel_curve(model, images, maps, target, options, /*deletion=*/false);
}

}  // namespace loupe
