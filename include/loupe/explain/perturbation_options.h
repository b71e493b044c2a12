// Options of the perturbation engine and the methods built on it (occlusion, RISE,
// LIME, KernelSHAP, Partition SHAP, ScoreCAM, AblationCAM); part of ExplainOptions.
#pragma once

#include <cstdint>

namespace loupe {

struct PerturbationOptions {};

}  // namespace loupe
