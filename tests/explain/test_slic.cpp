#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "explain/segmentation_checks.h"
#include "explain/segmentation_detail.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {
namespace {

// A smooth random colour field (3×3 control points, bilinear) with mild pixel noise: the
// regime SLIC is made for. (On fine texture whose colour changes faster than the grid
// step, colour dominates, clusters fragment and connectivity enforcement merges them, in
// scikit-image too.)
torch::Tensor smooth_image(int64_t h, int64_t w, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto control = torch::rand({1, 3, 3, 3}, gen);
  const auto field = torch::nn::functional::interpolate(control, torch::nn::functional::InterpolateFuncOptions()
                                                                     .size(std::vector<int64_t>{h, w})
                                                                     .mode(torch::kBilinear)
                                                                     .align_corners(true));
  return (field[0] + 0.02 * torch::randn({3, h, w}, gen)).clamp(0, 1);
}

// scikit-image's _slic_cython (2-D, no mask, not SLIC-zero) written as its loops, over
// the same Lab image and grid as loupe's (`steps`: the grid's (sy, sx) and start).
torch::Tensor slic_loops(const torch::Tensor& image, int64_t n_segments, double compactness, int64_t max_iter) {
  auto rgb = image.to(torch::kDouble);
  rgb = rgb - rgb.min();
  rgb = rgb / rgb.max();  // scikit-image rescales the image to [0,1] first
  const auto lab = (rgb_to_lab(rgb) * (1.0 / compactness)).contiguous();
  const int64_t h = lab.size(1), w = lab.size(2);
  // skimage.util.regular_grid for (1, H, W) and n, as in src/explain/slic.cpp.
  auto grid = [&](int64_t n) {
    const double space = double(h) * double(w);
    double s_short = std::sqrt(space / double(n)), s_long = s_short;
    const double short_side = double(std::min(h, w)), long_side = double(std::max(h, w));
    if (short_side < s_short) s_short = short_side, s_long = long_side / double(n);
    const double sy = h <= w ? s_short : s_long, sx = h <= w ? s_long : s_short;
    return std::array<int64_t, 4>{int64_t(std::floor(sy / 2)), int64_t(std::floor(sx / 2)),
                                  std::max<int64_t>(1, int64_t(std::nearbyint(sy))),
                                  std::max<int64_t>(1, int64_t(std::nearbyint(sx)))};
  };
  const auto g = grid(n_segments);
  std::vector<std::array<double, 5>> c;  // y, x, L, a, b
  for (int64_t y = g[0]; y < h; y += g[2])
    for (int64_t x = g[1]; x < w; x += g[3]) c.push_back({double(y), double(x), 0, 0, 0});
  const int64_t k = int64_t(c.size());
  const auto b = grid(k);
  const double step = double(std::max(g[2], g[3])), weight = 1.0 / (step * step);
  const auto a = lab.accessor<double, 3>();
  std::vector<int64_t> nearest(h * w, 0);
  std::vector<double> distance(h * w);
  for (int64_t it = 0; it < max_iter; ++it) {
    std::fill(distance.begin(), distance.end(), std::numeric_limits<double>::max());
    for (int64_t i = 0; i < k; ++i) {
      const double cy = c[i][0], cx = c[i][1];
      if (std::isnan(cy)) continue;
      const auto y_min = int64_t(std::max(cy - 2 * b[2], 0.0)), y_max = int64_t(std::min(cy + 2 * b[2] + 1, double(h)));
      const auto x_min = int64_t(std::max(cx - 2 * b[3], 0.0)), x_max = int64_t(std::min(cx + 2 * b[3] + 1, double(w)));
      for (int64_t y = y_min; y < y_max; ++y)
        for (int64_t x = x_min; x < x_max; ++x) {
          double dy = cy - y, dx = cx - x;
          dy *= dy;
          dx *= dx;
          double d = (dy + dx) * weight, colour = 0;
          for (int ch = 0; ch < 3; ++ch) {
            const double t = a[ch][y][x] - c[i][2 + ch];
            colour += t * t;
          }
          d += colour;
          if (distance[y * w + x] > d) nearest[y * w + x] = i, distance[y * w + x] = d;
        }
    }
    std::vector<std::array<double, 6>> sums(k, {0, 0, 0, 0, 0, 0});
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        auto& s = sums[nearest[y * w + x]];
        s[0] += 1, s[1] += y, s[2] += x;
        for (int ch = 0; ch < 3; ++ch) s[3 + ch] += a[ch][y][x];
      }
    for (int64_t i = 0; i < k; ++i)
      for (int j = 0; j < 5; ++j) c[i][j] = sums[i][1 + j] / sums[i][0];  // 0/0 = NaN: a dead centre
  }
  const double size = double(h * w) / double(k);
  return detail::enforce_label_connectivity(torch::tensor(nearest, torch::kLong).view({h, w}), int64_t(0.5 * size),
                                            int64_t(3 * size));
}

}  // namespace

TEST(Slic, EqualsScikitImagesLoops) {
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const auto image = testing::textured_image(30 + 7 * seed, 41, seed);
    for (const int64_t n : {int64_t{12}, int64_t{40}}) {
      const auto o = SlicOptions().set_n_segments(n).set_compactness(seed == 2 ? 3.0 : 10.0);
      EXPECT_TRUE(torch::equal(slic(image, o), slic_loops(image, n, o.compactness, o.max_iter)))
          << "seed " << seed << ", " << n << " segments";
    }
  }
}

TEST(Slic, RecoversColourBlocks) {
  // 4×4 blocks of 16 px whose colours differ in at least two channels by 1/3 from their
  // neighbours: SLIC with 16 segments (grid step 16) must return exactly the blocks,
  // numbered in raster order.
  const auto level = torch::arange(4).to(torch::kFloat) / 3;
  const auto by = torch::arange(4).view({-1, 1}).expand({4, 4}), bx = torch::arange(4).view({1, -1}).expand({4, 4});
  const auto colours = torch::stack({level.index({bx}), level.index({by}), level.index({(bx + by).remainder(4)})});
  const auto image = colours.repeat_interleave(16, 1).repeat_interleave(16, 2);
  const auto blocks = (torch::arange(64).div(16, "floor").view({-1, 1}) * 4 + torch::arange(64).div(16, "floor"));
  EXPECT_TRUE(torch::equal(slic(image, SlicOptions().set_n_segments(16)), blocks));
}

TEST(Slic, SegmentCountNearRequested) {
  for (const auto& [h, w, n] : {std::tuple<int64_t, int64_t, int64_t>{64, 64, 16}, {48, 80, 30}, {64, 64, 100}}) {
    const auto labels = slic(smooth_image(h, w, 2), SlicOptions().set_n_segments(n));
    const int64_t k = testing::expect_dense_connected(labels);
    EXPECT_GE(k, n / 2) << h << "x" << w << " n=" << n;
    EXPECT_LE(k, 3 * n / 2) << h << "x" << w << " n=" << n;
  }
}

TEST(Slic, DeterministicAndCompactnessMatters) {
  const auto image = testing::textured_image(40, 40, 3);
  const auto a = slic(image, SlicOptions().set_n_segments(25));
  EXPECT_TRUE(torch::equal(a, slic(image, SlicOptions().set_n_segments(25))));
  // Very high compactness leaves near-square cells: 25 segments of about 8×8 pixels.
  const auto square = slic(image, SlicOptions().set_n_segments(25).set_compactness(1e6));
  EXPECT_EQ(testing::expect_dense_connected(square), 25);
  const auto sizes = torch::bincount(square.reshape(-1));
  EXPECT_GE(sizes.min().item<int64_t>(), 36) << sizes;
  EXPECT_LE(sizes.max().item<int64_t>(), 100) << sizes;
  const auto cells = grid_segments(40, 40, 8);
  EXPECT_FALSE(torch::equal(a, cells));
}

TEST(Slic, RejectsBadOptions) {
  const auto image = torch::rand({3, 8, 8});
  try {
    slic(image, SlicOptions().set_n_segments(0));
    ADD_FAILURE() << "n_segments 0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n_segments"), std::string::npos) << e.what();
  }
  EXPECT_THROW(slic(image, SlicOptions().set_compactness(0)), Error);
  EXPECT_THROW(slic(image, SlicOptions().set_max_iter(0)), Error);
}

}  // namespace loupe
