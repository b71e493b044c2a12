// Signed Grad-CAM of a latent code mu_i at an encoder tap (DESIGN.md workflow 3): the
// signed map sum_k w_k A_k (Selvaraju et al. 2017, without the ReLU) split into where
// the evidence raises mu_i (map+ = relu(map)) and where it lowers it (map- = relu(-map)).
// Choice: both parts are divided by the same max |map| per input, so they compare.
#pragma once

#include <torch/types.h>

#include <string>

#include "loupe/models/taps.h"

namespace loupe {

struct LatentGradCamOptions {
  std::string tap;          // spatial encoder tap; empty = the model's default_cam_tap()
  int64_t batch_size = 32;  // images per forward/backward pass
  // clang-format off
  LatentGradCamOptions& set_tap(std::string v) { tap = std::move(v); return *this; }
  LatentGradCamOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  // clang-format on
};

struct SignedLatentMaps {
  torch::Tensor positive;  // float [N,H,W] in [0,1]: raises mu_i
  torch::Tensor negative;  // float [N,H,W] in [0,1]: lowers mu_i
  torch::Tensor latent;    // float [N]: mu_i of each input
};

// encoder: a TappedModel whose output is mu [N,L]; images float [N,C,H,W]. An unknown
// tap or a latent outside [0,L) is a loupe::Error naming it.
SignedLatentMaps latent_gradcam(TappedModel& encoder, const torch::Tensor& images, int64_t latent,
                                const LatentGradCamOptions& options = {});

}  // namespace loupe
