// Tiny models with known attributions for the perturbation-method tests.
#pragma once

#include <torch/torch.h>

#include "loupe/models/taps.h"

namespace loupe::testing {

// Per-segment means s_k (over the pixels of segment k and all channels), then
// out = [g(s), −g(s)] with g(s) = Σ_k c_k s_k + products[0]·s_0·s_1 + products[1]·s_1·s_2·s_3
// (additive over segments when products are zero).
class SegmentNet : public TappedModel {
 public:
  SegmentNet(const torch::Tensor& labels, const torch::Tensor& coefs, std::vector<double> products = {0, 0})
      : coefs_(coefs.to(torch::kFloat)), products_(std::move(products)) {
    const int64_t k = coefs.size(0);
    auto onehot = torch::one_hot(labels.flatten(), k).to(torch::kFloat);  // [HW,K]
    pool_ = onehot / onehot.sum(0, true);
    add_stage("segments", [this](const torch::Tensor& x) { return x.mean(1).flatten(1).mm(pool_); });
    add_stage("out", [this](const torch::Tensor& s) {
      auto g = s.mv(coefs_);
      if (s.size(1) >= 4)
        g = g + products_[0] * s.select(1, 0) * s.select(1, 1) +
            products_[1] * s.select(1, 1) * s.select(1, 2) * s.select(1, 3);
      return torch::stack({g, -g}, 1);
    });
  }
  std::string default_cam_tap() const override { return "segments"; }
  std::string arch() const override { return "segment_net"; }

 private:
  torch::Tensor coefs_, pool_;
  std::vector<double> products_;
};

// The identity feature map of a 2-channel input, global mean pool, and logits
// [2·mean(A0) − mean(A1), mean(A1)]; `below` counts runs of the stage under the tap.
class TwoChannelNet : public TappedModel {
 public:
  TwoChannelNet() {
    add_stage("input", [this](const torch::Tensor& x) {
      below += 1;
      return x * 1.0;
    });
    add_stage("features", [](const torch::Tensor& x) { return x * 1.0; });
    add_stage("pool", [](const torch::Tensor& x) { return x.mean({2, 3}); });
    add_stage("fc", [](const torch::Tensor& x) {
      return torch::stack({2 * x.select(1, 0) - x.select(1, 1), x.select(1, 1)}, 1);
    });
  }
  std::string default_cam_tap() const override { return "features"; }
  std::string arch() const override { return "two_channel"; }
  int64_t below = 0;
};

// Per-segment values of a pixel map [H,W]: sums over each label.
inline torch::Tensor segment_sums(const torch::Tensor& map, const torch::Tensor& labels, int64_t k) {
  return torch::zeros({k}, map.options()).index_add_(0, labels.flatten(), map.flatten());
}

// Per-segment means over pixels and channels of an image [C,H,W].
inline torch::Tensor segment_means(const torch::Tensor& image, const torch::Tensor& labels, int64_t k) {
  const auto counts = torch::bincount(labels.flatten(), {}, k).to(torch::kFloat);
  return segment_sums(image.mean(0), labels, k) / counts;
}

}  // namespace loupe::testing
