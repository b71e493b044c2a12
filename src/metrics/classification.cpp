#include "loupe/metrics/classification.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {
namespace {

void check_label_vector(const char* what, const torch::Tensor& t) {
  LOUPE_CHECK(t.defined(), what, ": expected a tensor, got an undefined one");
  LOUPE_CHECK(t.dim() == 1, what, ": expected a 1-D tensor [N], got shape ", t.sizes());
  LOUPE_CHECK(!torch::isFloatingType(t.scalar_type()) && !torch::isComplexType(t.scalar_type()) &&
                  t.scalar_type() != torch::kBool,
              what, ": expected integer class indices, got dtype ", t.scalar_type());
}

void check_pair(const torch::Tensor& labels, const torch::Tensor& predictions) {
  check_label_vector("labels", labels);
  check_label_vector("predictions", predictions);
  LOUPE_CHECK(labels.size(0) == predictions.size(0), "labels and predictions differ in length: ", labels.size(0),
              " labels, ", predictions.size(0), " predictions");
}

}  // namespace

torch::Tensor confusion_matrix(const torch::Tensor& labels, const torch::Tensor& predictions, int64_t num_classes) {
  check_pair(labels, predictions);
  LOUPE_CHECK(num_classes >= 1, "confusion matrix: num_classes ", num_classes, " must be at least 1");
  const auto l = labels.to(torch::kLong), p = predictions.to(l.device(), torch::kLong);
  if (l.numel() > 0) {
    for (const auto& [what, t] : {std::make_pair("labels", l), std::make_pair("predictions", p)}) {
      const int64_t lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
      LOUPE_CHECK(lo >= 0 && hi < num_classes, what, ": values must lie in [0,", num_classes, "), found [", lo, ",", hi,
                  "]");
    }
  }
  // Each (true, predicted) pair is one bin of a flattened K×K histogram.
  return torch::bincount(l * num_classes + p, /*weights=*/{}, num_classes * num_classes)
      .view({num_classes, num_classes});
}

double accuracy(const torch::Tensor& labels, const torch::Tensor& predictions) {
  check_pair(labels, predictions);
  if (labels.numel() == 0) return 0.0;
  const auto hits = labels.to(torch::kLong).eq(predictions.to(labels.device(), torch::kLong)).sum().item<int64_t>();
  return static_cast<double>(hits) / static_cast<double>(labels.numel());
}

}  // namespace loupe
