// Procedural dSprites (Matthey et al. 2017): 64×64 binary sprites with DeepMind's
// factors, cardinalities and index order (the one-valued colour factor dropped):
// shape 3 (square, ellipse, heart), scale 6 (0.5…1), orientation 40 (0…2π, both
// ends included as in dsprites.npz), pos_x 32 and pos_y 32 (0…1). Choices: a pixel is
// on when its centre is inside the sprite; at scale 1 the square is 20 px wide, the
// ellipse 20×10 px, the heart ≈20 px; centres run from 10 to 54 px (pos_y 0 at the top).
#pragma once

#include <string>
#include <vector>

#include "loupe/data/factors.h"

namespace loupe {

const std::vector<std::string>& dsprites_factor_names();
const std::vector<int64_t>& dsprites_factor_sizes();
// Numeric value of each index (scale, radians, position in [0,1]; shape 0…2).
std::vector<double> dsprites_factor_values(int64_t factor);

struct DSpritesOptions {
  std::string label_factor = "shape";  // get().labels carry this factor
  torch::Device device = torch::kCPU;  // where get() renders (images come back on the CPU)
  DSpritesOptions& set_label_factor(std::string v) {
    label_factor = std::move(v);
    return *this;
  }
  DSpritesOptions& set_device(torch::Device v) {
    device = v;
    return *this;
  }
};

class DSprites : public FactorDataset {
 public:
  explicit DSprites(DSpritesOptions options = {});
  std::vector<std::string> factor_names() const override { return dsprites_factor_names(); }
  std::vector<int64_t> factor_sizes() const override { return dsprites_factor_sizes(); }
  // square ellipse heart; numbers with 2–3 decimals for the others (never integers).
  std::vector<std::string> value_names(int64_t factor) const override;
  int64_t label_factor() const override { return label_factor_; }
  Batch get(const torch::Tensor& indices) const override;
  std::array<int64_t, 3> image_shape() const override { return {1, 64, 64}; }

  // Renders factor vectors int64 [B,5] as float [B,1,64,64] of 0s and 1s on `device`.
  torch::Tensor render(const torch::Tensor& factors, torch::Device device) const;

 private:
  DSpritesOptions options_;
  int64_t label_factor_;
};

}  // namespace loupe
