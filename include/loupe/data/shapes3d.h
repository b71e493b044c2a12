// Procedural Shapes3D: DeepMind's 3dshapes (Burgess & Kim 2018) re-rendered by ray
// casting in LibTorch ops — a floor, a wall, sky, and one lit object — with its six
// factors, cardinalities and index order. Choices: hue h is HSV(h, 0.8, 0.95) with
// h = i/10 (index 3, 108°, is "green"); orientation turns the camera about the object
// (so it moves the wall edge as in 3dshapes); a directional light with ambient term
// and hard shadows. Deterministic: an image depends only on its factors.
#pragma once

#include <string>
#include <vector>

#include "loupe/data/factors.h"

namespace loupe {

// floor_hue 10, wall_hue 10, object_hue 10, scale 8, shape 4, orientation 15.
const std::vector<std::string>& shapes3d_factor_names();
const std::vector<int64_t>& shapes3d_factor_sizes();
// The value of each index as stored in 3dshapes.h5: hues i/10, scale 0.75…1.25,
// shape 0…3, orientation −30…30 (degrees).
std::vector<double> shapes3d_factor_values(int64_t factor);
// red orange yellow green mint cyan azure blue purple pink; cube cylinder sphere capsule;
// scales "0.75"… and orientations "-30.0"… (never integers, so "7" always means an index).
std::vector<std::string> shapes3d_value_names(int64_t factor);

// "sky", "floor", "wall", "object": the values of Shapes3D::render_parts.
const std::vector<std::string>& shapes3d_part_names();

struct Shapes3DOptions {
  int64_t image_size = 64;             // square images, H = W
  int64_t supersample = 2;             // rays per pixel side (antialiasing); 1 is fastest
  std::string label_factor = "shape";  // get().labels carry this factor
  torch::Device device = torch::kCPU;  // where get() renders (images come back on the CPU)
  Shapes3DOptions& set_image_size(int64_t v) {
    image_size = v;
    return *this;
  }
  Shapes3DOptions& set_supersample(int64_t v) {
    supersample = v;
    return *this;
  }
  Shapes3DOptions& set_label_factor(std::string v) {
    label_factor = std::move(v);
    return *this;
  }
  Shapes3DOptions& set_device(torch::Device v) {
    device = v;
    return *this;
  }
};

class Shapes3D : public FactorDataset {
 public:
  explicit Shapes3D(Shapes3DOptions options = {});
  std::vector<std::string> factor_names() const override { return shapes3d_factor_names(); }
  std::vector<int64_t> factor_sizes() const override { return shapes3d_factor_sizes(); }
  std::vector<std::string> value_names(int64_t factor) const override { return shapes3d_value_names(factor); }
  int64_t label_factor() const override { return label_factor_; }
  Batch get(const torch::Tensor& indices) const override;
  std::array<int64_t, 3> image_shape() const override;

  // Renders factor vectors int64 [B,6] (any device) as float [B,3,H,W] on `device`,
  // quantised to multiples of 1/255 like the uint8 original.
  torch::Tensor render(const torch::Tensor& factors, torch::Device device) const;
  // What each pixel's centre ray meets first, int64 [B,H,W] on the CPU: 0 sky, 1 floor,
  // 2 wall, 3 object (shapes3d_part_names()); the concept masks of unit dissection.
  torch::Tensor render_parts(const torch::Tensor& factors, torch::Device device) const;

 private:
  Shapes3DOptions options_;
  int64_t label_factor_;
};

}  // namespace loupe
