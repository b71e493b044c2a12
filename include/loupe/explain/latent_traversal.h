// Understanding a VAE's latent space (Higgins et al. 2017; Burgess et al. 2018): the KL
// of each latent dimension from the N(0,1) prior, mean over a batch of
// 0.5·(mu² + exp(logvar) − logvar − 1) nats, dimensions ordered by it, dead dimensions,
// and decoded traversals. Choices: a dimension is dead when its mean KL is below 0.01
// nats (its posterior is the prior for almost every input, so decoders ignore it);
// traversals add offsets −range…range to a base code (e.g. one sample's mu), so the
// middle column of an odd number of steps is the base code's own reconstruction.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "loupe/models/vae.h"

namespace loupe {

// Per-dimension KL(q(z_l|x) || N(0,1)) averaged over the batch: mu, logvar [N,L] → double [L] (CPU).
torch::Tensor latent_kl(const torch::Tensor& mu, const torch::Tensor& logvar);

struct LatentUsage {
  torch::Tensor kl;            // double [L], nats
  std::vector<int64_t> order;  // dimensions by KL, largest first (ties: lower index first)
  std::vector<bool> dead;      // per dimension: kl < dead_threshold
};
LatentUsage latent_usage(const torch::Tensor& mu, const torch::Tensor& logvar, double dead_threshold = 0.01);

// Maps codes z [N,L] to images [N,C,H,W] in [0,1].
using LatentDecoder = std::function<torch::Tensor(const torch::Tensor& z)>;
// sigmoid(vae.decode(z)) on the VAE's device, in eval mode without gradients; images on the CPU.
LatentDecoder vae_image_decoder(VaeImpl& vae);

struct TraversalOptions {
  double range = 3.0;  // offsets run from -range to +range (in prior standard deviations)
  int64_t steps = 7;   // offsets (columns), evenly spaced; at least 2
  // clang-format off
  TraversalOptions& set_range(double v) { range = v; return *this; }
  TraversalOptions& set_steps(int64_t v) { steps = v; return *this; }
  // clang-format on
};

// The offsets a traversal adds: float [steps] (the middle one exactly 0 when steps is odd).
torch::Tensor traversal_offsets(const TraversalOptions& options);

// One row per dimension in `dims`: the base code [L] with that dimension moved by each
// offset, decoded; images [dims.size(), steps, C, H, W].
torch::Tensor latent_traversal(const LatentDecoder& decode, const torch::Tensor& base, const std::vector<int64_t>& dims,
                               const TraversalOptions& options = {});

// The plane spanned by two dimensions: cell (i, j) is the base code with dim_col moved by
// offset j and dim_row by offset i, decoded; images [steps, steps, C, H, W].
torch::Tensor latent_plane(const LatentDecoder& decode, const torch::Tensor& base, int64_t dim_row, int64_t dim_col,
                           const TraversalOptions& options = {});

}  // namespace loupe
