#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/data/dsprites.h"

namespace loupe {
namespace {

torch::Tensor sprite_factors(std::vector<int64_t> f) { return torch::tensor(f, torch::kLong).reshape({1, -1}); }

int64_t pixels(const DSprites& d, std::vector<int64_t> f) {
  return d.render(sprite_factors(f), torch::kCPU).sum().item<int64_t>();
}

// Mean column (x) and row (y) of the sprite's pixels.
std::pair<double, double> centroid(const DSprites& d, std::vector<int64_t> f) {
  const auto im = d.render(sprite_factors(f), torch::kCPU)[0][0];
  const auto ys = torch::arange(64, torch::kFloat).reshape({64, 1}), xs = torch::arange(64, torch::kFloat);
  const double n = im.sum().item<double>();
  return {(im * xs).sum().item<double>() / n, (im * ys).sum().item<double>() / n};
}

TEST(DSprites, FactorsRoundTripForEveryIndex) {
  const DSprites data;
  EXPECT_EQ(data.size(), 737280);
  const auto all = torch::arange(data.size(), torch::kLong);
  EXPECT_TRUE(torch::equal(data.index_of(data.factors(all)), all));
  EXPECT_TRUE(torch::equal(data.factors(torch::tensor({32L * 32 * 40 * 6})), sprite_factors({1, 0, 0, 0, 0})));
  EXPECT_EQ(data.value_names(0), (std::vector<std::string>{"square", "ellipse", "heart"}));
  EXPECT_EQ(data.value_names(1).back(), "1.00");
  EXPECT_EQ(data.value_names(2).back(), "6.283");  // 2π, included as in dsprites.npz
}

TEST(DSprites, HandCountedAreas) {
  const DSprites data;
  // Square at pos index 16 (centre 10 + 44·16/31 = 32.71 px), half-size 10·scale:
  // pixel centres x+0.5 in [22.71, 42.71] → 20 columns; at scale 0.5, [27.71, 37.71] → 10.
  EXPECT_EQ(pixels(data, {0, 5, 0, 16, 16}), 400);
  EXPECT_EQ(pixels(data, {0, 0, 0, 16, 16}), 100);
  // Ellipse with semi-axes 10 and 5 px: area 50π ≈ 157.
  EXPECT_NEAR(pixels(data, {1, 5, 0, 16, 16}), 157.1, 8.0);
}

TEST(DSprites, PixelCountGrowsWithScaleForEveryShape) {
  const DSprites data;
  for (int64_t shape = 0; shape < 3; ++shape)
    for (int64_t orientation : {0L, 13L}) {
      int64_t previous = 0;
      for (int64_t scale = 0; scale < 6; ++scale) {
        const int64_t n = pixels(data, {shape, scale, orientation, 16, 16});
        EXPECT_GT(n, previous) << "shape " << shape << " scale " << scale;
        previous = n;
      }
    }
}

TEST(DSprites, PositionMovesTheSprite) {
  const DSprites data;
  const auto [x0, y0] = centroid(data, {2, 3, 5, 0, 16});
  const auto [x1, y1] = centroid(data, {2, 3, 5, 31, 16});
  EXPECT_NEAR(x1 - x0, 44.0, 1.0);
  EXPECT_NEAR(y1 - y0, 0.0, 1e-9);
  // pos_y counts image rows downwards: 0 is near the top.
  EXPECT_NEAR(centroid(data, {2, 3, 5, 16, 31}).second - centroid(data, {2, 3, 5, 16, 0}).second, 44.0, 1.0);
}

TEST(DSprites, BinaryDeterministicBatchInvariant) {
  const DSprites data;
  const auto idx = torch::tensor({0L, 5000L, 737279L, 400001L});
  const auto batch = data.get(idx);
  ASSERT_EQ(batch.images.sizes(), (torch::IntArrayRef{4, 1, 64, 64}));
  EXPECT_TRUE(torch::equal(batch.images, (batch.images > 0.5).to(torch::kFloat)));
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_TRUE(torch::equal(batch.images[i], data.get(idx.slice(0, i, i + 1)).images[0]));
  EXPECT_TRUE(torch::equal(batch.labels, data.factors(idx).select(1, 0)));
  // Rotation changes the square but not its pixel count by much.
  EXPECT_FALSE(
      torch::equal(data.render(sprite_factors({0, 5, 0, 16, 16}), torch::kCPU), data.render(sprite_factors({0, 5, 5, 16, 16}), torch::kCPU)));
  EXPECT_NEAR(pixels(data, {0, 5, 5, 16, 16}), 400, 20);
}

TEST(DSprites, ClearErrors) {
  const DSprites data;
  EXPECT_THROW(data.render(sprite_factors({3, 0, 0, 0, 0}), torch::kCPU), Error);
  EXPECT_THROW(data.get(torch::tensor({-1L})), Error);
  EXPECT_THROW(DSprites(DSpritesOptions().set_label_factor("color")), Error);
}

}  // namespace
}  // namespace loupe
