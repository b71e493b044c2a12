// The explainer registry: every method by name, in one list. Adding a method is one line.
#include <torch/torch.h>

#include <map>

#include "loupe/core/error.h"
#include "loupe/explain/ablationcam.h"
#include "loupe/explain/explainer.h"
#include "loupe/explain/gradcam.h"
#include "loupe/explain/gradcampp.h"
#include "loupe/explain/hirescam.h"
#include "loupe/explain/integrated_gradients.h"
#include "loupe/explain/kernel_shap.h"
#include "loupe/explain/layercam.h"
#include "loupe/explain/lime.h"
#include "loupe/explain/occlusion.h"
#include "loupe/explain/partition_shap.h"
#include "loupe/explain/rise.h"
#include "loupe/explain/saliency.h"
#include "loupe/explain/scorecam.h"
#include "loupe/explain/smoothgrad.h"
#include "loupe/explain/xgradcam.h"
#include "loupe/core/device.h"

namespace loupe {
namespace {

using ExplainerFactory = std::unique_ptr<Explainer> (*)(const ExplainOptions&);

template <class Method>
std::unique_ptr<Explainer> build_explainer(const ExplainOptions& options) {
  return std::make_unique<Method>(options);
}

const std::map<std::string, ExplainerFactory>& explainer_registry() {
  static const std::map<std::string, ExplainerFactory> registry = {
      // CAM family (gradients at a tap)
      {"gradcam", build_explainer<GradCam>},
      {"gradcampp", build_explainer<GradCamPlusPlus>},
      {"hirescam", build_explainer<HiResCam>},
      {"layercam", build_explainer<LayerCam>},
      {"xgradcam", build_explainer<XGradCam>},
      // CAM family on the perturbation engine
      {"ablationcam", build_explainer<AblationCam>},
      {"scorecam", build_explainer<ScoreCam>},
      // pixel gradients
      {"saliency", build_explainer<Saliency>},
      {"integrated_gradients", build_explainer<IntegratedGradients>},
      {"smoothgrad", build_explainer<SmoothGrad>},
      // perturbation engine
      {"occlusion", build_explainer<Occlusion>},
      {"rise", build_explainer<Rise>},
      {"lime", build_explainer<Lime>},
      {"kernelshap", build_explainer<KernelShap>},
      {"partition", build_explainer<PartitionShap>},
  };
  return registry;
}

}  // namespace

std::vector<std::string> explainer_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : explainer_registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Explainer> make_explainer(const std::string& name, const ExplainOptions& options) {
  ensure_initialised();
  const auto& registry = explainer_registry();
  const auto it = registry.find(name);
  LOUPE_CHECK(it != registry.end(), "explainer '", name, "' is unknown; valid methods: ", join_names(explainer_names()));
  return it->second(options);
}

}  // namespace loupe
