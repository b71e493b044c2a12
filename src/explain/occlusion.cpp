#include "loupe/explain/occlusion.h"

#include <torch/torch.h>

#include "explain/perturbation_detail.h"
#include "loupe/core/error.h"

namespace loupe {

Attribution Occlusion::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  const auto& o = options_.perturbation;
  return explain_images(model, images, options_, [&](PerturbationEngine& engine, const torch::Tensor& x, int64_t i) {
    const int64_t h = x.size(1), w = x.size(2);
    LOUPE_CHECK(o.window >= 1 && o.window <= std::min(h, w), "occlusion window ", o.window, ": expected a side in [1, ",
                std::min(h, w), "] for a ", h, "x", w, " image");
    LOUPE_CHECK(o.stride >= 1, "occlusion stride ", o.stride, ": expected a positive step");
    const int64_t ny = (h - o.window + o.stride - 1) / o.stride + 1, nx = (w - o.window + o.stride - 1) / o.stride + 1;
    const auto fill = masker_fill(x, o, Masker::kConstant, i);
    const auto opts = torch::TensorOptions().device(engine.device()).dtype(torch::kLong);
    // Window i's box, clipped by the image's edge.
    const auto window_boxes = [&](int64_t b, int64_t e) {
      const auto idx = torch::arange(b, e, opts);
      const auto y0 = idx.div(nx, "floor").mul(o.stride), x0 = idx.remainder(nx).mul(o.stride);
      return torch::stack({y0, x0, (y0 + o.window).clamp_max(h), (x0 + o.window).clamp_max(w)}, 1);
    };
    const auto all = [&](int64_t b, int64_t e) { return torch::ones({e - b, h, w}, opts.dtype(torch::kFloat)); };
    const auto fx = engine.evaluate(x, fill, 1, all, {target})[0][0];
    auto total = torch::zeros({h, w}, opts.dtype(torch::kFloat));
    auto count = torch::zeros({h, w}, opts.dtype(torch::kFloat));
    engine.evaluate_boxes(x, fill, ny * nx, window_boxes, {target},
                          [&](int64_t, const torch::Tensor& keep, const torch::Tensor& s) {
                            const auto hidden = 1 - keep;
                            total += ((fx - s.select(1, 0)).view({-1, 1, 1}) * hidden).sum(0);
                            count += hidden.sum(0);
                          });
    return ImageExplanation{total / count.clamp_min(1), {}, fx, {}};
  });
}

}  // namespace loupe
