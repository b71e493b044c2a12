#include "loupe/probe/top_activations.h"

#include <torch/torch.h>

#include <algorithm>

#include "loupe/core/choices.h"
#include "loupe/core/error.h"
#include "loupe/core/progress.h"
#include "loupe/probe/units.h"

namespace loupe {

StreamingTopK::StreamingTopK(int64_t rows, int64_t k) : rows_(rows), k_(k) {
  LOUPE_CHECK(rows >= 1 && k >= 1, "top-k: expected at least one row and k >= 1, got ", rows, " rows and k = ", k);
}

void StreamingTopK::add(const torch::Tensor& scores, const torch::Tensor& ids, const torch::Tensor& payload) {
  LOUPE_CHECK(scores.dim() == 2 && scores.size(0) == rows_ && ids.dim() == 1 && ids.size(0) == scores.size(1),
              "top-k: expected scores [", rows_, ",B] and ids [B], got ", scores.sizes(), " and ", ids.sizes());
  const auto new_ids = ids.to(scores.device(), torch::kLong).unsqueeze(0).expand({rows_, ids.size(0)});
  auto all_scores = scores_.defined() ? torch::cat({scores_, scores}, 1) : scores;
  auto all_ids = ids_.defined() ? torch::cat({ids_, new_ids}, 1) : new_ids;
  torch::Tensor all_payload;
  if (payload.defined()) all_payload = payload_.defined() ? torch::cat({payload_, payload}, 1) : payload;
  // Kept entries come first and carry smaller ids: a stable sort keeps ties in id order.
  const auto order = std::get<1>(all_scores.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
  const int64_t n = std::min(k_, all_scores.size(1));
  const auto keep = order.narrow(1, 0, n);
  scores_ = all_scores.gather(1, keep);
  ids_ = all_ids.gather(1, keep);
  if (all_payload.defined()) {
    auto index = keep;
    for (int64_t d = 2; d < all_payload.dim(); ++d) index = index.unsqueeze(-1);
    std::vector<int64_t> shape = all_payload.sizes().vec();
    shape[1] = n;
    payload_ = all_payload.gather(1, index.expand(shape));
  }
}

std::vector<std::string> unit_reduce_names() { return {"mean", "max"}; }

UnitReduce parse_unit_reduce(const std::string& text, const std::string& what) {
  return static_cast<UnitReduce>(choice_index(text, unit_reduce_names(), what));
}

TopActivations top_activations(TappedModel& model, const Dataset& data, const std::string& tap,
                               const std::vector<int64_t>& units, const TopActivationsOptions& o,
                               torch::Device device) {
  LOUPE_CHECK(o.k >= 1, "top-k: k ", o.k, ": expected at least 1");
  LOUPE_CHECK(o.batch_size >= 1, "top-k: batch size ", o.batch_size, ": expected at least 1");
  LOUPE_CHECK(data.size() >= 1, "top-k: the dataset is empty");
  const auto shape = data.image_shape();
  const auto unit_index = resolve_units(units, unit_count(model, tap, {shape[0], shape[1], shape[2]}), tap);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  StreamingTopK top(unit_index.size(0), std::min(o.k, data.size()));
  Progress progress("top activations", data.size(), "img");
  for (int64_t start = 0; start < data.size(); start += o.batch_size) {
    const int64_t n = std::min(o.batch_size, data.size() - start);
    const auto ids = torch::arange(start, start + n, torch::kLong);
    const auto maps = unit_activations(model, data.get(ids).images.to(device), tap, unit_index).to(torch::kFloat);
    const auto flat = maps.flatten(2);
    const auto scores = (o.reduce == UnitReduce::kMean ? flat.mean(2) : std::get<0>(flat.max(2))).t();  // [U,B]
    top.add(scores.cpu(), ids, o.keep_maps ? maps.transpose(0, 1).cpu() : torch::Tensor());
    progress.advance(n);
  }
  model.train(was_training);
  return {unit_index, top.ids(), top.scores(), o.keep_maps ? top.payload() : torch::Tensor()};
}

torch::Tensor row_entropy(const torch::Tensor& values, int64_t num_values) {
  LOUPE_CHECK(values.dim() == 2, "entropy: expected values [U,k], got ", values.sizes());
  LOUPE_CHECK(values.numel() == 0 || (values.min().item<int64_t>() >= 0 && values.max().item<int64_t>() < num_values),
              "entropy: values must lie in [0, ", num_values, ")");
  const auto v = values.to(torch::kCPU, torch::kLong);
  auto counts = torch::zeros({v.size(0), num_values}, torch::kDouble);
  counts.scatter_add_(1, v, torch::ones(v.sizes(), torch::kDouble));
  const auto p = counts / counts.sum(1, true).clamp_min(1);
  return -(p * torch::where(p > 0, p.log2(), torch::zeros_like(p))).sum(1);
}

}  // namespace loupe
