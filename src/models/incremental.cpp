#include "loupe/models/incremental.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "loupe/core/error.h"
#include "models/cnn_graph.h"

namespace loupe {

// The graph of the model and, for the base image, every node's output.
struct IncrementalPlan : CnnGraph {
  std::vector<torch::Tensor> base;    // every node's output [1,C,H,W] on the base image
  std::vector<torch::Tensor> padded;  // windowed nodes: their operand's base, padded as the op pads
};

namespace {

using Node = CnnNode;

// A batch of regions of one feature map: values t [B,C,h,w], sample i's region starting at
// (y[i], x[i]); full = the whole map (y = x = 0).
struct Region {
  torch::Tensor t;
  std::vector<int64_t> y, x;
  bool full = false;
};

int64_t ceil_div_nonneg(int64_t a, int64_t s) { return a <= 0 ? 0 : (a + s - 1) / s; }

// src [1,C,Hs,Ws] windows [B,C,h,w] at (ys[i], xs[i]).
torch::Tensor gather_windows(const torch::Tensor& src, const std::vector<int64_t>& ys, const std::vector<int64_t>& xs,
                             int64_t h, int64_t w) {
  const int64_t n = static_cast<int64_t>(ys.size());
  const auto opts = torch::TensorOptions(torch::kLong).device(src.device());
  const auto rows =
      torch::tensor(ys, torch::kLong).to(src.device()).view({n, 1, 1}) + torch::arange(h, opts).view({1, h, 1});
  const auto cols =
      torch::tensor(xs, torch::kLong).to(src.device()).view({n, 1, 1}) + torch::arange(w, opts).view({1, 1, w});
  using torch::indexing::Slice;
  return src[0].index({Slice(), rows, cols}).permute({1, 0, 2, 3}).contiguous(src.suggest_memory_format());
}

// Writes each sample's region into dst [B,C,H,W], whose windows start at (wy[i], wx[i]) in
// the map's coordinates; only the part of the region inside the window is written.
void paste(torch::Tensor& dst, const Region& r, const std::vector<int64_t>& wy, const std::vector<int64_t>& wx) {
  const int64_t h = r.t.size(2), w = r.t.size(3), dh = dst.size(2), dw = dst.size(3);
  for (size_t i = 0; i < r.y.size(); ++i) {
    const int64_t y0 = std::max(r.y[i], wy[i]), y1 = std::min(r.y[i] + h, wy[i] + dh);
    const int64_t x0 = std::max(r.x[i], wx[i]), x1 = std::min(r.x[i] + w, wx[i] + dw);
    if (y0 >= y1 || x0 >= x1) continue;
    const auto b = static_cast<int64_t>(i);
    dst[b]
        .narrow(1, y0 - wy[i], y1 - y0)
        .narrow(2, x0 - wx[i], x1 - x0)
        .copy_(r.t[b].narrow(1, y0 - r.y[i], y1 - y0).narrow(2, x0 - r.x[i], x1 - x0));
  }
}

// The whole map [B,C,H,W]: the base with each sample's region written in.
torch::Tensor materialise(const Region& r, const torch::Tensor& base) {
  if (r.full) return r.t;
  const int64_t n = static_cast<int64_t>(r.y.size());
  auto out = base.expand({n, base.size(1), base.size(2), base.size(3)}).clone(base.suggest_memory_format());
  paste(out, r, std::vector<int64_t>(r.y.size(), 0), std::vector<int64_t>(r.x.size(), 0));
  return out;
}

Region whole(torch::Tensor t) {
  Region r;
  r.y.assign(static_cast<size_t>(t.size(0)), 0);
  r.x = r.y;
  r.t = std::move(t);
  r.full = true;
  return r;
}

// Start of a window of side `size` that covers [lo, lo + size) where possible, shifted back
// to fit in [0, extent).
int64_t fit(int64_t lo, int64_t size, int64_t extent) { return std::max<int64_t>(0, std::min(lo, extent - size)); }

torch::Tensor run_windowed(const Node& n, const torch::Tensor& x, bool padded) {
  const int64_t p = padded ? 0 : n.p;
  if (n.kind == Node::Kind::kConv) return torch::conv2d(x, n.conv->weight, n.conv->bias, n.s, p);
  return torch::max_pool2d(x, n.k, n.s, p, 1, padded ? false : n.ceil_mode);
}

}  // namespace

bool IncrementalForward::supports(const TappedModel& model) { return is_zoo_cnn(model); }

namespace {

std::unique_ptr<IncrementalPlan> plan_for(TappedModel& model) {
  auto plan = std::make_unique<IncrementalPlan>();
  static_cast<CnnGraph&>(*plan) = cnn_graph(model, "incremental inference");
  return plan;
}

}  // namespace

IncrementalForward::IncrementalForward(TappedModel& model, double full_fraction)
    : model_(model), plan_(plan_for(model)), full_fraction_(full_fraction) {
  LOUPE_CHECK(full_fraction > 0 && full_fraction <= 1, "incremental inference: full fraction ", full_fraction,
              ": expected a value in (0, 1]");
}

IncrementalForward::~IncrementalForward() = default;

torch::Tensor IncrementalForward::set_base(const torch::Tensor& image) {
  LOUPE_CHECK(image.dim() == 3, "incremental inference: expected an image [C,H,W], got ", image.sizes());
  torch::NoGradGuard no_grad;
  auto& p = *plan_;
  p.base.assign(p.nodes.size(), {});
  p.padded.assign(p.nodes.size(), {});
  p.base[0] = image.unsqueeze(0);
  for (size_t i = 1; i < p.nodes.size(); ++i) {
    const auto& n = p.nodes[i];
    const auto& in = p.base[static_cast<size_t>(n.a)];
    switch (n.kind) {
      case Node::Kind::kConv:
      case Node::Kind::kMaxPool: {
        p.base[i] = run_windowed(n, in, false);
        // Pad as the op does (zeros; -inf for max-pool), and enough at the bottom/right for
        // ceil-mode windows that run past the edge.
        const int64_t need_h = (p.base[i].size(2) - 1) * n.s + n.k, need_w = (p.base[i].size(3) - 1) * n.s + n.k;
        const int64_t extra_h = std::max<int64_t>(0, need_h - (in.size(2) + 2 * n.p));
        const int64_t extra_w = std::max<int64_t>(0, need_w - (in.size(3) + 2 * n.p));
        const double value = n.kind == Node::Kind::kConv ? 0.0 : -std::numeric_limits<double>::infinity();
        p.padded[i] = torch::constant_pad_nd(in, {n.p, n.p + extra_w, n.p, n.p + extra_h}, value);
        break;
      }
      case Node::Kind::kPointwise:
        p.base[i] = n.apply_pointwise(in);
        break;
      case Node::Kind::kAdd:
        p.base[i] = in + p.base[static_cast<size_t>(n.b)];
        break;
      case Node::Kind::kInput:
        break;
    }
  }
  return model_.forward_from(plan_->head_tap, p.base.back());
}

torch::Tensor IncrementalForward::forward(const torch::Tensor& inputs, const torch::Tensor& boxes) {
  auto& p = *plan_;
  LOUPE_CHECK(!p.base.empty(), "incremental inference: set_base before forward");
  const auto& image = p.base[0];
  LOUPE_CHECK(inputs.dim() == 4 && inputs.sizes().slice(1) == image.sizes().slice(1),
              "incremental inference: expected inputs [B,", image.size(1), ",", image.size(2), ",", image.size(3),
              "] like the base image, got ", inputs.sizes());
  const int64_t batch = inputs.size(0), height = image.size(2), width = image.size(3);
  LOUPE_CHECK(boxes.dim() == 2 && boxes.size(0) == batch && boxes.size(1) == 4,
              "incremental inference: expected boxes [", batch, ",4], got ", boxes.sizes());
  torch::NoGradGuard no_grad;
  const auto b = boxes.to(torch::kCPU, torch::kLong).contiguous();
  const auto* v = b.data_ptr<int64_t>();
  int64_t bh = 1, bw = 1;
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t y0 = v[4 * i], x0 = v[4 * i + 1], y1 = v[4 * i + 2], x1 = v[4 * i + 3];
    LOUPE_CHECK(0 <= y0 && y0 < y1 && y1 <= height && 0 <= x0 && x0 < x1 && x1 <= width, "incremental inference: box ",
                i, " (", y0, ",", x0, ",", y1, ",", x1, "): expected 0 <= y0 < y1 <= ", height,
                " and 0 <= x0 < x1 <= ", width);
    bh = std::max(bh, y1 - y0);
    bw = std::max(bw, x1 - x0);
  }
  // The input region: every box grown to the largest box's size (shifted inside the image).
  Region in;
  std::vector<torch::Tensor> crops;
  for (int64_t i = 0; i < batch; ++i) {
    in.y.push_back(fit(v[4 * i], bh, height));
    in.x.push_back(fit(v[4 * i + 1], bw, width));
    crops.push_back(inputs[i].narrow(1, in.y.back(), bh).narrow(2, in.x.back(), bw));
  }
  in.t = torch::stack(crops);

  std::vector<Region> value(p.nodes.size());
  const auto last_use = p.last_uses();
  value[0] = std::move(in);
  double macs = 0, full_macs = 0;
  for (size_t i = 1; i < p.nodes.size(); ++i) {
    const auto& n = p.nodes[i];
    const auto& a = value[static_cast<size_t>(n.a)];
    const auto& out_base = p.base[i];
    const int64_t oh_full = out_base.size(2), ow_full = out_base.size(3);
    switch (n.kind) {
      case Node::Kind::kConv:
      case Node::Kind::kMaxPool: {
        const double per_pixel =
            n.kind == Node::Kind::kConv ? static_cast<double>(n.conv->weight.numel()) * static_cast<double>(batch) : 0;
        full_macs += per_pixel * static_cast<double>(oh_full * ow_full);
        // Output rows o whose window [o·s − p, o·s − p + k) meets the region's rows.
        std::vector<int64_t> lo_y, lo_x;
        int64_t oh = 1, ow = 1;  // at least one output, even when a region meets no window (1x1, stride 2)
        if (!a.full) {
          const int64_t h = a.t.size(2), w = a.t.size(3);
          for (size_t j = 0; j < a.y.size(); ++j) {
            lo_y.push_back(std::min(oh_full - 1, ceil_div_nonneg(a.y[j] + n.p - n.k + 1, n.s)));
            lo_x.push_back(std::min(ow_full - 1, ceil_div_nonneg(a.x[j] + n.p - n.k + 1, n.s)));
            oh = std::max(oh, std::min(oh_full - 1, (a.y[j] + h - 1 + n.p) / n.s) - lo_y.back() + 1);
            ow = std::max(ow, std::min(ow_full - 1, (a.x[j] + w - 1 + n.p) / n.s) - lo_x.back() + 1);
          }
        }
        if (a.full || static_cast<double>(oh * ow) >= full_fraction_ * static_cast<double>(oh_full * ow_full)) {
          value[i] = whole(run_windowed(n, materialise(a, p.base[static_cast<size_t>(n.a)]), false));
          macs += per_pixel * static_cast<double>(oh_full * ow_full);
          break;
        }
        Region r;
        std::vector<int64_t> wy, wx;  // window starts in the operand's (unpadded) coordinates
        for (size_t j = 0; j < lo_y.size(); ++j) {
          r.y.push_back(fit(lo_y[j], oh, oh_full));
          r.x.push_back(fit(lo_x[j], ow, ow_full));
          wy.push_back(r.y.back() * n.s);  // in padded coordinates
          wx.push_back(r.x.back() * n.s);
        }
        auto window = gather_windows(p.padded[i], wy, wx, (oh - 1) * n.s + n.k, (ow - 1) * n.s + n.k);
        for (size_t j = 0; j < wy.size(); ++j) {
          wy[j] -= n.p;
          wx[j] -= n.p;
        }
        paste(window, a, wy, wx);
        r.t = run_windowed(n, window, true);
        value[i] = std::move(r);
        macs += per_pixel * static_cast<double>(oh * ow);
        break;
      }
      case Node::Kind::kPointwise: {
        Region r = a;
        r.t = n.apply_pointwise(a.t);
        value[i] = std::move(r);
        break;
      }
      case Node::Kind::kAdd: {
        const auto& c = value[static_cast<size_t>(n.b)];
        const auto& base_a = p.base[static_cast<size_t>(n.a)];
        const auto& base_c = p.base[static_cast<size_t>(n.b)];
        if (a.full || c.full) {
          value[i] = whole(materialise(a, base_a) + materialise(c, base_c));
          break;
        }
        // The union of the two regions, per sample.
        std::vector<int64_t> lo_y, lo_x;
        int64_t oh = 0, ow = 0;
        for (size_t j = 0; j < a.y.size(); ++j) {
          lo_y.push_back(std::min(a.y[j], c.y[j]));
          lo_x.push_back(std::min(a.x[j], c.x[j]));
          oh = std::max(oh, std::max(a.y[j] + a.t.size(2), c.y[j] + c.t.size(2)) - lo_y.back());
          ow = std::max(ow, std::max(a.x[j] + a.t.size(3), c.x[j] + c.t.size(3)) - lo_x.back());
        }
        if (static_cast<double>(oh * ow) >= full_fraction_ * static_cast<double>(oh_full * ow_full)) {
          value[i] = whole(materialise(a, base_a) + materialise(c, base_c));
          break;
        }
        Region r;
        for (size_t j = 0; j < lo_y.size(); ++j) {
          r.y.push_back(fit(lo_y[j], oh, oh_full));
          r.x.push_back(fit(lo_x[j], ow, ow_full));
        }
        auto wa = gather_windows(base_a, r.y, r.x, oh, ow);
        auto wc = gather_windows(base_c, r.y, r.x, oh, ow);
        paste(wa, a, r.y, r.x);
        paste(wc, c, r.y, r.x);
        r.t = wa + wc;
        value[i] = std::move(r);
        break;
      }
      case Node::Kind::kInput:
        break;
    }
    for (const int operand : {n.a, n.b})
      if (operand >= 0 && last_use[static_cast<size_t>(operand)] == static_cast<int>(i))
        value[static_cast<size_t>(operand)] = Region{};
  }
  last_cost_fraction_ = full_macs > 0 ? macs / full_macs : 1.0;
  return model_.forward_from(p.head_tap, materialise(value.back(), p.base.back()));
}

}  // namespace loupe
