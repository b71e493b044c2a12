// Options of the pixel-level gradient methods (saliency, Integrated Gradients,
// SmoothGrad); part of ExplainOptions.
#pragma once

#include <cstdint>

namespace loupe {

struct GradientOptions {};

}  // namespace loupe
