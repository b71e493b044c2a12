// The shared pipeline of the whole CAM family (as pytorch-grad-cam's BaseCAM): record
// the tap's activations A [N,K,h,w], back-propagate the target to get dY/dA (methods
// that need no gradient skip it), let the method weigh the channels, map =
// ReLU(Σ_k w_k A_k) (no ReLU when signed), upsample bilinearly to the input size, then
// scale each map to [0,1] (min-max, as pytorch-grad-cam) or, when signed, divide by
// max |map| so 0 stays 0. Gradient CAMs define channel_weights(A, G); ScoreCAM and
// AblationCAM (PerturbationCam, perturbation.h) weigh channels by running the model.
#pragma once

#include "loupe/explain/explainer.h"

namespace loupe {

class CamExplainer : public Explainer {
 public:
  explicit CamExplainer(ExplainOptions options) : options_(std::move(options)) {}
  Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) override;

 protected:
  // One batch as the method sees it.
  struct CamBatch {
    TappedModel& model;
    const std::string& tap;
    const Target& target;
    torch::Tensor images;       // [n,C,H,W] on the model's device
    torch::Tensor activations;  // A [n,K,h,w], detached
    torch::Tensor grads;        // dY/dA [n,K,h,w]; undefined when the method uses no gradients
    torch::Tensor scores;       // the target on the images [n]
    int64_t first = 0;          // index of images[0] in the explain call (the targets' sample)
    int64_t evaluations = 0;    // images the method passed through the model besides the batch
  };
  // Whether the method needs dY/dA (methods that only perturb skip the backward pass).
  virtual bool uses_gradients() const { return true; }
  // Channel weights [n,K] of a batch; by default channel_weights(A, G).
  virtual torch::Tensor batch_weights(CamBatch& batch);
  // Channel weights [n,K] from activations A and gradients G (both [n,K,h,w]).
  virtual torch::Tensor channel_weights(const torch::Tensor& activations, const torch::Tensor& grads);
  // The map at tap resolution [N,h,w], before ReLU; the default is Σ_k w_k A_k.
  virtual torch::Tensor weighted_map(const torch::Tensor& activations, const torch::Tensor& grads,
                                     const torch::Tensor& weights);
  const ExplainOptions& options() const { return options_; }

 private:
  ExplainOptions options_;
};

// Resizes maps [N,h,w] to [N,H,W] bilinearly (align_corners = false).
torch::Tensor upsample_maps(const torch::Tensor& maps, int64_t height, int64_t width);
// Per-map scaling to [0,1] (min-max) or, when signed, to [-1,1] by max |map|.
torch::Tensor scale_maps(const torch::Tensor& maps, bool signed_maps);

}  // namespace loupe
