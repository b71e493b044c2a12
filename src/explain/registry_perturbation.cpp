// Explainers built on the perturbation engine.
#include "explain/registry_detail.h"
#include "loupe/explain/ablationcam.h"
#include "loupe/explain/kernel_shap.h"
#include "loupe/explain/lime.h"
#include "loupe/explain/occlusion.h"
#include "loupe/explain/partition_shap.h"
#include "loupe/explain/rise.h"
#include "loupe/explain/scorecam.h"

namespace loupe {
namespace {

template <class Method>
ExplainerFactory factory() {
  return [](const ExplainOptions& o) { return std::make_unique<Method>(o); };
}

}  // namespace

void add_perturbation_explainers(ExplainerRegistry& registry) {
  registry["occlusion"] = factory<Occlusion>();
  registry["rise"] = factory<Rise>();
  registry["ablationcam"] = factory<AblationCam>();
  registry["scorecam"] = factory<ScoreCam>();
  registry["lime"] = factory<Lime>();
  registry["kernelshap"] = factory<KernelShap>();
  registry["partition"] = factory<PartitionShap>();
}

}  // namespace loupe
