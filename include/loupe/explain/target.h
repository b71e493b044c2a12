// Targets: the scalar per sample an explainer explains, as small callables
// (pytorch-grad-cam's model_targets). A Target maps (model outputs [M,...], inputs [M,...],
// samples int64 [M]) to [M], where samples[m] is the index, within the explain call, of
// the image row m comes from: perturbed copies, noisy copies and path points share their
// image's index. So a target may carry one parameter per image (a class, an attack's
// target class, a reference image), and every method explains the same thing per image
// in one call.
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>
#include <type_traits>

#include "loupe/anomaly/reconstruction.h"

namespace loupe {

class Target {
 public:
  using Fn = std::function<torch::Tensor(const torch::Tensor& outputs, const torch::Tensor& inputs,
                                         const torch::Tensor& samples)>;
  Target() = default;
  // f(outputs, inputs, samples).
  template <class F, std::enable_if_t<!std::is_same_v<std::decay_t<F>, Target> &&
                                          std::is_invocable_r_v<torch::Tensor, F&, const torch::Tensor&,
                                                                const torch::Tensor&, const torch::Tensor&>,
                                      int> = 0>
  Target(F f) : fn_(std::move(f)) {}  // NOLINT(google-explicit-constructor): lambdas are targets
  // f(outputs, inputs): the same function for every sample.
  template <class F,
            std::enable_if_t<!std::is_same_v<std::decay_t<F>, Target> &&
                                 std::is_invocable_r_v<torch::Tensor, F&, const torch::Tensor&, const torch::Tensor&>,
                             int> = 0>
  Target(F f)  // NOLINT(google-explicit-constructor)
      : fn_([f = std::move(f)](const torch::Tensor& o, const torch::Tensor& i, const torch::Tensor&) mutable {
          return f(o, i);
        }) {}

  // samples undefined = rows 0..M-1 are the images 0..M-1.
  torch::Tensor operator()(const torch::Tensor& outputs, const torch::Tensor& inputs,
                           const torch::Tensor& samples = {}) const;
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  Fn fn_;
};

// The logit of a fixed class for every sample.
Target class_logit(int64_t cls);
// The logit of classes[s] for a row of sample s (classes int64 [N], one per image).
Target class_logits(const torch::Tensor& classes);
// The softmax probability of a fixed class.
Target class_probability(int64_t cls);
// The softmax probability of classes[s] for a row of sample s.
Target class_probabilities(const torch::Tensor& classes);
// The logit of each row's own arg-max class (of a perturbed copy, its own arg-max; to
// explain the image's predicted class under perturbation, resolve it first and use
// class_logits).
Target top1_logit();
// Column i of the model output [N,K], e.g. a VAE encoder's latent mean μ_i.
Target output_unit(int64_t unit);
// Per-row mean squared error between outputs and inputs (same shape), for autoencoders
// whose output is an image: the reconstruction error of the (perturbed) input itself.
Target reconstruction_error();
// Per-row mean squared error between outputs and reference[s] (reference [N,...], one
// per image): the reconstruction of a perturbed copy against its unperturbed image.
Target reconstruction_error(const torch::Tensor& reference);
// The anomaly score (anomaly/reconstruction.h: α = max of m by default) of each row's input
// against the model's output, its reconstruction: what the detector flags, so a
// perturbation method explains the flag itself. Inputs and outputs in [0,1].
Target anomaly_score(const AnomalyScoreOptions& options = {});
// Per-row mean squared difference between the (perturbed) input and reference[s]; the
// model's output is ignored: the seed paper's literal f(ξx) = MSE(ξ − ξx).
Target input_difference(const torch::Tensor& reference);

// Evaluates the target and checks it gives one value per row ([M]); a loupe::Error
// naming the target otherwise. samples undefined = 0..M-1.
torch::Tensor evaluate_target(const Target& target, const torch::Tensor& outputs, const torch::Tensor& inputs,
                              const torch::Tensor& samples = {});
// int64 [count] of `first`, first + 1, ...: the samples of a batch of consecutive images.
torch::Tensor sample_range(int64_t first, int64_t count, torch::Device device = torch::kCPU);

// The class each image's explanation targets, from the CLI's --target: "top1" = each
// image's predicted class (`predicted`, int64 [N]), or one class index for all, which
// must lie in [0, num_classes); other text is a loupe::Error naming the value.
torch::Tensor target_classes(const std::string& text, const torch::Tensor& predicted, int64_t num_classes);

}  // namespace loupe
