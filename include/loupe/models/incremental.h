// Incremental inference for local perturbations (Krypton: Nakandala, Kumar & Papakonstantinou,
// "Incremental and Approximate Inference for Faster Occlusion-based Deep CNN Explanations",
// SIGMOD 2019). An occluded image differs from the original only inside a box; each layer's
// output then differs only inside the box's projection through that layer (kernel k, stride s,
// padding p), so the layer is recomputed on that region alone and the cached activations of
// the original image stand everywhere else. Residual additions recompute the union of their
// operands' regions. Exact: the outputs equal a full forward up to float rounding (the same
// kernels on a smaller input).
//
// Works on the zoo's CNNs (small_cnn, resnet18/50 and their _small variants); a layer whose
// region covers at least `full_fraction` of its output is computed whole (Krypton's
// threshold: the gather and paste cost more than they save there), and so are the layers after
// it. The global pooling and the classifier run on the whole last feature map.
#pragma once

#include <torch/types.h>

#include <memory>

#include "loupe/models/taps.h"

namespace loupe {

struct IncrementalPlan;  // the model as a graph of windowed and pointwise ops

class IncrementalForward {
 public:
  // Whether `model` is one of the CNNs this runs on (the zoo's; not a TorchScript module).
  static bool supports(const TappedModel& model);
  // A loupe::Error when !supports(model). The model must stay in eval mode while this is used.
  explicit IncrementalForward(TappedModel& model, double full_fraction = 0.5);
  ~IncrementalForward();
  IncrementalForward(const IncrementalForward&) = delete;
  IncrementalForward& operator=(const IncrementalForward&) = delete;

  // Runs the model on one image [C,H,W] and caches every layer's output; returns its logits [1,K].
  torch::Tensor set_base(const torch::Tensor& image);
  // The model's outputs [B,K] on `inputs` [B,C,H,W], each of which equals the base image
  // outside its box: boxes [B,4] int64 rows (y0, x0, y1, x1), half-open, within the image.
  // Pixels that differ outside their box give wrong outputs (not checked: that would cost a
  // full pass over every input).
  torch::Tensor forward(const torch::Tensor& inputs, const torch::Tensor& boxes);

  // Multiply-accumulates of the convolutions in the last forward() ÷ those of a full forward
  // of the same batch (1 = nothing saved).
  double last_cost_fraction() const { return last_cost_fraction_; }

 private:
  TappedModel& model_;
  std::unique_ptr<IncrementalPlan> plan_;
  double full_fraction_;
  double last_cost_fraction_ = 1.0;
};

}  // namespace loupe
