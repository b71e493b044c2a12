#include "loupe/explain/rise.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "explain/perturbation_detail.h"
#include "loupe/core/error.h"

namespace loupe {

Attribution Rise::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  const auto& o = options_.perturbation;
  const int64_t n = o.samples > 0 ? o.samples : 4000, s = o.rise_cells;
  const double p = o.rise_probability;
  LOUPE_CHECK(s >= 1, "RISE cells ", s, ": expected a grid side >= 1");
  LOUPE_CHECK(p > 0 && p <= 1, "RISE probability ", p, ": expected a value in (0,1]");
  return explain_images(model, images, options_, [&](PerturbationEngine& engine, const torch::Tensor& x, int64_t i) {
    // Every image draws from the same seed: a result never depends on its batch.
    auto gen = at::detail::createCPUGenerator(o.seed);
    const int64_t h = x.size(1), w = x.size(2);
    const int64_t cell_h = (h + s - 1) / s, cell_w = (w + s - 1) / s;
    const auto cpu = torch::TensorOptions().dtype(torch::kFloat);
    const auto grids = (at::rand({n, 1, s, s}, gen, cpu) < p).to(torch::kFloat).to(engine.device());
    const auto shifts = at::rand({n, 2}, gen, cpu).mul(torch::tensor({float(cell_h), float(cell_w)})).floor();
    const auto dev = shifts.to(engine.device());
    const auto fopts = torch::TensorOptions().device(engine.device()).dtype(torch::kFloat);
    // Normalised sampling coordinates of pixel u in an upsampling of s cells to U pixels
    // (align_corners = false): 2(u + 0.5)/U − 1.
    const auto ys = torch::arange(h, fopts).view({1, h, 1}), xs = torch::arange(w, fopts).view({1, 1, w});
    const double up_h = double((s + 1) * cell_h), up_w = double((s + 1) * cell_w);
    const auto masks = [&](int64_t b, int64_t e) {
      const auto sy = dev.slice(0, b, e).select(1, 0).view({-1, 1, 1});
      const auto sx = dev.slice(0, b, e).select(1, 1).view({-1, 1, 1});
      const auto gy = (2 * (ys + sy + 0.5) / up_h - 1).expand({e - b, h, w});
      const auto gx = (2 * (xs + sx + 0.5) / up_w - 1).expand({e - b, h, w});
      namespace F = torch::nn::functional;
      return F::grid_sample(
                 grids.slice(0, b, e), torch::stack({gx, gy}, -1),
                 F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false))
          .squeeze(1);
    };
    const auto fill = masker_fill(x, o, Masker::kConstant, i);
    auto saliency = torch::zeros({h, w}, fopts);
    engine.evaluate(x, fill, n, masks, {target}, [&](int64_t, const torch::Tensor& m, const torch::Tensor& sc) {
      saliency += (sc.select(1, 0).view({-1, 1, 1}) * m).sum(0);
    });
    const auto all = [&](int64_t b, int64_t e) { return torch::ones({e - b, h, w}, fopts); };
    const auto fx = engine.evaluate(x, fill, 1, all, {target})[0][0];
    return ImageExplanation{saliency / (double(n) * p), {}, fx, {}};
  });
}

}  // namespace loupe
