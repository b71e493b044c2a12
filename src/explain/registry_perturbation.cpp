// Explainers built on the perturbation engine.
#include "explain/registry_detail.h"

namespace loupe {

void add_perturbation_explainers(ExplainerRegistry& /*registry*/) {}

}  // namespace loupe
