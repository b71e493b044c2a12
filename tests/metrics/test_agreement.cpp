#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/metrics/agreement.h"

namespace loupe {

TEST(Agreement, ThresholdByValueAndTopPercent) {
  const auto map = torch::tensor({{0.1f, 0.9f}, {0.5f, 0.5f}});
  EXPECT_TRUE(torch::equal(threshold_by_value(map, 0.5), torch::tensor({{false, true}, {true, true}})));
  // 25% of 4 pixels: the maximum only; 50%: ties at 0.5 go to the lower index.
  EXPECT_TRUE(torch::equal(threshold_top_percent(map, 25), torch::tensor({{false, true}, {false, false}})));
  EXPECT_TRUE(torch::equal(threshold_top_percent(map, 50), torch::tensor({{false, true}, {true, false}})));
  EXPECT_EQ(threshold_top_percent(map, 0).sum().item<int64_t>(), 0);
  EXPECT_EQ(threshold_top_percent(map, 100).sum().item<int64_t>(), 4);
  // Batched: per map.
  const auto maps = torch::stack({map, -map});
  const auto top = threshold_top_percent(maps, 25);
  EXPECT_TRUE(torch::equal(top[1], torch::tensor({{true, false}, {false, false}})));
  EXPECT_LOUPE_ERROR(threshold_top_percent(map, 120), "top percent 120");
}

TEST(Agreement, OtsuSplitsABimodalMap) {
  // 30 pixels in [0.15,0.18] and 70 in [0.78,0.85]: the cut falls between the modes.
  auto values = torch::cat({torch::full({30}, 0.2f), torch::full({70}, 0.8f)});
  values += torch::linspace(-0.05, 0.05, 100);
  const auto map = values.view({10, 10});
  const double t = otsu_threshold(map).item<double>();
  EXPECT_GT(t, values.slice(0, 0, 30).max().item<double>());
  EXPECT_LT(t, values.slice(0, 30).min().item<double>());
  EXPECT_TRUE(torch::equal(threshold_otsu(map), map > 0.5));
  // Two values 0 and 1: every cut between them ties; the first (after bin 0: 1/256) wins.
  const auto binary = torch::tensor({{0.f, 1.f, 1.f}, {0.f, 0.f, 1.f}});
  EXPECT_NEAR(otsu_threshold(binary).item<double>(), 1.0 / 256, 1e-12);
  EXPECT_TRUE(torch::equal(threshold_otsu(binary), binary > 0.5));
  // Hand case with 4 bins over [0,4]: counts (2,1,0,3), centres 0.5..3.5. Between-class
  // variance per cut: 2·4·(0.5−3)² = 50, then 3·3·(0.833−3.5)² = 64 twice; the first tie wins.
  const auto hand = torch::tensor({0.f, 0.5f, 1.5f, 4.f, 4.f, 3.9f});
  EXPECT_NEAR(otsu_threshold(hand.view({2, 3}), 4).item<double>(), 2.0, 1e-9);
  EXPECT_TRUE(torch::equal(threshold_otsu(hand.view({2, 3}), 4), hand.view({2, 3}) > 2));
  // A constant map: the threshold is its value and nothing is above it.
  EXPECT_EQ(threshold_otsu(torch::full({2, 2}, 0.3f)).sum().item<int64_t>(), 0);
  // Batched maps get their own thresholds.
  EXPECT_EQ(otsu_threshold(torch::stack({map, map * 10})).sizes(), (std::vector<int64_t>{2}));
}

TEST(Agreement, IouHandCases) {
  const auto a = torch::tensor({{true, true}, {false, false}});
  const auto b = torch::tensor({{false, true}, {true, false}});
  EXPECT_NEAR(iou(a, b).item<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(iou(a, a).item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(iou(a, ~a).item<double>(), 0.0, 1e-12);
  const auto empty = torch::zeros({2, 2}, torch::kBool);
  EXPECT_NEAR(iou(empty, empty).item<double>(), 1.0, 1e-12);
  // Batched, 0/1 integer masks accepted.
  const auto batch = iou(torch::stack({a, a}).to(torch::kInt), torch::stack({b, a}).to(torch::kInt));
  EXPECT_TRUE(torch::allclose(batch, torch::tensor({1.0 / 3, 1.0}, torch::kDouble)));
  EXPECT_LOUPE_ERROR(iou(a, torch::zeros({3, 2}, torch::kBool)), "expected the same shape");
  EXPECT_LOUPE_ERROR(iou(a.to(torch::kFloat) * 2, b), "binary mask");
  // map_iou: top-50% of two maps that share one of their two top pixels.
  const auto m1 = torch::tensor({{0.9f, 0.8f}, {0.1f, 0.2f}});
  const auto m2 = torch::tensor({{0.9f, 0.1f}, {0.8f, 0.2f}});
  EXPECT_NEAR(map_iou(m1, m2, MapThreshold::top_percent(50)).item<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(map_iou(m1, m2, MapThreshold::at_value(0.85)).item<double>(), 1.0, 1e-12);
}

TEST(Agreement, PointingGame) {
  auto maps = torch::zeros({3, 5, 5});
  maps[0][1][1] = 1;  // inside the mask
  maps[1][4][4] = 1;  // 3 rows and 3 columns away from the mask's corner (2,2): distance √18 ≈ 4.24
  maps[2][2][4] = 1;  // 2 columns away
  auto masks = torch::zeros({3, 5, 5}, torch::kBool);
  masks.slice(1, 0, 3).slice(2, 0, 3) = true;
  EXPECT_TRUE(torch::equal(pointing_game_hits(maps, masks), torch::tensor({true, false, false})));
  EXPECT_TRUE(torch::equal(pointing_game_hits(maps, masks, 2), torch::tensor({true, false, true})));
  EXPECT_TRUE(torch::equal(pointing_game_hits(maps, masks, 4.3), torch::tensor({true, true, true})));
  EXPECT_NEAR(pointing_game_accuracy(maps, masks), 1.0 / 3, 1e-12);
  // An empty mask is a miss; a single [H,W] map works too.
  EXPECT_FALSE(pointing_game_hits(maps[0], torch::zeros({5, 5}, torch::kBool)).item<bool>());
  EXPECT_LOUPE_ERROR(pointing_game_hits(maps, torch::zeros({3, 4, 5}, torch::kBool)), "masks");
  auto nan_maps = maps.clone();
  nan_maps[0][0][0] = std::nanf("");
  EXPECT_LOUPE_ERROR(pointing_game_hits(nan_maps, masks), "maps");
  EXPECT_LOUPE_ERROR(pointing_game_hits(maps, masks, -1), "tolerance");
}

}  // namespace loupe
