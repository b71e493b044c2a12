// Options of the perturbation engine and the methods built on it (occlusion, RISE,
// LIME, KernelSHAP, Partition SHAP, ScoreCAM, AblationCAM); part of ExplainOptions.
// Zero / kAuto fields mean "the method's own default", documented in its header.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "loupe/explain/segmentation.h"

namespace loupe {

// How hidden pixels are filled.
enum class Masker {
  kAuto,          // the method's default (LIME: segment mean, Partition: blur, others: constant)
  kConstant,      // every channel = fill_value
  kImageMean,     // each channel's mean over the image
  kBlur,          // box blur of side blur_size, as shap's "blur(k,k)" masker (cv2.blur)
  kGaussianBlur,  // Gaussian blur of side blur_size (σ as OpenCV's for that side)
  kReplacement,   // the pixels of `replacement` (e.g. an autoencoder's reconstruction)
  kSegmentMean,   // each superpixel's mean colour (LIME's hide_color=None)
};

// Arithmetic of the model evaluations; reduced precision is autocast (CUDA: bf16 or fp16;
// CPU: bf16). kInt8: the zoo's CNNs on the CPU, quantised after training (models/quantized.h)
// with activation ranges from the first batch of perturbed images; pixel perturbations
// only (ScoreCAM and AblationCAM, which perturb a tap's channels, stay in float).
enum class Precision { kFloat, kBFloat16, kHalf, kInt8 };

struct PerturbationOptions {
  int64_t batch_size = 64;                  // perturbed images per forward pass
  int64_t samples = 0;                      // masks per image; 0 = method default (LIME 1000, SHAP 2K+2048, RISE 4000)
  uint64_t seed = 0;                        // seed of every random draw (masks, shifts, tie-breaks)
  Masker masker = Masker::kAuto;            // fill of hidden pixels
  double fill_value = 0.0;                  // colour of Masker::kConstant (occlusion's baseline)
  int64_t blur_size = 128;                  // kernel side of the blur maskers (shap's blur(128,128))
  torch::Tensor replacement;                // [N,C,H,W] or [C,H,W] fill images for Masker::kReplacement
  int64_t window = 8;                       // occlusion: side of the square sliding window
  int64_t stride = 4;                       // occlusion: step between windows
  double kernel_width = 0.25;               // LIME: width of the kernel on cosine distance
  double ridge_alpha = 1.0;                 // LIME: L2 penalty of the weighted ridge fit
  int64_t top_labels = 0;                   // LIME: explain the k largest model outputs at once (0 = the target)
  int64_t max_evals = 500;                  // Partition SHAP: model evaluations per image
  int64_t exact_max_features = 14;          // KernelSHAP: enumerate all 2^K coalitions up to this K
  int64_t rise_cells = 7;                   // RISE: side s of the s×s random grid
  double rise_probability = 0.5;            // RISE: probability p that a grid cell is kept
  SegmentOptions segmentation;              // LIME / KernelSHAP superpixels
  torch::Tensor segments;                   // explicit int64 label map [H,W] or [N,H,W]; overrides segmentation
  Precision precision = Precision::kFloat;  // autocast dtype (CPU: float or bf16) or int8 quantisation
  bool incremental = true;                  // occlusion on the zoo's CNNs: recompute only the occluded region (Krypton)

  // clang-format off
  PerturbationOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  PerturbationOptions& set_samples(int64_t v) { samples = v; return *this; }
  PerturbationOptions& set_seed(uint64_t v) { seed = v; return *this; }
  PerturbationOptions& set_masker(Masker v) { masker = v; return *this; }
  PerturbationOptions& set_fill_value(double v) { fill_value = v; return *this; }
  PerturbationOptions& set_blur_size(int64_t v) { blur_size = v; return *this; }
  PerturbationOptions& set_replacement(torch::Tensor v) { replacement = std::move(v); return *this; }
  PerturbationOptions& set_window(int64_t v) { window = v; return *this; }
  PerturbationOptions& set_stride(int64_t v) { stride = v; return *this; }
  PerturbationOptions& set_kernel_width(double v) { kernel_width = v; return *this; }
  PerturbationOptions& set_ridge_alpha(double v) { ridge_alpha = v; return *this; }
  PerturbationOptions& set_top_labels(int64_t v) { top_labels = v; return *this; }
  PerturbationOptions& set_max_evals(int64_t v) { max_evals = v; return *this; }
  PerturbationOptions& set_exact_max_features(int64_t v) { exact_max_features = v; return *this; }
  PerturbationOptions& set_rise_cells(int64_t v) { rise_cells = v; return *this; }
  PerturbationOptions& set_rise_probability(double v) { rise_probability = v; return *this; }
  PerturbationOptions& set_segmentation(SegmentOptions v) { segmentation = std::move(v); return *this; }
  PerturbationOptions& set_segments(torch::Tensor v) { segments = std::move(v); return *this; }
  PerturbationOptions& set_precision(Precision v) { precision = v; return *this; }
  PerturbationOptions& set_incremental(bool v) { incremental = v; return *this; }
  // clang-format on
};

}  // namespace loupe
