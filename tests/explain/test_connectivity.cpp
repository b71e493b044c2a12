#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/segmentation_checks.h"
#include "explain/segmentation_detail.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {

TEST(ConnectedSegments, SplitsHandExample) {
  const auto labels = torch::tensor({0, 0, 1, 0,  //
                                     1, 1, 1, 0,  //
                                     0, 1, 0, 0},
                                    torch::kLong)
                          .view({3, 4});
  const auto expected = torch::tensor({0, 0, 1, 2,  //
                                       1, 1, 1, 2,  //
                                       3, 1, 2, 2},
                                      torch::kLong)
                            .view({3, 4});
  EXPECT_TRUE(torch::equal(connected_segments(labels), expected)) << connected_segments(labels);
}

TEST(ConnectedSegments, MatchesFloodFillOnRandomLabels) {
  auto gen = at::detail::createCPUGenerator(3);
  for (int64_t classes : {2, 3, 5}) {
    const auto labels = torch::randint(0, classes, {31, 37}, gen, torch::kLong);
    EXPECT_TRUE(torch::equal(connected_segments(labels), testing::flood_fill_regions(labels))) << classes;
  }
}

TEST(ConnectedSegments, FollowsALongSpiral) {
  // A one-pixel-wide spiral corridor is the slowest case for label propagation.
  const int64_t n = 33;
  auto wall = torch::zeros({n, n}, torch::kLong);
  auto a = wall.accessor<int64_t, 2>();
  for (int64_t ring = 0; 2 * ring < n; ring += 2) {
    for (int64_t i = ring; i < n - ring; ++i) a[ring][i] = a[n - 1 - ring][i] = a[i][ring] = a[i][n - 1 - ring] = 1;
    if (ring + 1 < n - ring) a[ring + 1][ring] = 0;  // door into the next ring
  }
  EXPECT_TRUE(torch::equal(connected_segments(wall), testing::flood_fill_regions(wall)));
}

TEST(ConnectedSegments, RejectsFloatLabels) {
  EXPECT_THROW(connected_segments(torch::rand({4, 4})), Error);
  EXPECT_THROW(connected_segments(torch::zeros({2, 4, 4}, torch::kLong)), Error);
}

TEST(RespectMask, OnlySplitsAndNeverCrossesTheMask) {
  const auto labels = grid_segments(32, 32, 8);
  const auto yy = torch::arange(32).view({-1, 1}), xx = torch::arange(32).view({1, -1});
  const auto mask = (yy - 13).square() + (xx - 18).square() < 81;  // a disc crossing several cells
  const auto split = respect_mask(labels, mask);
  const int64_t k = testing::expect_dense_connected(split);
  // Each new segment lies on one side of the mask and inside one old segment.
  for (const auto& inner : {mask.to(torch::kLong), labels}) {
    const auto lo =
        torch::full({k}, 1 << 30, torch::kLong).scatter_reduce(0, split.reshape(-1), inner.reshape(-1), "amin");
    const auto hi = torch::full({k}, -1, torch::kLong).scatter_reduce(0, split.reshape(-1), inner.reshape(-1), "amax");
    EXPECT_TRUE(torch::equal(lo, hi));
  }
  // And it is exactly the regions of (segment, side) pairs.
  EXPECT_TRUE(torch::equal(split, testing::flood_fill_regions(labels * 2 + mask.to(torch::kLong))));
  // A float 0/1 mask works the same.
  EXPECT_TRUE(torch::equal(respect_mask(labels, mask.to(torch::kFloat)), split));
}

TEST(RespectMask, RejectsMaskOfAnotherSizeOrNotBinary) {
  const auto labels = grid_segments(8, 8, 4);
  try {
    respect_mask(labels, torch::zeros({8, 9}, torch::kBool));
    ADD_FAILURE() << "mask of another size accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mask"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[8, 9]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(respect_mask(labels, torch::full({8, 8}, 0.5)), Error);
}

TEST(EnforceLabelConnectivity, FollowsScikitImagesSearchAndMergeRule) {
  // Traced by hand through skimage's _enforce_label_connectivity_cython (min_size 2):
  // segment 2 (one pixel) meets 1 (right), 0 (left), 0 (above) in that order: the last
  // labelled neighbour, 0, takes it.
  const auto labels = torch::tensor({0, 0, 1, 1,  //
                                     0, 2, 1, 1,  //
                                     3, 3, 3, 3,  //
                                     3, 3, 3, 3},
                                    torch::kLong)
                          .view({4, 4});
  const auto expected = torch::tensor({0, 0, 1, 1,  //
                                       0, 0, 1, 1,  //
                                       2, 2, 2, 2,  //
                                       2, 2, 2, 2},
                                      torch::kLong)
                            .view({4, 4});
  EXPECT_TRUE(torch::equal(detail::enforce_label_connectivity(labels, 2, 100), expected));
  // A small first segment has no labelled neighbour: it keeps the next new label, which
  // the following component then shares.
  const auto corner = torch::tensor({0, 1, 1, 1, 1, 1, 2, 2, 2}, torch::kLong).view({3, 3});
  EXPECT_TRUE(torch::equal(detail::enforce_label_connectivity(corner, 2, 100),
                           torch::tensor({0, 0, 0, 0, 0, 0, 1, 1, 1}, torch::kLong).view({3, 3})));
  // max_size stops the search: a run of 6 becomes 4 + 2.
  EXPECT_TRUE(torch::equal(detail::enforce_label_connectivity(torch::zeros({1, 6}, torch::kLong), 1, 4),
                           torch::tensor({0, 0, 0, 0, 1, 1}, torch::kLong).view({1, 6})));
  // Disconnected pieces of one label become separate segments.
  const auto split = torch::tensor({0, 1, 0}, torch::kLong).view({1, 3});
  EXPECT_TRUE(torch::equal(detail::enforce_label_connectivity(split, 1, 100),
                           torch::tensor({0, 1, 2}, torch::kLong).view({1, 3})));
}

}  // namespace loupe
