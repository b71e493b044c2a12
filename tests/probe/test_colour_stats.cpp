#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/data/coloured.h"
#include "loupe/probe/colour_stats.h"

namespace loupe {

TEST(ColourStats, SaturationAndNearestPaletteColourByHand) {
  auto images = torch::zeros({3, 3, 2, 2});
  images[0].fill_(0.5f);                                 // gray: saturation 0
  images[1][0].fill_(1.0f);                              // pure red: saturation 1
  images[2][0].fill_(1.0f), images[2][1].fill_(0.5f);    // orange (1, .5, 0)
  images[2][1][0][0] = 1.0f, images[2][2][0][0] = 1.0f;  // one white pixel: saturation 0, weight 0
  const auto s = mean_saturation(images);
  EXPECT_DOUBLE_EQ(s[0].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(s[1].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(s[2].item<double>(), 0.75);  // three orange pixels at 1, the white one at 0
  const auto nearest = nearest_palette_colour(images.narrow(0, 1, 2), coloured_palette());
  EXPECT_EQ(coloured_palette_names()[static_cast<size_t>(nearest[0].item<int64_t>())], "red");
  EXPECT_EQ(coloured_palette_names()[static_cast<size_t>(nearest[1].item<int64_t>())], "orange");
  // Green and dark green differ only in brightness: equally near.
  auto green = torch::zeros({1, 3, 2, 2});
  green[0][1].fill_(0.5f);
  const auto d = palette_distances(green, coloured_palette());
  EXPECT_DOUBLE_EQ(d[0][1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(d[0][7].item<double>(), 0.0);
  EXPECT_LOUPE_ERROR(mean_saturation(torch::zeros({1, 1, 2, 2})), "RGB images");
}

}  // namespace loupe
