// The explainer registry's parts: each family adds its methods in its own file
// (registry_gradient.cpp, registry_perturbation.cpp), so adding a method touches
// only its family's list.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "loupe/explain/explainer.h"

namespace loupe {

using ExplainerFactory = std::function<std::unique_ptr<Explainer>(const ExplainOptions&)>;
using ExplainerRegistry = std::map<std::string, ExplainerFactory>;

void add_gradient_explainers(ExplainerRegistry& registry);
void add_perturbation_explainers(ExplainerRegistry& registry);

}  // namespace loupe
