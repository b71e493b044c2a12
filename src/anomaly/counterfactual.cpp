#include "loupe/anomaly/counterfactual.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {

torch::Tensor morph_latents(const torch::Tensor& from, const torch::Tensor& to, int64_t steps) {
  LOUPE_CHECK(from.defined() && from.dim() == 2, "morph start codes: expected [M,L], got ",
              from.defined() ? from.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(to.defined() && to.sizes() == from.sizes(), "morph end codes: expected ", from.sizes(),
              " like the start codes, got ", to.defined() ? to.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(torch::isFloatingType(from.scalar_type()), "morph start codes: expected floating-point codes, got dtype ",
              from.scalar_type());
  LOUPE_CHECK(torch::isfinite(from).all().item<bool>() && torch::isfinite(to).all().item<bool>(),
              "morph codes: found NaN or infinite values; expected finite latent codes");
  LOUPE_CHECK(steps >= 2, "morph steps ", steps, ": expected at least 2 (the two ends)");
  const auto b = to.to(from.device(), from.scalar_type());
  const auto w = torch::arange(steps, from.options()).div_(static_cast<double>(steps - 1)).view({1, steps, 1});
  // (1-w)*a + w*b is exact at w = 0 and w = 1 (a + (b-a)*w is not at w = 1).
  return (1 - w) * from.unsqueeze(1) + w * b.unsqueeze(1);
}

torch::Tensor outliers_per_dimension(const torch::Tensor& dims, int64_t latents) {
  LOUPE_CHECK(latents >= 1, "latent dimensions ", latents, ": expected at least 1");
  LOUPE_CHECK(dims.defined() && dims.dim() == 1 && !torch::isFloatingType(dims.scalar_type()) &&
                  dims.scalar_type() != torch::kBool,
              "most deviant dimensions: expected integer indices [M], got ",
              dims.defined() ? dims.sizes() : torch::IntArrayRef{});
  const auto d = dims.to(torch::kCPU, torch::kLong);
  LOUPE_CHECK(d.numel() == 0 || (d.min().item<int64_t>() >= 0 && d.max().item<int64_t>() < latents),
              "most deviant dimensions: found ", d.numel() ? d.min().item<int64_t>() : 0, "..",
              d.numel() ? d.max().item<int64_t>() : 0, "; expected values in [0,", latents, ")");
  return torch::bincount(d, {}, latents);
}

}  // namespace loupe
