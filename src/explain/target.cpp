#include "loupe/explain/target.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {
namespace {

void check_logits(const torch::Tensor& outputs, int64_t cls) {
  LOUPE_CHECK(outputs.dim() == 2, "target: expected model outputs [N,K], got ", outputs.sizes());
  LOUPE_CHECK(cls >= 0 && cls < outputs.size(1), "target class ", cls, ": expected a class index in [0,",
              outputs.size(1), ")");
}

// The rows of a per-image parameter [N,...] for each row's sample.
torch::Tensor per_sample(const torch::Tensor& values, const torch::Tensor& samples, const char* what) {
  LOUPE_CHECK(samples.numel() == 0 || samples.max().item<int64_t>() < values.size(0), what, ": ", values.size(0),
              " value(s) for image ", samples.numel() == 0 ? 0 : samples.max().item<int64_t>(),
              "; expected one per explained image");
  return values.to(samples.device()).index_select(0, samples);
}

// One class per image, its range found once (not on every scored batch).
struct ImageClasses {
  torch::Tensor classes;  // int64 [N]
  int64_t lowest = 0, highest = 0;
};

ImageClasses checked_classes(const torch::Tensor& classes) {
  LOUPE_CHECK(classes.defined() && classes.dim() == 1 && classes.scalar_type() == torch::kLong,
              "target classes: expected int64 [N] (one class per image), got ",
              classes.defined() ? classes.sizes() : torch::IntArrayRef{});
  ImageClasses c{classes, 0, 0};
  if (classes.numel() > 0) c.lowest = classes.min().item<int64_t>(), c.highest = classes.max().item<int64_t>();
  return c;
}

torch::Tensor gather_classes(const torch::Tensor& scores, const ImageClasses& c, const torch::Tensor& samples) {
  LOUPE_CHECK(scores.dim() == 2, "target: expected model outputs [N,K], got ", scores.sizes());
  check_logits(scores, c.lowest);
  check_logits(scores, c.highest);
  const auto cls = per_sample(c.classes, samples.to(scores.device()), "target classes");
  return scores.gather(1, cls.view({-1, 1})).squeeze(1);
}

}  // namespace

torch::Tensor Target::operator()(const torch::Tensor& outputs, const torch::Tensor& inputs,
                                 const torch::Tensor& samples) const {
  LOUPE_CHECK(fn_, "target: no target function set");
  const int64_t rows = inputs.defined() ? inputs.size(0) : outputs.size(0);
  return fn_(outputs, inputs, samples.defined() ? samples : sample_range(0, rows, outputs.device()));
}

Target class_logit(int64_t cls) {
  return [cls](const torch::Tensor& outputs, const torch::Tensor&) {
    check_logits(outputs, cls);
    return outputs.select(1, cls);
  };
}

Target class_logits(const torch::Tensor& classes) {
  const auto c = checked_classes(classes);
  return [c](const torch::Tensor& outputs, const torch::Tensor&, const torch::Tensor& samples) {
    return gather_classes(outputs, c, samples);
  };
}

Target class_probability(int64_t cls) {
  return [cls](const torch::Tensor& outputs, const torch::Tensor&) {
    check_logits(outputs, cls);
    return torch::softmax(outputs, 1).select(1, cls);
  };
}

Target class_probabilities(const torch::Tensor& classes) {
  const auto c = checked_classes(classes);
  return [c](const torch::Tensor& outputs, const torch::Tensor&, const torch::Tensor& samples) {
    LOUPE_CHECK(outputs.dim() == 2, "target: expected model outputs [N,K], got ", outputs.sizes());
    return gather_classes(torch::softmax(outputs, 1), c, samples);
  };
}

Target top1_logit() {
  return [](const torch::Tensor& outputs, const torch::Tensor&) {
    LOUPE_CHECK(outputs.dim() == 2, "target: expected model outputs [N,K], got ", outputs.sizes());
    return std::get<0>(outputs.max(1));
  };
}

Target output_unit(int64_t unit) {
  return [unit](const torch::Tensor& outputs, const torch::Tensor&) {
    LOUPE_CHECK(outputs.dim() == 2, "target output unit: expected model outputs [N,K], got ", outputs.sizes());
    LOUPE_CHECK(unit >= 0 && unit < outputs.size(1), "target output unit ", unit, ": expected a unit in [0,",
                outputs.size(1), ")");
    return outputs.select(1, unit);
  };
}

Target reconstruction_error() {
  return [](const torch::Tensor& outputs, const torch::Tensor& inputs) {
    LOUPE_CHECK(outputs.sizes() == inputs.sizes(),
                "target reconstruction error: expected outputs shaped like the inputs ", inputs.sizes(), ", got ",
                outputs.sizes());
    return (outputs - inputs).pow(2).flatten(1).mean(1);
  };
}

Target reconstruction_error(const torch::Tensor& reference) {
  LOUPE_CHECK(reference.defined() && reference.dim() >= 2,
              "target reconstruction error: expected reference images [N,...]");
  return [reference](const torch::Tensor& outputs, const torch::Tensor&, const torch::Tensor& samples) {
    const auto ref = per_sample(reference, samples.to(outputs.device()), "reference images").to(outputs.dtype());
    LOUPE_CHECK(outputs.sizes() == ref.sizes(),
                "target reconstruction error: expected outputs shaped like the reference ", ref.sizes(), ", got ",
                outputs.sizes());
    return (outputs - ref).pow(2).flatten(1).mean(1);
  };
}

Target anomaly_score(const AnomalyScoreOptions& options) {
  return [options](const torch::Tensor& outputs, const torch::Tensor& inputs) {
    LOUPE_CHECK(outputs.sizes() == inputs.sizes(), "target anomaly score: expected reconstructions shaped like the ",
                "inputs ", inputs.sizes(), ", got ", outputs.sizes());
    return anomaly_scores(inputs, outputs, options).to(inputs.scalar_type());
  };
}

Target input_difference(const torch::Tensor& reference) {
  LOUPE_CHECK(reference.defined() && reference.dim() >= 2,
              "target input difference: expected reference images [N,...]");
  return [reference](const torch::Tensor&, const torch::Tensor& inputs, const torch::Tensor& samples) {
    const auto ref = per_sample(reference, samples.to(inputs.device()), "reference images").to(inputs.dtype());
    LOUPE_CHECK(inputs.sizes() == ref.sizes(), "target input difference: expected inputs shaped like the reference ",
                ref.sizes(), ", got ", inputs.sizes());
    return (inputs - ref).pow(2).flatten(1).mean(1);
  };
}

torch::Tensor evaluate_target(const Target& target, const torch::Tensor& outputs, const torch::Tensor& inputs,
                              const torch::Tensor& samples) {
  auto score = target(outputs, inputs, samples);
  LOUPE_CHECK(score.defined() && score.dim() == 1 && score.size(0) == inputs.size(0),
              "target: expected one value per image ([", inputs.size(0), "]), got ",
              score.defined() ? score.sizes() : torch::IntArrayRef{});
  return score;
}

torch::Tensor sample_range(int64_t first, int64_t count, torch::Device device) {
  return torch::arange(first, first + count, torch::TensorOptions().dtype(torch::kLong).device(device));
}

torch::Tensor target_classes(const std::string& text, const torch::Tensor& predicted, int64_t num_classes) {
  if (text == "top1") return predicted;
  size_t used = 0;
  int64_t cls = -1;
  try {
    cls = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LOUPE_CHECK(used == text.size() && !text.empty(), "--target ", text, ": expected top1 or a class index");
  LOUPE_CHECK(cls >= 0 && cls < num_classes, "--target ", text, ": class index out of range; the model has ",
              num_classes, " classes (0..", num_classes - 1, ")");
  return torch::full({predicted.size(0)}, cls, torch::kLong);
}

}  // namespace loupe
