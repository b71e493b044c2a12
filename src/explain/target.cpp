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
}  // namespace

Target class_logit(int64_t cls) {
  return [cls](const torch::Tensor& outputs, const torch::Tensor&) {
    check_logits(outputs, cls);
    return outputs.select(1, cls);
  };
}

Target class_logits(const torch::Tensor& classes) {
  return [classes](const torch::Tensor& outputs, const torch::Tensor&) {
    LOUPE_CHECK(outputs.dim() == 2 && classes.dim() == 1 && classes.size(0) == outputs.size(0),
                "target classes: expected one class per sample ([", outputs.size(0), "]), got ", classes.sizes());
    if (classes.numel() > 0) {
      check_logits(outputs, classes.min().item<int64_t>());
      check_logits(outputs, classes.max().item<int64_t>());
    }
    return outputs.gather(1, classes.to(outputs.device()).view({-1, 1})).squeeze(1);
  };
}

Target class_probability(int64_t cls) {
  return [cls](const torch::Tensor& outputs, const torch::Tensor&) {
    check_logits(outputs, cls);
    return torch::softmax(outputs, 1).select(1, cls);
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

torch::Tensor evaluate_target(const Target& target, const torch::Tensor& outputs, const torch::Tensor& inputs) {
  auto score = target(outputs, inputs);
  LOUPE_CHECK(score.defined() && score.dim() == 1 && score.size(0) == inputs.size(0),
              "target: expected one value per image ([", inputs.size(0), "]), got ",
              score.defined() ? score.sizes() : torch::IntArrayRef{});
  return score;
}

Target parse_target(const std::string& text, int64_t num_classes) {
  if (text == "top1") return top1_logit();
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
  return class_logit(cls);
}

}  // namespace loupe
