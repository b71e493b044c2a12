// Targets: the scalar per sample an explainer explains, as small callables
// (pytorch-grad-cam's model_targets). A Target maps (model outputs, inputs) to [N].
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>

namespace loupe {

using Target = std::function<torch::Tensor(const torch::Tensor& outputs, const torch::Tensor& inputs)>;

// The logit of a fixed class for every sample.
Target class_logit(int64_t cls);
// The logit of classes[i] for sample i (int64 [N]).
Target class_logits(const torch::Tensor& classes);
// The softmax probability of a fixed class.
Target class_probability(int64_t cls);
// The logit of each sample's predicted (arg-max) class.
Target top1_logit();
// Column i of the model output [N,K], e.g. a VAE encoder's latent mean μ_i.
Target output_unit(int64_t unit);
// Per-sample mean squared error between outputs and inputs (same shape), for
// autoencoders whose output is an image: mean over all but the batch dimension.
Target reconstruction_error();

// Evaluates the target and checks it gives one value per image ([N]); a loupe::Error
// naming the target otherwise.
torch::Tensor evaluate_target(const Target& target, const torch::Tensor& outputs, const torch::Tensor& inputs);

// Parses a CLI target: "top1" or a class index in [0, num_classes); an index out of
// range or any other text is a loupe::Error naming the value.
Target parse_target(const std::string& text, int64_t num_classes);

}  // namespace loupe
