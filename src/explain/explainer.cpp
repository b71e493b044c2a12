#include "loupe/explain/explainer.h"

#include <map>
#include <sstream>

#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "explain/registry_detail.h"
#include "loupe/explain/gradcam.h"

namespace loupe {
namespace {

const ExplainerRegistry& explainer_registry() {
  static const ExplainerRegistry factories = [] {
    ExplainerRegistry r = {
        {"gradcam", [](const ExplainOptions& o) { return std::make_unique<GradCam>(o); }},
    };
    add_gradient_explainers(r);
    add_perturbation_explainers(r);
    return r;
  }();
  return factories;
}

}  // namespace

std::vector<std::string> explainer_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : explainer_registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Explainer> make_explainer(const std::string& name, const ExplainOptions& options) {
  const auto& factories = explainer_registry();
  auto it = factories.find(name);
  if (it == factories.end()) {
    std::ostringstream valid;
    for (const auto& n : explainer_names()) valid << (valid.tellp() ? ", " : "") << n;
    fail("explainer '", name, "' is unknown; valid methods: ", valid.str());
  }
  return it->second(options);
}

torch::Device model_device(const torch::nn::Module& model) {
  const auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

void check_images(const torch::Tensor& images, const std::string& what) {
  LOUPE_CHECK(images.defined() && images.dim() == 4, what, ": expected images [N,C,H,W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(images.size(0) > 0, what, ": expected at least one image");
  LOUPE_CHECK(images.is_floating_point(), what, ": expected float images in [0,1], got ", images.scalar_type());
  check_finite(images, what);
}

}  // namespace loupe
