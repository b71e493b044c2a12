// Score-CAM (Wang et al., CVPRW 2020, as pytorch-grad-cam's ScoreCAM): each channel
// of the tap is upsampled bilinearly to the input size (align_corners = true, as the
// reference's UpsamplingBilinear2d) and min-max normalised to
// [0,1] (+1e-8 in the denominator), multiplies the input (fill 0), and the target's
// scores on those inputs, softmaxed over channels, are the channel weights.
#pragma once

#include "loupe/explain/perturbation.h"

namespace loupe {

class ScoreCam : public PerturbationCam {
 public:
  using PerturbationCam::PerturbationCam;
  std::string name() const override { return "scorecam"; }

 protected:
  torch::Tensor image_channel_weights(PerturbationEngine& engine, const std::string& tap, const torch::Tensor& image,
                                      const torch::Tensor& activations, const torch::Tensor& score,
                                      const Target& target) override;
};

}  // namespace loupe
