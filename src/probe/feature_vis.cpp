#include "loupe/probe/feature_vis.h"

#include <torch/torch.h>

#include <cmath>
#include <random>

#include "loupe/core/choices.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/progress.h"
#include "loupe/probe/units.h"

namespace loupe {

namespace F = torch::nn::functional;

std::vector<std::string> feature_vis_method_names() { return {"pixel", "fourier"}; }

FeatureVisMethod parse_feature_vis_method(const std::string& text, const std::string& what) {
  return static_cast<FeatureVisMethod>(choice_index(text, feature_vis_method_names(), what));
}

void check_feature_vis_options(const FeatureVisOptions& o) {
  LOUPE_CHECK(o.steps >= 1, "feature visualisation steps ", o.steps, ": expected at least 1");
  LOUPE_CHECK(o.lr > 0 && std::isfinite(o.lr), "feature visualisation learning rate ", o.lr, ": expected > 0");
  LOUPE_CHECK(o.channels >= 1 && o.height >= 4 && o.width >= 4, "feature visualisation image ", o.channels, "x",
              o.height, "x", o.width, ": expected at least 1 channel and 4x4 pixels");
  LOUPE_CHECK(o.blur_every >= 0, "blur every ", o.blur_every, " steps: expected >= 0 (0 = never)");
  LOUPE_CHECK(o.jitter >= 0 && o.jitter < std::min(o.height, o.width), "jitter ", o.jitter,
              ": expected 0 to the image side - 1");
  LOUPE_CHECK(std::isfinite(o.decay_power) && o.decay_power >= 0, "decay power ", o.decay_power, ": expected >= 0");
}

torch::Tensor gaussian_blur(const torch::Tensor& images, int64_t kernel, double sigma) {
  LOUPE_CHECK(images.dim() == 4 && kernel >= 1 && kernel % 2 == 1 && sigma > 0,
              "gaussian blur: expected images [N,C,H,W], an odd kernel and sigma > 0");
  const auto x = torch::arange(kernel, images.options()) - (kernel - 1) / 2.0;
  auto g = (-x.square() / (2 * sigma * sigma)).exp();
  g = g / g.sum();
  const int64_t c = images.size(1), r = kernel / 2;
  const auto padded = F::pad(images, F::PadFuncOptions({r, r, r, r}).mode(torch::kReflect));
  const auto kx = g.view({1, 1, 1, kernel}).expand({c, 1, 1, kernel}).contiguous();
  const auto ky = g.view({1, 1, kernel, 1}).expand({c, 1, kernel, 1}).contiguous();
  return F::conv2d(F::conv2d(padded, kx, F::Conv2dFuncOptions().groups(c)), ky, F::Conv2dFuncOptions().groups(c));
}

namespace {

// The per-row mean activation of each row's own unit: maps [U,U,h,w] (row r, unit r on the diagonal).
torch::Tensor own_unit_means(TappedModel& model, const torch::Tensor& images, const std::string& tap,
                             const torch::Tensor& units) {
  const auto maps = unit_activations(model, images, tap, units);  // [U,U,h,w]
  const auto rows = torch::arange(maps.size(0), torch::TensorOptions().dtype(torch::kLong).device(maps.device()));
  return maps.index({rows, rows}).flatten(1).mean(1);
}

// Lucid's colour correlation (the square root of the ImageNet colour covariance), its
// columns scaled so the largest has norm 1.
torch::Tensor colour_correlation(torch::Device device) {
  auto c = torch::tensor({0.26, 0.09, 0.02, 0.27, 0.00, -0.05, 0.27, -0.09, 0.03}, torch::kFloat).view({3, 3});
  c = c / c.norm(2, 0).max();
  return c.to(device);
}

class Parameterisation {
 public:
  Parameterisation(const FeatureVisOptions& o, int64_t rows, torch::Device device) : o_(o) {
    auto gen = make_generator(o.seed);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
    if (o.method == FeatureVisMethod::kPixel) {
      param_ = torch::rand({rows, o.channels, o.height, o.width}, gen, f32).to(device);
    } else {
      const int64_t wf = o.width / 2 + 1;
      param_ = (torch::randn({rows, o.channels, o.height, wf, 2}, gen, f32) * 0.01).to(device);
      const auto fy = torch::fft::fftfreq(o.height, f32).view({-1, 1});
      const auto fx = torch::fft::rfftfreq(o.width, f32).view({1, -1});
      const auto freqs = (fy.square() + fx.square()).sqrt();
      scale_ = freqs.clamp_min(1.0 / static_cast<double>(std::max(o.height, o.width))).pow(-o.decay_power);
      scale_ = scale_.view({1, 1, o.height, wf, 1}).to(device);
      if (o.decorrelate && o.channels == 3) colours_ = colour_correlation(device);
    }
    param_.requires_grad_(true);
  }
  torch::Tensor& parameter() { return param_; }
  // The image the parameter stands for, in [0,1].
  torch::Tensor image() const {
    if (o_.method == FeatureVisMethod::kPixel) return param_;
    const auto spectrum = torch::view_as_complex((param_ * scale_).contiguous());
    auto x =
        torch::fft::irfftn(spectrum, std::vector<int64_t>{o_.height, o_.width}, std::vector<int64_t>{2, 3}, "ortho");
    x = x / 4.0;  // Lucid's constant
    if (colours_.defined()) x = torch::matmul(x.permute({0, 2, 3, 1}), colours_.t()).permute({0, 3, 1, 2});
    return torch::sigmoid(x);
  }
  // After each optimiser step (pixel: blur and clamp).
  void after_step(int64_t step) {
    if (o_.method != FeatureVisMethod::kPixel) return;
    torch::NoGradGuard no_grad;
    if (o_.blur_every > 0 && (step + 1) % o_.blur_every == 0) param_.copy_(gaussian_blur(param_, 3, 0.8));
    param_.clamp_(0.0, 1.0);
  }

 private:
  const FeatureVisOptions& o_;
  torch::Tensor param_, scale_, colours_;
};

// Transformation robustness (Lucid's standard transforms, sizes scaled from 224 pixels to
// the image): pad with gray, jitter, scale, rotate, jitter, then back to the model's size.
class Transforms {
 public:
  Transforms(const FeatureVisOptions& o) : o_(o), rng_(o.seed + 1) {
    const double f = static_cast<double>(std::max(o.height, o.width)) / 224.0;
    pad_ = std::max<int64_t>(1, std::lround(12 * f));
    jitter1_ = std::max<int64_t>(1, std::lround(8 * f));
    jitter2_ = std::max<int64_t>(1, std::lround(4 * f));
  }
  torch::Tensor operator()(const torch::Tensor& x) {
    if (o_.method == FeatureVisMethod::kPixel) return o_.jitter > 0 ? roll(x, o_.jitter) : x;
    if (!o_.transforms) return x;
    auto y = F::pad(x, F::PadFuncOptions({pad_, pad_, pad_, pad_}).value(0.5));
    y = crop_jitter(y, jitter1_);
    const double s = 1.0 + (pick(11) - 5) / 50.0;
    const int64_t angle_index = pick(26);  // -10..10 degrees, and 0 five more times (Lucid)
    const double degrees = angle_index <= 20 ? angle_index - 10.0 : 0.0;
    y = scale_rotate(y, s, degrees);
    y = crop_jitter(y, jitter2_);
    return F::interpolate(y, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{o_.height, o_.width})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  }

 private:
  int64_t pick(int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng_); }
  torch::Tensor roll(const torch::Tensor& x, int64_t d) {
    const int64_t dy = pick(2 * d + 1) - d, dx = pick(2 * d + 1) - d;
    return torch::roll(x, {dy, dx}, {2, 3});
  }
  torch::Tensor crop_jitter(const torch::Tensor& x, int64_t d) {
    const int64_t oy = pick(d + 1), ox = pick(d + 1);
    return x.narrow(2, oy, x.size(2) - d).narrow(3, ox, x.size(3) - d);
  }
  torch::Tensor scale_rotate(const torch::Tensor& x, double s, double degrees) {
    const double t = degrees * M_PI / 180.0;
    // The sampling grid maps output to input coordinates: the inverse of scaling by s.
    const auto theta =
        torch::tensor({std::cos(t) / s, -std::sin(t) / s, 0.0, std::sin(t) / s, std::cos(t) / s, 0.0}, x.options())
            .view({1, 2, 3})
            .expand({x.size(0), 2, 3});
    const auto grid = F::affine_grid(theta, x.sizes(), false);
    return F::grid_sample(
        x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  }

  const FeatureVisOptions& o_;
  std::mt19937_64 rng_;
  int64_t pad_ = 0, jitter1_ = 0, jitter2_ = 0;
};

}  // namespace

FeatureVis visualize_units(TappedModel& model, const std::string& tap, const std::vector<int64_t>& units,
                           const FeatureVisOptions& o) {
  check_feature_vis_options(o);
  const auto unit_index = resolve_units(units, unit_count(model, tap, {o.channels, o.height, o.width}), tap);
  const int64_t rows = unit_index.size(0);
  const auto device = model.parameters().empty() ? torch::Device(torch::kCPU) : model.parameters().front().device();
  const bool was_training = model.is_training();
  model.eval();
  Parameterisation param(o, rows, device);
  Transforms transform(o);
  torch::optim::Adam adam({param.parameter()}, torch::optim::AdamOptions(o.lr));
  FeatureVis result;
  result.units = unit_index;
  Progress progress("feature visualisation", o.steps, "step");
  for (int64_t step = 0; step < o.steps; ++step) {
    const auto activation = own_unit_means(model, transform(param.image()), tap, unit_index);
    // Each row's gradient is its own unit's: the sum keeps rows independent.
    const auto grad = torch::autograd::grad({-activation.sum()}, {param.parameter()})[0];
    param.parameter().mutable_grad() = grad;
    adam.step();
    param.after_step(step);
    result.objective.push_back(activation.mean().item<double>());
    progress.advance(1);
  }
  {
    torch::NoGradGuard no_grad;
    result.images = param.image().detach().clamp(0.0, 1.0).cpu();
    result.activation = own_unit_means(model, result.images.to(device), tap, unit_index).cpu();
  }
  model.train(was_training);
  return result;
}

}  // namespace loupe
