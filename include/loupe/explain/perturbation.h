// The perturbation engine every perturbation method is a thin solver on (Captum's
// feature-ablation idea): features (a label map of superpixels / grid cells, pixel
// masks, or a tap's channels), maskers that fill hidden pixels, and an evaluator that
// composes x' = fill + m·(x − fill) on the model's device and scores the target in
// batches of PerturbationOptions::batch_size (optional bf16/fp16 autocast, or int8 on the CPU).
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loupe/explain/cam_base.h"
#include "loupe/explain/explainer.h"

namespace loupe {

class IncrementalForward;
class QuantizedForward;

// Masks [B,H,W] (1 = keep the image, 0 = the fill, soft values blend) for masks
// begin..end-1, on the engine's device.
using MaskBatch = std::function<torch::Tensor(int64_t begin, int64_t end)>;
// Boxes [B,4] int64 rows (y0, x0, y1, x1), half-open, for boxes begin..end-1.
using BoxBatch = std::function<torch::Tensor(int64_t begin, int64_t end)>;
// Called after each batch with its masks and scores [B,T], e.g. to accumulate maps.
using BatchSink = std::function<void(int64_t begin, const torch::Tensor& masks, const torch::Tensor& scores)>;

class PerturbationEngine {
 public:
  // Puts the model in eval mode for the engine's lifetime.
  PerturbationEngine(TappedModel& model, PerturbationOptions options);
  ~PerturbationEngine();
  PerturbationEngine(const PerturbationEngine&) = delete;
  PerturbationEngine& operator=(const PerturbationEngine&) = delete;

  torch::Device device() const { return device_; }
  const PerturbationOptions& options() const { return options_; }
  TappedModel& model() { return model_; }
  // Images passed through the model so far (forward_from passes count too).
  int64_t evaluations() const { return evaluations_; }
  // The index, within the explain call, of the image being perturbed: every row the
  // targets score carries it as its sample (target.h). explain_images sets it per image.
  void set_sample(int64_t index) { sample_ = index; }
  int64_t sample() const { return sample_; }

  // Scores [count,T] (float, on the device) of the targets on fill + m·(image − fill)
  // for the `count` pixel masks that `masks` yields; image and fill [C,H,W].
  torch::Tensor evaluate(const torch::Tensor& image, const torch::Tensor& fill, int64_t count, const MaskBatch& masks,
                         const std::vector<Target>& targets, const BatchSink& sink = {});
  // Same for `count` images each hidden (filled) inside one box only, as occlusion does. With
  // options().incremental on a zoo CNN, each layer recomputes only the box's region
  // (models/incremental.h); the sink still gets pixel masks.
  torch::Tensor evaluate_boxes(const torch::Tensor& image, const torch::Tensor& fill, int64_t count,
                               const BoxBatch& boxes, const std::vector<Target>& targets, const BatchSink& sink = {});
  // Same with feature masks [M,K] (1 = keep feature k) over an int64 label map [H,W]:
  // pixel masks are a gather of the mask rows by label.
  torch::Tensor evaluate_features(const torch::Tensor& image, const torch::Tensor& fill,
                                  const torch::Tensor& feature_masks, const torch::Tensor& labels,
                                  const std::vector<Target>& targets);
  // The tap's activations [K,h,w] of one image [C,H,W] and the targets' scores [T].
  std::pair<torch::Tensor, torch::Tensor> activations(const std::string& tap, const torch::Tensor& image,
                                                      const std::vector<Target>& targets);
  // Scores [count,T] of the model run from `tap` on activation [K,h,w] scaled channel-
  // wise by keep [B,K] from `keep`: the layers below the tap are not rerun.
  torch::Tensor evaluate_channels(const std::string& tap, const torch::Tensor& activation, int64_t count,
                                  const MaskBatch& keep, const std::vector<Target>& targets);

 private:
  // The scoring loop of evaluate: forward(begin, end, inputs) gives the model's outputs.
  using MaskedForward = std::function<torch::Tensor(int64_t begin, int64_t end, const torch::Tensor& inputs)>;
  torch::Tensor evaluate_masks(const torch::Tensor& image, const torch::Tensor& fill, int64_t count,
                               const MaskBatch& masks, const std::vector<Target>& targets, const BatchSink& sink,
                               const MaskedForward& forward);
  // The model's outputs on perturbed images: model.forward, or its int8 copy (calibrated on
  // the first batch and the fill [C,H,W]).
  torch::Tensor forward_pixels(const torch::Tensor& inputs, const torch::Tensor& fill);
  torch::Tensor score(const std::function<torch::Tensor()>& forward, const torch::Tensor& inputs,
                      const std::vector<Target>& targets);
  TappedModel& model_;
  PerturbationOptions options_;
  std::unique_ptr<IncrementalForward> incremental_;  // made on the first evaluate_boxes
  std::unique_ptr<QuantizedForward> quantized_;      // Precision::kInt8: made on the first batch
  torch::Device device_;
  bool was_training_;
  int64_t evaluations_ = 0;
  int64_t sample_ = 0;
};

// One image's explanation as a solver returns it (map [H,W] at input size, raw).
struct ImageExplanation {
  torch::Tensor map;
  torch::Tensor weights;  // per-feature values [K] or undefined
  torch::Tensor score;    // the target on the unperturbed image (scalar)
  std::map<std::string, torch::Tensor> extras;
};
using ImageSolver =
    std::function<ImageExplanation(PerturbationEngine& engine, const torch::Tensor& image, int64_t index)>;
// Runs `solve` per image on one engine and stacks the results (weights and extras of
// differing sizes are zero-padded); maps get ReLU unless signed, then scale_maps when
// options.normalize.
Attribution explain_images(TappedModel& model, const torch::Tensor& images, const ExplainOptions& options,
                           const ImageSolver& solve);

// The CAM methods that weigh channels through the engine (ScoreCAM, AblationCAM): the
// pipeline is cam_base's (no gradients); per image, the method scores its channels.
class PerturbationCam : public CamExplainer {
 public:
  using CamExplainer::CamExplainer;

 protected:
  bool uses_gradients() const override { return false; }
  torch::Tensor batch_weights(CamBatch& batch) override;
  // Channel weights [K] of one image [C,H,W] from its activations [K,h,w] and score.
  virtual torch::Tensor image_channel_weights(PerturbationEngine& engine, const std::string& tap,
                                              const torch::Tensor& image, const torch::Tensor& activations,
                                              const torch::Tensor& score, const Target& target) = 0;
};

}  // namespace loupe
