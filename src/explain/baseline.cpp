#include "loupe/explain/baseline.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"

namespace loupe {

Baseline parse_baseline(const std::string& text) {
  if (text == "black") return Baseline::Black;
  if (text == "white") return Baseline::White;
  if (text == "blur") return Baseline::Blur;
  fail("baseline '", text, "' is unknown; expected black, white or blur");
}

torch::Tensor make_baseline(const torch::Tensor& images, Baseline kind, double blur_sigma) {
  switch (kind) {
    case Baseline::Black:
      return torch::zeros_like(images);
    case Baseline::White:
      return torch::ones_like(images);
    case Baseline::Blur:
      return gaussian_blur(images, blur_sigma);
  }
  fail("baseline: unknown kind ", static_cast<int>(kind));
}

}  // namespace loupe
