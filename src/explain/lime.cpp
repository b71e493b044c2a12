#include "loupe/explain/lime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "explain/lime_detail.h"
#include "explain/perturbation_detail.h"
#include "loupe/core/error.h"

namespace loupe {

RidgeFit weighted_ridge(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w, double alpha) {
  const auto X = x.to(torch::kCPU, torch::kDouble), Y = y.to(torch::kCPU, torch::kDouble);
  const auto W = w.to(torch::kCPU, torch::kDouble).view({-1, 1});
  const auto total = W.sum();
  const auto x_mean = (W * X).sum(0) / total, y_mean = (W * Y).sum(0) / total;  // [K], [T]
  const auto xc = X - x_mean, yc = Y - y_mean;
  const auto gram = xc.t().mm(W * xc) + alpha * torch::eye(X.size(1), X.options());
  const auto coef = torch::linalg_solve(gram, xc.t().mm(W * yc));  // [K,T]
  const auto intercept = y_mean - x_mean.matmul(coef);
  const auto residual = Y - X.mm(coef) - intercept;
  const auto r2 = 1 - (W * residual * residual).sum(0) / (W * yc * yc).sum(0);
  return {coef.t().to(torch::kFloat), intercept.to(torch::kFloat), r2.to(torch::kFloat)};
}

Attribution Lime::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  const auto& o = options_.perturbation;
  const int64_t n = o.samples > 0 ? o.samples : 1000;
  LOUPE_CHECK(o.kernel_width > 0, "LIME kernel width ", o.kernel_width, ": expected a positive width");
  LOUPE_CHECK(o.top_labels >= 0, "LIME top_labels ", o.top_labels, ": expected >= 0");
  return explain_images(model, images, options_, [&](PerturbationEngine& engine, const torch::Tensor& x, int64_t i) {
    // Every image draws from the same seed: a result never depends on its batch.
    auto gen = at::detail::createCPUGenerator(o.seed);
    const auto labels = image_segments(x, o, i);
    const int64_t k = check_label_map(labels, x.size(1), x.size(2), "segments");
    std::vector<Target> targets{target};
    torch::Tensor classes;
    if (o.top_labels > 0) {
      torch::Tensor outputs;
      const Target keep_outputs = [&](const torch::Tensor& out, const torch::Tensor&) {
        outputs = out;
        return out.flatten(1).select(1, 0);
      };
      engine.evaluate_features(x, x, torch::ones({1, k}), labels, {keep_outputs});
      LOUPE_CHECK(outputs.dim() == 2 && outputs.size(1) >= o.top_labels, "LIME top_labels ", o.top_labels,
                  ": the model gives ", outputs.sizes(), " outputs per image");
      classes = std::get<1>(outputs[0].topk(o.top_labels)).cpu();
      targets.clear();
      for (int64_t j = 0; j < o.top_labels; ++j) targets.push_back(class_logit(classes[j].item<int64_t>()));
    }
    auto z = at::randint(0, 2, {n, k}, gen, torch::TensorOptions().dtype(torch::kFloat));
    z[0].fill_(1);
    const auto fill = masker_fill(x, o, Masker::kSegmentMean, i, labels);
    const auto y = engine.evaluate_features(x, fill, z, labels, targets);  // [n,T]
    // Cosine distance to the all-ones mask: 1 − sqrt(|z|/K) (a zero row has distance 1).
    const auto d = 1 - (z.sum(1) / double(k)).sqrt();
    const auto kernel = torch::exp(-(d * d) / (o.kernel_width * o.kernel_width)).sqrt();
    const auto fit = weighted_ridge(z, y, kernel, o.ridge_alpha);
    const auto local = fit.coef.sum(1) + fit.intercept;  // prediction at z = all ones
    const auto map = fit.coef[0].index_select(0, labels.flatten().cpu()).view({x.size(1), x.size(2)});
    ImageExplanation out{map, fit.coef[0], y[0][0], {{"segments", labels.cpu()}}};
    const bool many = o.top_labels > 0;
    out.extras["intercept"] = many ? fit.intercept : fit.intercept[0];
    out.extras["r2"] = many ? fit.r2 : fit.r2[0];
    out.extras["local_prediction"] = many ? local : local[0];
    if (many) {
      out.extras["labels"] = classes;
      out.extras["label_weights"] = fit.coef;
    }
    return out;
  });
}

}  // namespace loupe
