// Post-training static int8 quantisation of the zoo's CNNs on the CPU, as PyTorch's eager
// workflow does it with the onednn qconfig (torch.ao.quantization: fuse, prepare, calibrate,
// convert): each BatchNorm folded into its convolution, ReLUs fused into the convolutions and
// residual additions, weights int8 symmetric per output channel, activations uint8 affine
// per tensor with min/max ranges observed on calibration images; run by LibTorch's quantized
// kernels (oneDNN with VNNI where the CPU has it). The global pooling and the classifier
// stay in float. Outputs differ from the float model's by the quantisation error: use it
// where ranking agrees (bench_cpu_speed reports the Spearman of maps against fp32).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>

#include "loupe/models/taps.h"

namespace loupe {

struct QuantizedPlan;  // fused layers with their packed weights and output ranges

class QuantizedForward {
 public:
  // Whether `model` is one of the zoo's CNNs and this LibTorch has an int8 engine.
  static bool supports(const TappedModel& model);
  // The int8 engine used ("onednn", "x86", "fbgemm" or "qnnpack"), empty without one.
  static std::string engine();
  // Quantises `model` (float, on the CPU, in eval mode; not modified) with activation ranges
  // from `calibration` [N,C,H,W]. A loupe::Error when !supports(model).
  QuantizedForward(TappedModel& model, const torch::Tensor& calibration);
  ~QuantizedForward();
  QuantizedForward(const QuantizedForward&) = delete;
  QuantizedForward& operator=(const QuantizedForward&) = delete;

  // The model's outputs [N,K] (float) on images [N,C,H,W], computed in int8.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  TappedModel& model_;
  std::unique_ptr<QuantizedPlan> plan_;
};

}  // namespace loupe
