// Test helpers for segmentations: a plain flood-fill reference for 4-connected
// regions, and checks that labels are 0..K-1, all used, each one region.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace loupe::testing {

// Labels every 4-connected same-key region 0..K-1 in raster order of its first pixel,
// by breadth-first search (the obvious algorithm, for comparison).
inline torch::Tensor flood_fill_regions(const torch::Tensor& keys) {
  const auto k = keys.to(torch::kLong).cpu().contiguous();
  const int64_t h = k.size(0), w = k.size(1);
  const auto* key = k.data_ptr<int64_t>();
  std::vector<int64_t> out(h * w, -1), queue;
  int64_t next = 0;
  for (int64_t start = 0; start < h * w; ++start) {
    if (out[start] >= 0) continue;
    out[start] = next;
    queue.assign(1, start);
    for (size_t q = 0; q < queue.size(); ++q) {
      const int64_t p = queue[q], y = p / w, x = p % w;
      const int64_t nb[4][2] = {{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}};
      for (const auto& n : nb) {
        if (n[0] < 0 || n[0] >= h || n[1] < 0 || n[1] >= w) continue;
        const int64_t i = n[0] * w + n[1];
        if (out[i] < 0 && key[i] == key[p]) {
          out[i] = next;
          queue.push_back(i);
        }
      }
    }
    ++next;
  }
  return torch::tensor(out, torch::kLong).view({h, w});
}

// int64 labels 0..K-1, every label used, numbered in raster order of each label's first
// pixel (a label may be several regions); returns K.
inline int64_t expect_dense_raster_ordered(const torch::Tensor& labels) {
  EXPECT_EQ(labels.scalar_type(), torch::kLong);
  const auto flat = labels.cpu().reshape(-1);
  const auto a = flat.accessor<int64_t, 1>();
  int64_t next = 0;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    EXPECT_LE(a[i], next) << "label " << a[i] << " appears before label " << next;
    if (a[i] == next) ++next;
  }
  EXPECT_EQ(flat.min().item<int64_t>(), 0);
  return next;
}

// int64 labels 0..K-1, every label used, every label one 4-connected region; returns K.
inline int64_t expect_dense_connected(const torch::Tensor& labels) {
  EXPECT_EQ(labels.scalar_type(), torch::kLong);
  EXPECT_EQ(labels.dim(), 2);
  const auto l = labels.cpu();
  const int64_t k = l.max().item<int64_t>() + 1;
  EXPECT_EQ(l.min().item<int64_t>(), 0);
  EXPECT_TRUE((torch::bincount(l.reshape(-1), {}, k) > 0).all().item<bool>()) << "a label in 0..K-1 is unused";
  const auto regions = flood_fill_regions(l);
  EXPECT_EQ(regions.max().item<int64_t>() + 1, k) << "some label is not one 4-connected region";
  return k;
}

// A deterministic textured RGB image: smoothed noise plus a colour gradient.
inline torch::Tensor textured_image(int64_t h, int64_t w, uint64_t seed = 0) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto noise = torch::rand({1, 3, h / 4 + 1, w / 4 + 1}, gen);
  auto smooth = torch::nn::functional::interpolate(noise, torch::nn::functional::InterpolateFuncOptions()
                                                              .size(std::vector<int64_t>{h, w})
                                                              .mode(torch::kBilinear)
                                                              .align_corners(false));
  return (0.8 * smooth[0] + 0.2 * torch::rand({3, h, w}, gen)).clamp(0, 1);
}

}  // namespace loupe::testing
