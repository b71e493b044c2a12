// Feature visualisation by activation maximisation (DESIGN.md probing workflow): one
// image per unit, all units of a call optimised together in one batch (each row only
// drives its own unit, so a batch equals its rows one at a time).
//   pixel (the reference study): the image itself is the parameter, from uniform noise;
//     Adam (lr 0.05) on −(mean activation of the unit); every blur_every steps a Gaussian
//     blur (kernel 3, σ 0.8: torchvision's default for that kernel, reflect padding);
//     clamped to [0,1] after every step; optional random jitter (a roll of up to
//     `jitter` pixels) before each forward.
//   fourier (Lucid/Lucent, beyond the reference): the image is sigmoid of a decorrelated
//     colour transform of the inverse FFT of a spectrum scaled by 1/f^decay (init
//     N(0, 0.01²)); each step the optimised image is padded, jittered, scaled and
//     rotated at random (transformation robustness), the same draw for every row.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/models/taps.h"

namespace loupe {

enum class FeatureVisMethod { kPixel, kFourier };
std::vector<std::string> feature_vis_method_names();  // "pixel", "fourier"
FeatureVisMethod parse_feature_vis_method(const std::string& text, const std::string& what);

struct FeatureVisOptions {
  FeatureVisMethod method = FeatureVisMethod::kPixel;
  int64_t steps = 300;
  double lr = 0.05;
  int64_t channels = 3, height = 28, width = 28;  // the model's input
  // pixel
  int64_t blur_every = 4;  // 0 = never
  int64_t jitter = 0;      // pixel: largest roll in pixels before each forward (0 = none)
  // fourier
  double decay_power = 1.0;
  bool decorrelate = true;  // Lucid's colour decorrelation (3 channels only)
  bool transforms = true;   // pad, jitter, scale, rotate each step (sizes scaled to the image)
  uint64_t seed = 0;
  // clang-format off
  FeatureVisOptions& set_method(FeatureVisMethod v) { method = v; return *this; }
  FeatureVisOptions& set_steps(int64_t v) { steps = v; return *this; }
  FeatureVisOptions& set_lr(double v) { lr = v; return *this; }
  FeatureVisOptions& set_size(int64_t c, int64_t h, int64_t w) { channels = c; height = h; width = w; return *this; }
  FeatureVisOptions& set_blur_every(int64_t v) { blur_every = v; return *this; }
  FeatureVisOptions& set_jitter(int64_t v) { jitter = v; return *this; }
  FeatureVisOptions& set_decorrelate(bool v) { decorrelate = v; return *this; }
  FeatureVisOptions& set_transforms(bool v) { transforms = v; return *this; }
  FeatureVisOptions& set_seed(uint64_t v) { seed = v; return *this; }
  // clang-format on
};
// A loupe::Error naming the first option out of range.
void check_feature_vis_options(const FeatureVisOptions& options);

struct FeatureVis {
  torch::Tensor units;            // int64 [U]
  torch::Tensor images;           // float [U,C,H,W] in [0,1], CPU
  torch::Tensor activation;       // float [U]: each unit's mean activation on its final image (no transforms)
  std::vector<double> objective;  // per step: the mean over units of the optimised activation
};

// `units` empty = every unit of the tap (channels of a map, or entries of a vector such as
// the logits). The model runs in eval mode up to the tap only; its parameters get no
// gradients and its mode is restored.
FeatureVis visualize_units(TappedModel& model, const std::string& tap, const std::vector<int64_t>& units,
                           const FeatureVisOptions& options);

// A Gaussian blur of images [N,C,H,W] with a k×k kernel of width sigma, reflect padding.
torch::Tensor gaussian_blur(const torch::Tensor& images, int64_t kernel, double sigma);

}  // namespace loupe
