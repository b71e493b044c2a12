// Gradient-based explainers beyond Grad-CAM: the CAM family and pixel-level maps.
#include "explain/registry_detail.h"
#include "loupe/explain/gradcampp.h"
#include "loupe/explain/hirescam.h"
#include "loupe/explain/integrated_gradients.h"
#include "loupe/explain/layercam.h"
#include "loupe/explain/saliency.h"
#include "loupe/explain/smoothgrad.h"
#include "loupe/explain/xgradcam.h"

namespace loupe {
namespace {
template <class Method>
void add(ExplainerRegistry& registry, const std::string& name) {
  registry[name] = [](const ExplainOptions& o) { return std::make_unique<Method>(o); };
}
}  // namespace

void add_gradient_explainers(ExplainerRegistry& registry) {
  add<GradCamPlusPlus>(registry, "gradcampp");
  add<HiResCam>(registry, "hirescam");
  add<LayerCam>(registry, "layercam");
  add<XGradCam>(registry, "xgradcam");
  add<Saliency>(registry, "saliency");
  add<IntegratedGradients>(registry, "integrated_gradients");
  add<SmoothGrad>(registry, "smoothgrad");
}

}  // namespace loupe
