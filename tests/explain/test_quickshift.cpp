#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>

#include "explain/segmentation_checks.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {
namespace {

// scikit-image's quickshift written as its loops (density, nearest higher-density
// neighbour, max_dist cut, root following), with ties broken by pixel index as ours.
torch::Tensor quickshift_loops(const torch::Tensor& image, const QuickshiftOptions& o) {
  // skimage's tie-breaking noise on the densities, drawn as quickshift draws it.
  const auto jitter = o.tie_jitter > 0 ? (torch::randn({image.size(1), image.size(2)}, make_generator(o.seed),
                                                       torch::TensorOptions().dtype(torch::kDouble)) *
                                          o.tie_jitter)
                                             .contiguous()
                                       : torch::zeros({image.size(1), image.size(2)}, torch::kDouble);
  const auto noise = jitter.accessor<double, 2>();
  const auto f = (rgb_to_lab(image.to(torch::kDouble)) * o.ratio).contiguous();
  const int64_t h = f.size(1), w = f.size(2), r = static_cast<int64_t>(std::ceil(3 * o.kernel_size));
  auto a = f.accessor<double, 3>();
  const auto dist2 = [&](int64_t y, int64_t x, int64_t v, int64_t u) {
    double d = double((y - v) * (y - v) + (x - u) * (x - u));
    for (int c = 0; c < 3; ++c) d += (a[c][y][x] - a[c][v][u]) * (a[c][y][x] - a[c][v][u]);
    return d;
  };
  std::vector<double> density(h * w, 0.0);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t v = std::max<int64_t>(0, y - r); v < std::min(h, y + r + 1); ++v)
        for (int64_t u = std::max<int64_t>(0, x - r); u < std::min(w, x + r + 1); ++u)
          density[y * w + x] += std::exp(-0.5 * dist2(y, x, v, u) / (o.kernel_size * o.kernel_size));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) density[y * w + x] += noise[y][x];
  std::vector<int64_t> parent(h * w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t p = y * w + x;
      double closest = std::numeric_limits<double>::infinity();
      parent[p] = p;
      for (int64_t v = std::max<int64_t>(0, y - r); v < std::min(h, y + r + 1); ++v)
        for (int64_t u = std::max<int64_t>(0, x - r); u < std::min(w, x + r + 1); ++u) {
          const int64_t q = v * w + u;
          const bool higher = density[q] > density[p] || (density[q] == density[p] && q > p);
          if (higher && dist2(y, x, v, u) < closest) {
            closest = dist2(y, x, v, u);
            parent[p] = q;
          }
        }
      if (std::sqrt(closest) > o.max_dist) parent[p] = p;
    }
  for (auto& p : parent)
    while (parent[p] != p) p = parent[p];
  const auto roots = torch::tensor(parent, torch::kLong).view({h, w});
  if (o.connect) return connected_segments(roots);
  // One label per tree, numbered by the tree's first pixel in raster order.
  std::map<int64_t, int64_t> label_of_root;
  std::vector<int64_t> labels(h * w);
  for (int64_t p = 0; p < h * w; ++p) {
    auto it = label_of_root.emplace(parent[p], static_cast<int64_t>(label_of_root.size())).first;
    labels[p] = it->second;
  }
  return torch::tensor(labels, torch::kLong).view({h, w});
}

}  // namespace

TEST(Quickshift, MatchesLoopReference) {
  const auto image = testing::textured_image(18, 21, 5).to(torch::kDouble);  // float64: exact density ties
  for (const auto& o : {QuickshiftOptions().set_kernel_size(1.5).set_max_dist(4).set_ratio(0.5),
                        QuickshiftOptions().set_kernel_size(1).set_max_dist(200).set_ratio(0.2),
                        QuickshiftOptions().set_kernel_size(2).set_max_dist(6).set_ratio(1)}) {
    const auto labels = quickshift(image, o);
    EXPECT_TRUE(torch::equal(labels, quickshift_loops(image, o))) << "kernel " << o.kernel_size;
    testing::expect_dense_raster_ordered(labels);
    const auto connected = quickshift(image, QuickshiftOptions(o).set_connect(true));
    EXPECT_TRUE(torch::equal(connected, quickshift_loops(image, QuickshiftOptions(o).set_connect(true))));
    testing::expect_dense_connected(connected);
  }
}

TEST(Quickshift, KeepsATreeWholeAsScikitImageUnlessAskedToConnect) {
  // scikit-image (and lime) label each tree once, even where a tree reaches past another
  // tree's pixels; `connect` splits exactly those into 4-connected pieces.
  int64_t split = 0;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    const auto image = testing::textured_image(40, 40, seed);
    const auto o = QuickshiftOptions().set_kernel_size(2).set_max_dist(200).set_ratio(0.3);
    const auto whole = quickshift(image, o), connected = quickshift(image, QuickshiftOptions(o).set_connect(true));
    EXPECT_TRUE(torch::equal(connected, connected_segments(whole)));
    const int64_t k_whole = testing::expect_dense_raster_ordered(whole);
    const int64_t k_connected = testing::expect_dense_connected(connected);
    EXPECT_GE(k_connected, k_whole);
    split += k_connected - k_whole;
  }
  EXPECT_GT(split, 0) << "no tree was ever split: the test image does not exercise the option";
}

TEST(Quickshift, SplitsTwoColourImageAtTheEdge) {
  auto image = torch::zeros({3, 64, 64});
  image[0].slice(1, 0, 32).fill_(1.0);    // red left half
  image[2].slice(1, 32, 64).fill_(1.0);   // blue right half
  const auto labels = quickshift(image, QuickshiftOptions().set_tie_jitter(0));  // LIME's, without jitter
  const auto left = labels.slice(1, 0, 32), right = labels.slice(1, 32, 64);
  EXPECT_TRUE((left == left[0][0]).all().item<bool>());
  EXPECT_TRUE((right == right[0][0]).all().item<bool>());
  EXPECT_NE(left[0][0].item<int64_t>(), right[0][0].item<int64_t>());
}

TEST(Quickshift, CoversTexturedImageDeterministically) {
  const auto image = testing::textured_image(48, 40, 1);
  const auto labels = quickshift(image);
  EXPECT_EQ(labels.sizes(), (std::vector<int64_t>{48, 40}));
  const int64_t k = testing::expect_dense_raster_ordered(labels);
  EXPECT_GT(k, 1);
  EXPECT_TRUE(torch::equal(labels, quickshift(image)));
  // A smaller kernel finds more modes.
  EXPECT_GT(testing::expect_dense_raster_ordered(quickshift(image, QuickshiftOptions().set_kernel_size(2))), k);
}

TEST(Quickshift, TieJitterSplitsAFlatRegionAsSkimageDoes) {
  const auto flat = torch::full({3, 24, 24}, 0.3, torch::kDouble);
  // Ties by index chain a flat region into one segment; skimage's noise leaves a root
  // wherever the noise peaks within a window, so window-sized segments.
  EXPECT_EQ(quickshift(flat, QuickshiftOptions().set_kernel_size(1).set_tie_jitter(0)).max().item<int64_t>(), 0);
  const auto o = QuickshiftOptions().set_kernel_size(1).set_tie_jitter(1e-5).set_seed(3);
  const auto labels = quickshift(flat, o);
  EXPECT_GT(testing::expect_dense_raster_ordered(labels), 4);
  EXPECT_TRUE(torch::equal(labels, quickshift_loops(flat, o)));
  EXPECT_TRUE(torch::equal(labels, quickshift(flat, o)));
  EXPECT_FALSE(torch::equal(labels, quickshift(flat, QuickshiftOptions(o).set_seed(4))));
  // On a textured image the loop reference with the same noise agrees too.
  const auto image = testing::textured_image(18, 21, 5).to(torch::kDouble);
  const auto t = QuickshiftOptions().set_kernel_size(1.5).set_max_dist(6).set_ratio(0.5).set_tie_jitter(1e-5);
  EXPECT_TRUE(torch::equal(quickshift(image, t), quickshift_loops(image, t)));
  EXPECT_THROW(quickshift(flat, QuickshiftOptions().set_tie_jitter(-1)), Error);
}

TEST(QuickshiftNear, ComesCloserToTheWantedCountThanTheFixedKernel) {
  const auto image = testing::textured_image(48, 40, 1);
  const int64_t fixed = quickshift(image).max().item<int64_t>() + 1;  // LIME's kernel 4
  int64_t previous = 0;
  for (const int64_t wanted : {int64_t{4}, int64_t{40}, int64_t{150}}) {
    const auto labels = quickshift_near(image, wanted);
    const int64_t k = testing::expect_dense_raster_ordered(labels);
    EXPECT_LE(std::abs(k - wanted), std::abs(fixed - wanted)) << wanted;
    EXPECT_GT(k, previous) << wanted;  // more wanted, more given
    previous = k;
  }
  EXPECT_THROW(quickshift_near(image, 0), Error);
}

TEST(Quickshift, RejectsBadOptions) {
  const auto image = torch::rand({3, 8, 8});
  EXPECT_THROW(quickshift(image, QuickshiftOptions().set_kernel_size(0)), Error);
  EXPECT_THROW(quickshift(image, QuickshiftOptions().set_ratio(1.5)), Error);
  EXPECT_THROW(quickshift(image, QuickshiftOptions().set_max_dist(-1)), Error);
}

}  // namespace loupe
