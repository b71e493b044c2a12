#include "loupe/explain/partition_shap.h"

#include <torch/torch.h>

#include <cmath>
#include <queue>
#include <random>

#include "explain/perturbation_detail.h"
#include "loupe/core/error.h"

namespace loupe {
namespace {

struct Rect {
  int64_t y0, x0, h, w;
};

// A coalition game on rectangle `rect` within context mask `context` (bank row):
// f00 = f(context), f11 = f(context ∪ rect), `weight` its share of the Owen value.
struct Node {
  double priority, tie;
  int64_t context;
  double f00, f11, weight;
  Rect rect;
  bool operator<(const Node& other) const {
    return priority < other.priority || (priority == other.priority && tie < other.tie);
  }
};

std::pair<Rect, Rect> split(const Rect& r) {
  if (r.h >= r.w) return {{r.y0, r.x0, r.h / 2, r.w}, {r.y0 + r.h / 2, r.x0, r.h - r.h / 2, r.w}};
  return {{r.y0, r.x0, r.h, r.w / 2}, {r.y0, r.x0 + r.w / 2, r.h, r.w - r.w / 2}};
}

}  // namespace

Attribution PartitionShap::explain(TappedModel& model, const torch::Tensor& images, const Target& target) {
  const auto& o = options_.perturbation;
  LOUPE_CHECK(o.max_evals >= 4, "partition max_evals ", o.max_evals,
              ": expected at least 4 (f(x), f(fill) and one split)");
  return explain_images(model, images, options_, [&](PerturbationEngine& engine, const torch::Tensor& x, int64_t i) {
    // Every image draws from the same seed: a result never depends on its batch.
    std::mt19937_64 rng(o.seed);
    std::normal_distribution<double> noise;
    const int64_t h = x.size(1), w = x.size(2);
    const auto fill = masker_fill(x, o, Masker::kBlur, i);
    const auto bopts = torch::TensorOptions().device(engine.device()).dtype(torch::kBool);
    auto bank = torch::zeros({o.max_evals, h * w}, bopts);  // row 0: the empty coalition
    const auto ends =
        engine.evaluate(x, fill, 2,
                        [&](int64_t b, int64_t e) {
                          return torch::arange(b, e, bopts.dtype(torch::kFloat)).view({-1, 1, 1}).expand({e - b, h, w});
                        },
                        {target});
    const auto ends_cpu = ends.select(1, 0).to(torch::kCPU, torch::kDouble);
    const double f_empty = ends_cpu[0].item<double>(), f_full = ends_cpu[1].item<double>();
    // Credit densities accumulate in a 2-D difference array (O(1) per rectangle).
    std::vector<double> diff((h + 1) * (w + 1), 0.0);
    const auto credit = [&](const Node& n) {
      const double v = (n.f11 - n.f00) * n.weight / double(n.rect.h * n.rect.w);
      const int64_t y1 = n.rect.y0 + n.rect.h, x1 = n.rect.x0 + n.rect.w;
      diff[n.rect.y0 * (w + 1) + n.rect.x0] += v;
      diff[n.rect.y0 * (w + 1) + x1] -= v;
      diff[y1 * (w + 1) + n.rect.x0] -= v;
      diff[y1 * (w + 1) + x1] += v;
    };
    std::priority_queue<Node> queue;
    const auto push = [&](int64_t context, double f00, double f11, double weight, const Rect& r) {
      queue.push({std::abs(f11 - f00) * weight, noise(rng), context, f00, f11, weight, r});
    };
    push(0, f_empty, f_full, 1.0, {0, 0, h, w});
    int64_t evals = 2, next = 1;
    const int64_t per_batch = std::max<int64_t>(1, o.batch_size / 2);
    const auto lopts = torch::TensorOptions().device(engine.device()).dtype(torch::kLong);
    const auto rows = torch::arange(h, lopts).view({1, h, 1}), cols = torch::arange(w, lopts).view({1, 1, w});
    while (!queue.empty()) {
      std::vector<Node> expand;
      while (!queue.empty() && int64_t(expand.size()) < per_batch &&
             evals + 2 * int64_t(expand.size() + 1) <= o.max_evals) {
        const Node n = queue.top();
        queue.pop();
        if (n.rect.h * n.rect.w == 1)
          credit(n);
        else
          expand.push_back(n);
      }
      if (expand.empty()) {
        if (!queue.empty() && evals + 2 > o.max_evals) {  // budget spent: spread what is left
          for (; !queue.empty(); queue.pop()) credit(queue.top());
        }
        continue;
      }
      // Masks 2j (left child shown) and 2j+1 (right child shown) within node j's context.
      const int64_t m = 2 * int64_t(expand.size());
      std::vector<int64_t> context(m), rect(4 * m);
      for (size_t j = 0; j < expand.size(); ++j) {
        const auto [left, right] = split(expand[j].rect);
        for (int side = 0; side < 2; ++side) {
          const Rect& r = side ? right : left;
          const size_t row = 2 * j + side;
          context[row] = expand[j].context;
          rect[4 * row] = r.y0, rect[4 * row + 1] = r.x0, rect[4 * row + 2] = r.h, rect[4 * row + 3] = r.w;
        }
      }
      const auto ctx = torch::tensor(context).to(engine.device());
      const auto rr = torch::tensor(rect).view({m, 4, 1, 1}).to(engine.device());
      const auto y0 = rr.select(1, 0), x0 = rr.select(1, 1);
      const auto inside = (rows >= y0)
                              .logical_and(rows < y0 + rr.select(1, 2))
                              .logical_and(cols >= x0)
                              .logical_and(cols < x0 + rr.select(1, 3));
      const auto masks = bank.index_select(0, ctx).logical_or(inside.flatten(1));
      bank.slice(0, next, next + m).copy_(masks);
      const auto scores = engine.evaluate(x, fill, m,
                                          [&](int64_t b, int64_t e) {
                                            return masks.slice(0, b, e).view({e - b, h, w}).to(torch::kFloat);
                                          },
                                          {target});
      const auto s = scores.select(1, 0).to(torch::kCPU, torch::kDouble).contiguous();
      const double* f = s.data_ptr<double>();
      for (size_t j = 0; j < expand.size(); ++j) {
        const Node& n = expand[j];
        const auto [left, right] = split(n.rect);
        const double f10 = f[2 * j], f01 = f[2 * j + 1], half = n.weight / 2;
        const int64_t with_left = next + 2 * int64_t(j), with_right = with_left + 1;
        push(n.context, n.f00, f10, half, left);
        push(n.context, n.f00, f01, half, right);
        push(with_right, f01, n.f11, half, left);
        push(with_left, f10, n.f11, half, right);
      }
      evals += m;
      next += m;
    }
    auto map =
        torch::tensor(diff, torch::kDouble).view({h + 1, w + 1}).cumsum(0).cumsum(1).slice(0, 0, h).slice(1, 0, w);
    return ImageExplanation{map.to(torch::kFloat), {}, ends[1][0], {{"base_value", ends_cpu[0]}}};
  });
}

}  // namespace loupe
