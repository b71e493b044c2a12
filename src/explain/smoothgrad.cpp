#include "loupe/explain/smoothgrad.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {
void SmoothGrad::validate(const torch::Tensor&) const {
  const auto& o = options().gradient;
  LOUPE_CHECK(o.samples >= 1, "smoothgrad samples ", o.samples, ": expected at least 1");
  LOUPE_CHECK(std::isfinite(o.noise_level) && o.noise_level >= 0, "smoothgrad noise level ", o.noise_level,
              ": expected a finite fraction >= 0 of the input range (the paper uses 0.15)");
}

PixelExplainer::Batch SmoothGrad::attribute(TappedModel& model, const torch::Tensor& x, int64_t first,
                                            const Target& target) {
  const auto& o = options().gradient;
  const int64_t n = x.size(0);
  // Every image draws from the seed afresh: its map is the same alone, in any batch, at any position.
  std::vector<at::Generator> streams;
  for (int64_t i = 0; i < n; ++i) streams.push_back(at::make_generator<at::CPUGeneratorImpl>(o.seed));
  const auto flat = x.flatten(1);
  const auto sigma = (o.noise_level * (std::get<0>(flat.max(1)) - std::get<0>(flat.min(1)))).view({-1, 1, 1, 1});
  auto total = torch::zeros_like(x);
  std::vector<torch::Tensor> noise(n);
  for (int64_t s = 0; s < o.samples; ++s) {
    for (int64_t i = 0; i < n; ++i) noise[i] = torch::randn(x.sizes().slice(1), streams[i], torch::kFloat);
    total += input_gradient(model, x + sigma * torch::stack(noise).to(x.device()), target, first).grads;
  }
  Batch batch;
  batch.attributions = total / static_cast<double>(o.samples);
  batch.scores = target_scores(model, x, target, first);
  batch.evaluations = n * (o.samples + 1);
  return batch;
}

}  // namespace loupe
