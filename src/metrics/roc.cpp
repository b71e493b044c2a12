#include "loupe/metrics/roc.h"

#include <torch/torch.h>

#include <limits>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// Scores and 0/1 labels as double CPU vectors, validated.
std::pair<torch::Tensor, torch::Tensor> prepare(const torch::Tensor& scores, const torch::Tensor& labels) {
  LOUPE_CHECK(scores.defined() && scores.dim() == 1, "ROC scores: expected a 1-D tensor [N], got ",
              scores.defined() ? scores.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == scores.size(0), "ROC labels: expected [",
              scores.size(0), "] like the scores, got ", labels.defined() ? labels.sizes() : torch::IntArrayRef{});
  const auto s = scores.to(torch::kCPU, torch::kDouble), y = labels.to(torch::kCPU, torch::kDouble);
  LOUPE_CHECK(torch::isfinite(s).all().item<bool>(), "ROC scores: found NaN or infinite values");
  LOUPE_CHECK((y.eq(0) | y.eq(1)).all().item<bool>(), "ROC labels: expected 0/1 (or bool) values");
  const int64_t pos = static_cast<int64_t>(y.sum().item<double>());
  LOUPE_CHECK(pos > 0 && pos < y.size(0), "ROC labels: ", pos, " positive(s) among ", y.size(0),
              "; expected both classes present");
  return {s, y};
}

}  // namespace

RocCurve roc_curve(const torch::Tensor& scores, const torch::Tensor& labels) {
  const auto [s, y] = prepare(scores, labels);
  const auto order = s.argsort(0, /*descending=*/true);
  const auto ss = s.index_select(0, order), ys = y.index_select(0, order);
  const auto tp = ys.cumsum(0), fp = (1 - ys).cumsum(0);
  // The last index of each run of equal scores: one ROC point per distinct threshold.
  const int64_t n = ss.size(0);
  auto last = torch::ones({n}, torch::kBool);
  if (n > 1) last.slice(0, 0, n - 1).copy_(ss.slice(0, 1).ne(ss.slice(0, 0, n - 1)));
  const auto idx = last.nonzero().squeeze(1);
  const auto zero = torch::zeros({1}, torch::kDouble);
  RocCurve c;
  c.tpr = torch::cat({zero, tp.index_select(0, idx) / tp[-1]});
  c.fpr = torch::cat({zero, fp.index_select(0, idx) / fp[-1]});
  c.thresholds =
      torch::cat({torch::full({1}, std::numeric_limits<double>::infinity(), torch::kDouble), ss.index_select(0, idx)});
  return c;
}

double auroc(const torch::Tensor& scores, const torch::Tensor& labels) {
  const auto c = roc_curve(scores, labels);
  const int64_t t = c.fpr.size(0);
  // Trapezoids: a tied run of positives and negatives contributes the diagonal, i.e. 1/2.
  const auto dx = c.fpr.slice(0, 1) - c.fpr.slice(0, 0, t - 1);
  const auto mid = (c.tpr.slice(0, 1) + c.tpr.slice(0, 0, t - 1)) / 2;
  return (dx * mid).sum().item<double>();
}

}  // namespace loupe
