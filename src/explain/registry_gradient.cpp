// Gradient-based explainers beyond Grad-CAM: the CAM family and pixel-level maps.
#include "explain/registry_detail.h"

namespace loupe {

void add_gradient_explainers(ExplainerRegistry& /*registry*/) {}

}  // namespace loupe
