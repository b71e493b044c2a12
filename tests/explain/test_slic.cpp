#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/segmentation_checks.h"
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

}  // namespace

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
