#include "loupe/train/classifier_losses.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/choices.h"
#include "loupe/core/error.h"

namespace loupe {

namespace F = torch::nn::functional;

std::vector<std::string> classifier_loss_names() {
  return {"ce", "focal", "input-grad", "edge-saliency", "occlusion", "adversarial"};
}

std::string classifier_loss_name(ClassifierLoss loss) { return classifier_loss_names().at(static_cast<size_t>(loss)); }

ClassifierLoss parse_classifier_loss(const std::string& text, const std::string& what) {
  return static_cast<ClassifierLoss>(choice_index(text, classifier_loss_names(), what));
}

void check_classifier_loss_options(const ClassifierLossOptions& o) {
  LOUPE_CHECK(std::isfinite(o.focal_gamma) && o.focal_gamma >= 0, "focal gamma ", o.focal_gamma,
              ": expected >= 0 (0 is plain cross-entropy)");
  LOUPE_CHECK(std::isfinite(o.lambda) && o.lambda >= 0, "penalty weight lambda ", o.lambda, ": expected >= 0");
  LOUPE_CHECK(o.occlusion_size >= 1, "occlusion size ", o.occlusion_size, ": expected a square side >= 1 pixel");
  LOUPE_CHECK(o.loss != ClassifierLoss::kAdversarial || o.adversary,
              "adversarial training: no adversary given (attack/attack.h's pgd_adversary makes one)");
}

torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& labels, double gamma) {
  const auto log_p = torch::log_softmax(logits, 1).gather(1, labels.view({-1, 1})).view(-1);
  return (-log_p * (1 - log_p.exp()).pow(gamma)).mean();
}

torch::Tensor sobel_edges(const torch::Tensor& images) {
  LOUPE_CHECK(images.dim() == 4, "sobel edges: expected images [N,C,H,W], got ", images.sizes());
  const auto gray = images.mean(1, true);
  const auto padded = F::pad(gray, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
  const auto kx = torch::tensor({-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0}, gray.options()).view({1, 1, 3, 3});
  const auto ky = kx.transpose(2, 3).contiguous();
  const auto gx = F::conv2d(padded, kx), gy = F::conv2d(padded, ky);
  const auto magnitude = (gx.square() + gy.square()).sqrt().squeeze(1);
  const auto peak = magnitude.flatten(1).amax(1).clamp_min(1e-12).view({-1, 1, 1});
  return magnitude / peak;
}

torch::Tensor occlude_random_squares(const torch::Tensor& images, int64_t size, const torch::Generator* generator) {
  LOUPE_CHECK(images.dim() == 4, "occlusion: expected images [N,C,H,W], got ", images.sizes());
  LOUPE_CHECK(size >= 1, "occlusion size ", size, ": expected >= 1");
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const int64_t sh = std::min(size, h), sw = std::min(size, w);
  const auto opts = torch::TensorOptions().dtype(torch::kLong);
  const auto gen = generator ? c10::optional<torch::Generator>(*generator) : c10::nullopt;
  const auto top = torch::randint(h - sh + 1, {n, 1, 1}, gen, opts);
  const auto left = torch::randint(w - sw + 1, {n, 1, 1}, gen, opts);
  const auto ys = torch::arange(h, opts).view({1, h, 1}), xs = torch::arange(w, opts).view({1, 1, w});
  const auto inside = (ys >= top) & (ys < top + sh) & (xs >= left) & (xs < left + sw);  // [N,H,W]
  return images.masked_fill(inside.unsqueeze(1).to(images.device()), 0.0);
}

namespace {

torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return F::cross_entropy(logits, labels);
}

// CE + λ·mean_i ‖∇ₓ CE_i‖²: the gradient of the summed CE is each image's own gradient.
ClassifierLossTerms input_gradient_loss(TappedModel& model, const Batch& batch, double lambda) {
  const auto x = batch.images.detach().requires_grad_(true);
  const auto logits = model.forward(x);
  const auto ce_sum = F::cross_entropy(logits, batch.labels, F::CrossEntropyFuncOptions().reduction(torch::kSum));
  const auto grad = torch::autograd::grad({ce_sum}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  const auto penalty = grad.square().flatten(1).sum(1).mean();
  const auto ce = ce_sum / static_cast<double>(x.size(0));
  return {ce + lambda * penalty, ce, penalty, logits};
}

// CE + λ·mean(s·(1 − e)): the label logit's saliency off the input's edges.
ClassifierLossTerms edge_saliency_loss(TappedModel& model, const Batch& batch, double lambda) {
  const auto x = batch.images.detach().requires_grad_(true);
  const auto logits = model.forward(x);
  const auto label_logits = logits.gather(1, batch.labels.view({-1, 1})).sum();
  const auto grad = torch::autograd::grad({label_logits}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  const auto saliency = grad.abs().sum(1);  // [N,H,W]
  const auto scaled = saliency / saliency.flatten(1).amax(1).clamp_min(1e-12).view({-1, 1, 1});
  const auto edges = sobel_edges(batch.images.detach());
  const auto penalty = (scaled * (1 - edges)).mean();
  const auto ce = mean_cross_entropy(logits, batch.labels);
  return {ce + lambda * penalty, ce, penalty, logits};
}

}  // namespace

ClassifierLossTerms classifier_loss(TappedModel& model, const Batch& batch, const ClassifierLossOptions& o) {
  const auto zero = torch::zeros({}, batch.images.options());
  switch (o.loss) {
    case ClassifierLoss::kCrossEntropy: {
      const auto logits = model.forward(batch.images);
      const auto ce = mean_cross_entropy(logits, batch.labels);
      return {ce, ce, zero, logits};
    }
    case ClassifierLoss::kFocal: {
      const auto logits = model.forward(batch.images);
      return {focal_loss(logits, batch.labels, o.focal_gamma), mean_cross_entropy(logits, batch.labels).detach(), zero,
              logits};
    }
    case ClassifierLoss::kInputGradient:
      return input_gradient_loss(model, batch, o.lambda);
    case ClassifierLoss::kEdgeSaliency:
      return edge_saliency_loss(model, batch, o.lambda);
    case ClassifierLoss::kOcclusion: {
      const auto logits = model.forward(occlude_random_squares(batch.images, o.occlusion_size));
      const auto ce = mean_cross_entropy(logits, batch.labels);
      return {ce, ce, zero, logits};
    }
    case ClassifierLoss::kAdversarial: {
      LOUPE_CHECK(o.adversary, "adversarial training: no adversary given");
      const auto adversarial = o.adversary(model, batch.images.detach(), batch.labels);
      const auto logits = model.forward(adversarial.to(batch.images.device(), batch.images.scalar_type()));
      const auto ce = mean_cross_entropy(logits, batch.labels);
      return {ce, ce, zero, logits};
    }
  }
  fail("unknown classifier loss");
}

}  // namespace loupe
