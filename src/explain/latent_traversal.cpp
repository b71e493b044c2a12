#include "loupe/explain/latent_traversal.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "loupe/core/error.h"
#include "loupe/train/vae_objectives.h"

namespace loupe {
namespace {

// The base code as float [L] on the CPU; `what` names the caller.
torch::Tensor traversal_base(const torch::Tensor& base, const char* what) {
  LOUPE_CHECK(base.dim() == 1 || (base.dim() == 2 && base.size(0) == 1), what,
              " base: expected a code [L] or [1,L], got ", base.sizes());
  const auto b = base.detach().reshape({-1}).to(torch::kCPU, torch::kFloat);
  LOUPE_CHECK(b.numel() > 0 && torch::isfinite(b).all().item<bool>(), what,
              " base: expected a non-empty code of finite values");
  return b;
}

void check_traversal_dim(int64_t dim, int64_t latents, const char* what) {
  LOUPE_CHECK(dim >= 0 && dim < latents, what, " dimension ", dim, ": expected an index in [0,", latents, ")");
}

// Decodes codes [R*S, L] and reshapes the images to [R, S, C, H, W].
torch::Tensor decode_rows(const LatentDecoder& decode, const torch::Tensor& codes, int64_t rows, int64_t steps) {
  const auto images = decode(codes);
  LOUPE_CHECK(images.dim() == 4 && images.size(0) == codes.size(0), "latent decoder: expected images [", codes.size(0),
              ",C,H,W], got ", images.sizes());
  return images.reshape({rows, steps, images.size(1), images.size(2), images.size(3)});
}

}  // namespace

torch::Tensor latent_kl(const torch::Tensor& mu, const torch::Tensor& logvar) {
  LOUPE_CHECK(mu.dim() == 2 && mu.size(0) > 0 && mu.size(1) > 0, "latent_kl mu: expected [N,L] with N, L >= 1, got ",
              mu.sizes());
  const auto m = mu.detach().to(torch::kCPU, torch::kDouble), lv = logvar.detach().to(torch::kCPU, torch::kDouble);
  LOUPE_CHECK(torch::isfinite(m).all().item<bool>() && torch::isfinite(lv).all().item<bool>(),
              "latent_kl: mu and logvar must be finite (NaN or infinity found)");
  return kl_per_dimension(m, lv);
}

LatentUsage latent_usage(const torch::Tensor& mu, const torch::Tensor& logvar, double dead_threshold) {
  LOUPE_CHECK(dead_threshold >= 0, "latent_usage dead_threshold ", dead_threshold, ": expected a KL >= 0 (nats)");
  LatentUsage u;
  u.kl = latent_kl(mu, logvar);
  const auto kl = u.kl.accessor<double, 1>();
  u.order.resize(static_cast<size_t>(u.kl.size(0)));
  std::iota(u.order.begin(), u.order.end(), int64_t{0});
  std::stable_sort(u.order.begin(), u.order.end(), [&](int64_t a, int64_t b) { return kl[a] > kl[b]; });
  for (int64_t l = 0; l < u.kl.size(0); ++l) u.dead.push_back(kl[l] < dead_threshold);
  return u;
}

LatentDecoder vae_image_decoder(VaeImpl& vae) {
  return [&vae](const torch::Tensor& z) {
    torch::NoGradGuard no_grad;
    vae.eval();
    const auto device = vae.parameters().front().device();
    return torch::sigmoid(vae.decode(z.to(device))).cpu();
  };
}

torch::Tensor traversal_offsets(const TraversalOptions& o) {
  LOUPE_CHECK(o.steps >= 2, "traversal steps ", o.steps, ": expected at least 2");
  LOUPE_CHECK(o.range > 0 && std::isfinite(o.range), "traversal range ", o.range, ": expected a positive number");
  auto offsets = torch::linspace(-o.range, o.range, o.steps, torch::kFloat);
  if (o.steps % 2 == 1) offsets[o.steps / 2] = 0.0;
  return offsets;
}

torch::Tensor latent_traversal(const LatentDecoder& decode, const torch::Tensor& base, const std::vector<int64_t>& dims,
                               const TraversalOptions& options) {
  const auto b = traversal_base(base, "latent_traversal");
  const auto offsets = traversal_offsets(options);
  LOUPE_CHECK(!dims.empty(), "latent_traversal dims: expected at least one dimension");
  std::vector<torch::Tensor> codes;
  for (const int64_t d : dims) {
    check_traversal_dim(d, b.size(0), "latent_traversal");
    auto z = b.unsqueeze(0).repeat({options.steps, 1});
    z.select(1, d).add_(offsets);
    codes.push_back(z);
  }
  return decode_rows(decode, torch::cat(codes), static_cast<int64_t>(dims.size()), options.steps);
}

torch::Tensor latent_plane(const LatentDecoder& decode, const torch::Tensor& base, int64_t dim_row, int64_t dim_col,
                           const TraversalOptions& options) {
  const auto b = traversal_base(base, "latent_plane");
  check_traversal_dim(dim_row, b.size(0), "latent_plane row");
  check_traversal_dim(dim_col, b.size(0), "latent_plane column");
  LOUPE_CHECK(dim_row != dim_col, "latent_plane: row and column dimension are both ", dim_row,
              "; expected two different dimensions");
  const auto offsets = traversal_offsets(options);
  const int64_t s = options.steps;
  auto z = b.unsqueeze(0).repeat({s * s, 1});
  z.select(1, dim_row).add_(offsets.repeat_interleave(s));
  z.select(1, dim_col).add_(offsets.repeat({s}));
  return decode_rows(decode, z, s, s);
}

}  // namespace loupe
