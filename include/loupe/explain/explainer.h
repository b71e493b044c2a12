// The Explainer interface and the name → factory registry of explanation methods.
// explain(model, images, target) → Attribution: maps [N,H,W] at input resolution,
// plus per-feature weights where the method has features.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "loupe/explain/gradient_options.h"
#include "loupe/explain/perturbation_options.h"
#include "loupe/explain/target.h"
#include "loupe/models/taps.h"

namespace loupe {

struct Attribution {
  torch::Tensor maps;     // float [N,H,W] on the CPU; in [0,1] unless signed
  torch::Tensor weights;  // per-feature weights, e.g. CAM channel weights [N,K]; may be undefined
  torch::Tensor scores;   // the target value per sample [N]
  // Method-specific results by name, e.g. LIME's "intercept", "r2", "local_prediction"
  // and "segments"; documented in each method's header.
  std::map<std::string, torch::Tensor> extras;
  int64_t model_evaluations = 0;  // images passed through the model (for benchmarks)
};

class Explainer {
 public:
  virtual ~Explainer() = default;
  virtual std::string name() const = 0;
  // images: float [N,C,H,W] in [0,1], any device (moved to the model's device).
  virtual Attribution explain(TappedModel& model, const torch::Tensor& images, const Target& target) = 0;
};

// Options shared by the methods (each uses those that apply to it).
struct ExplainOptions {
  std::string tap;            // model tap for CAM methods; empty = the model's default_cam_tap()
  bool signed_maps = false;   // keep the sign (no ReLU); maps scaled to [-1,1] instead of [0,1]
  bool normalize = true;      // scale each map (min-max, or max-|.| when signed)
  int64_t batch_size = 32;    // images per forward/backward pass
  ExplainOptions& set_tap(std::string v) { tap = std::move(v); return *this; }
  ExplainOptions& set_signed(bool v) { signed_maps = v; return *this; }
  ExplainOptions& set_normalize(bool v) { normalize = v; return *this; }
  ExplainOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }

  GradientOptions gradient;          // saliency, Integrated Gradients, SmoothGrad, ...
  PerturbationOptions perturbation;  // the perturbation engine and its solvers
  ExplainOptions& set_gradient(GradientOptions v) { gradient = std::move(v); return *this; }
  ExplainOptions& set_perturbation(PerturbationOptions v) { perturbation = std::move(v); return *this; }
};

std::vector<std::string> explainer_names();
// Unknown names are a loupe::Error listing the valid ones.
std::unique_ptr<Explainer> make_explainer(const std::string& name, const ExplainOptions& options = {});

// The device of the model's first parameter (CPU for a parameterless model).
torch::Device model_device(const torch::nn::Module& model);

// Validates images [N,C,H,W] float, finite; names `what` in errors.
void check_images(const torch::Tensor& images, const std::string& what);

}  // namespace loupe
