#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "error_matchers.h"
#include "loupe/core/components.h"

namespace loupe {
namespace {

// Regions of a binary mask by breadth-first search (the obvious algorithm, for
// comparison): 0 outside, 1..K in raster order of the first pixel.
torch::Tensor bfs_regions(const torch::Tensor& mask, bool diagonals) {
  const auto m = mask.to(torch::kBool).contiguous();
  const int64_t h = m.size(0), w = m.size(1);
  const auto* in = m.data_ptr<bool>();
  std::vector<int64_t> out(static_cast<size_t>(h * w), 0), queue;
  int64_t next = 0;
  for (int64_t start = 0; start < h * w; ++start) {
    if (!in[start] || out[start] > 0) continue;
    out[start] = ++next;
    queue.assign(1, start);
    for (size_t q = 0; q < queue.size(); ++q) {
      const int64_t y = queue[q] / w, x = queue[q] % w;
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t yy = y + dy, xx = x + dx, i = yy * w + xx;
          if ((dy != 0 && dx != 0 && !diagonals) || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          if (!in[i] || out[i] > 0) continue;
          out[i] = next;
          queue.push_back(i);
        }
    }
  }
  return torch::tensor(out, torch::kLong).view({h, w});
}

}  // namespace

TEST(LabelRegions, DiagonalsJoinOnlyWithEightConnectivity) {
  const auto mask = torch::tensor({1, 0, 0, 1,  //
                                   0, 1, 0, 1,  //
                                   0, 0, 0, 0,  //
                                   1, 1, 0, 1},
                                  torch::kLong)
                        .view({4, 4});
  const auto eight = torch::tensor({1, 0, 0, 2,  //
                                    0, 1, 0, 2,  //
                                    0, 0, 0, 0,  //
                                    3, 3, 0, 4},
                                   torch::kLong)
                         .view({4, 4});
  const auto four = torch::tensor({1, 0, 0, 2,  //
                                   0, 3, 0, 2,  //
                                   0, 0, 0, 0,  //
                                   4, 4, 0, 5},
                                  torch::kLong)
                        .view({4, 4});
  EXPECT_TRUE(torch::equal(label_regions(mask), eight)) << label_regions(mask);
  EXPECT_TRUE(torch::equal(label_regions(mask.to(torch::kBool), Connectivity::kFour), four));
}

TEST(LabelRegions, MatchesBreadthFirstSearchOnRandomMasks) {
  auto gen = at::detail::createCPUGenerator(4);
  for (double density : {0.2, 0.45, 0.6}) {
    const auto mask = torch::rand({23, 29}, gen, torch::kDouble) < density;
    EXPECT_TRUE(torch::equal(label_regions(mask, Connectivity::kEight), bfs_regions(mask, true))) << density;
    EXPECT_TRUE(torch::equal(label_regions(mask, Connectivity::kFour), bfs_regions(mask, false))) << density;
  }
}

TEST(NeighbourPairs, CountsEachPairOnce) {
  const auto [from4, to4] = neighbour_pairs(3, 5, Connectivity::kFour);
  EXPECT_EQ(from4.numel(), 3 * 4 + 2 * 5);
  const auto [from8, to8] = neighbour_pairs(3, 5, Connectivity::kEight);
  EXPECT_EQ(from8.numel(), 3 * 4 + 2 * 5 + 2 * 2 * 4);
  EXPECT_TRUE((from8 < to8).all().item<bool>());
  // Neighbours differ by at most one row and one column.
  const auto dy = (to8.div(5, "floor") - from8.div(5, "floor")).abs(),
             dx = (to8.remainder(5) - from8.remainder(5)).abs();
  EXPECT_TRUE(((dy <= 1) & (dx <= 1)).all().item<bool>());
}

TEST(LabelRegions, RejectsBadMasks) {
  EXPECT_LOUPE_ERROR(label_regions(torch::zeros({2, 3, 3}, torch::kBool), Connectivity::kEight, "ground truth"),
                     "ground truth: expected a binary mask [H,W]");
  EXPECT_LOUPE_ERROR(label_regions(torch::full({3, 3}, 2, torch::kLong)), "mask: expected a binary mask (bool or 0/1)");
}

}  // namespace loupe
