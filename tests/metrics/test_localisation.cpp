#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <set>

#include "error_matchers.h"
#include "loupe/metrics/localisation.h"

namespace loupe {
namespace {

// The 4x4 hand example (also in tests/reference/localisation_reference.py):
//   mask          map
//   1 1 0 0       .9  .8  .85 .6
//   1 0 0 0       .4  .5  .4  .1
//   0 0 1 0       .1  .1  .7  .1
//   0 0 0 1       .1  .1  .1  .2
// Region A = {.9, .8, .4}; B = {.7, .2} is one region when diagonals connect (8), two
// single pixels otherwise (4). Normal pixels: 11 (.85 .6 .5 .4 and seven .1).
std::pair<torch::Tensor, torch::Tensor> hand_example() {
  const auto map = torch::tensor({0.9, 0.8, 0.85, 0.6,  //
                                  0.4, 0.5, 0.4, 0.1,   //
                                  0.1, 0.1, 0.7, 0.1,   //
                                  0.1, 0.1, 0.1, 0.2},
                                 torch::kDouble)
                       .view({1, 4, 4});
  const auto mask = torch::tensor({1, 1, 0, 0,  //
                                   1, 0, 0, 0,  //
                                   0, 0, 1, 0,  //
                                   0, 0, 0, 1},
                                  torch::kLong)
                        .view({1, 4, 4})
                        .to(torch::kBool);
  return {map, mask};
}

// Three 6x6 images (the second without defect) of levels 0..9 / 9, from
// tests/reference/localisation_reference.py (three_image_example).
std::pair<torch::Tensor, torch::Tensor> three_image_example() {
  const auto levels = torch::tensor(
      {9, 0, 1, 7, 1, 7, 2, 9, 3, 3, 4, 2, 1, 8, 8, 9, 4, 1, 8, 8, 1, 3, 6, 2, 2, 0, 0, 7, 6, 9, 9, 5, 7, 7, 3, 8,
       0, 8, 5, 5, 7, 2, 3, 1, 0, 3, 8, 7, 1, 4, 8, 2, 0, 3, 9, 5, 6, 1, 2, 0, 0, 8, 8, 4, 1, 1, 9, 2, 8, 3, 0, 4,
       2, 2, 9, 6, 7, 2, 7, 6, 7, 6, 4, 4, 9, 1, 8, 6, 4, 1, 1, 4, 9, 6, 5, 3, 3, 1, 9, 8, 1, 1, 7, 4, 9, 5, 5, 2},
      torch::kDouble);
  const auto masks = torch::tensor(
      {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0,
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0},
      torch::kLong);
  return {(levels / 9).view({3, 6, 6}), masks.view({3, 6, 6}).to(torch::kBool)};
}

// J* by brute force: the IoU of (map > θ) for θ = every distinct value and −inf, each
// computed from scratch; ties to the largest θ (the smallest mask).
struct BruteJaccard {
  double jaccard = -1, threshold = 0;
  int64_t size = 0;
};
BruteJaccard brute_force_jaccard(const torch::Tensor& map, const torch::Tensor& mask) {
  std::set<double> candidates{-std::numeric_limits<double>::infinity()};
  const auto flat = map.reshape(-1);
  for (int64_t i = 0; i < flat.size(0); ++i) candidates.insert(flat[i].item<double>());
  BruteJaccard best;
  for (double theta : candidates) {  // ascending: >= lets a larger θ win a tie
    const auto chosen = map > theta;
    const auto inter = (chosen & mask).sum().item<int64_t>(), uni = (chosen | mask).sum().item<int64_t>();
    const double iou = static_cast<double>(inter) / static_cast<double>(uni);
    if (iou < best.jaccard) continue;
    best = {iou, theta, chosen.sum().item<int64_t>()};
  }
  return best;
}

}  // namespace

TEST(PixelAuroc, HandExample) {
  // Positives .9 .8 .7 .4 .2 against the 11 normals: .9 beats 11, .8 beats 10 (not .85),
  // .7 beats 10, .4 beats the seven .1 and ties .4 (7.5), .2 beats 7: 45.5 / 55 = 91/110.
  const auto [map, mask] = hand_example();
  EXPECT_NEAR(pixel_auroc(map, mask), 91.0 / 110.0, 1e-12);
}

TEST(Aupro, HandExampleEightConnected) {
  // Descending thresholds, (FPR, PRO) with regions A (3 px) and B (2 px), PRO = mean overlap:
  //   .9 A 1/3 -> (0, 1/6)   .85 normal -> (1/11, 1/6)   .8 A 2/3 -> (1/11, 1/3)
  //   .7 B 1/2 -> (1/11, 7/12)   .6, .5 normals -> (2/11, 7/12), (3/11, 7/12)
  //   .4 normal + A's last -> (4/11, 3/4)   .2 B -> (4/11, 1)   .1 -> (1, 1)
  // Up to FPR .3: 1/11·1/6 + 2/11·7/12 + the crossing segment: at .3, PRO = 7/12 + .3·(3/4 − 7/12)
  // = 19/30, area (.3 − 3/11)·(7/12 + 19/30)/2 = 73/4400. Total 1819/13200; / .3 = 1819/3960.
  const auto [map, mask] = hand_example();
  EXPECT_NEAR(aupro(map, mask), 1819.0 / 3960.0, 1e-12);
  const auto curve = pro_curve(map, mask);
  EXPECT_EQ(curve.regions, 2);
  const auto fpr = torch::tensor({0.0, 0.0, 1 / 11.0, 1 / 11.0, 1 / 11.0, 2 / 11.0, 3 / 11.0, 4 / 11.0, 4 / 11.0, 1.0},
                                 torch::kDouble);
  const auto pro =
      torch::tensor({0.0, 1 / 6.0, 1 / 6.0, 1 / 3.0, 7 / 12.0, 7 / 12.0, 7 / 12.0, 3 / 4.0, 1.0, 1.0}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(curve.fpr, fpr, 0, 1e-12)) << curve.fpr;
  EXPECT_TRUE(torch::allclose(curve.pro, pro, 0, 1e-12)) << curve.pro;
  EXPECT_TRUE(std::isinf(curve.thresholds[0].item<double>()));
  EXPECT_DOUBLE_EQ(curve.thresholds[7].item<double>(), 0.4);
  // The whole curve (limit 1): adds (4/11 → 1) at PRO 1 and the rest of the .3 segment.
  EXPECT_NEAR(aupro(map, mask, ProOptions().set_fpr_limit(1)),
              1 / 66.0 + 14 / 132.0 + (1 / 11.0) * (7 / 12.0 + 3 / 4.0) / 2 + 7 / 11.0, 1e-12);
}

TEST(Aupro, HandExampleFourConnectedSplitsTheDiagonalRegion) {
  // Regions A (3), B1 = {.7}, B2 = {.2}: PRO steps 1/9 (.9), 2/9 (.8), 5/9 (.7), 2/3 (.4), 1 (.2).
  // 1/11·1/9 + 2/11·5/9 + (.3 − 3/11)·(5/9 + 53/90)/2 = 2509/19800; / .3 = 2509/5940.
  const auto [map, mask] = hand_example();
  EXPECT_NEAR(aupro(map, mask, ProOptions().set_connectivity(Connectivity::kFour)), 2509.0 / 5940.0, 1e-12);
  EXPECT_EQ(pro_curve(map, mask, Connectivity::kFour).regions, 3);
}

TEST(Aupro, MatchesTheMvtecReferenceOnThreeImagesWithTies) {
  // Values from tests/reference/localisation_reference.py (the MVTec AD evaluation's
  // compute_pro + trapezoid); the good image adds only normal pixels.
  const auto [maps, masks] = three_image_example();
  EXPECT_NEAR(aupro(maps, masks), 0.54264217036874485, 1e-12);
  EXPECT_NEAR(aupro(maps, masks, ProOptions().set_fpr_limit(0.05)), 0.21773809523809523, 1e-12);
  EXPECT_NEAR(aupro(maps, masks, ProOptions().set_fpr_limit(1)), 0.78870114353985321, 1e-12);
  EXPECT_NEAR(pixel_auroc(maps, masks), 0.81827956989247308, 1e-12);
  EXPECT_EQ(pro_curve(maps, masks).regions, 3);  // the block, the diagonal pair, the column with its neighbour
}

TEST(Aupro, RejectsBadInput) {
  const auto [map, mask] = hand_example();
  EXPECT_LOUPE_ERROR(aupro(map, mask.slice(1, 0, 3)), "masks: expected the maps' shape");
  EXPECT_LOUPE_ERROR(aupro(map[0], mask[0]), "maps: expected [N,H,W]");
  EXPECT_LOUPE_ERROR(aupro(map, torch::zeros_like(mask)), "masks: no anomalous pixel");
  EXPECT_LOUPE_ERROR(aupro(map, torch::ones_like(mask)), "masks: every pixel is anomalous");
  EXPECT_LOUPE_ERROR(aupro(map, mask, ProOptions().set_fpr_limit(0)), "PRO FPR limit 0");
  EXPECT_LOUPE_ERROR(pixel_auroc(map, torch::zeros_like(mask)), "masks: 0 anomalous pixel(s) of 16");
  EXPECT_LOUPE_ERROR(pixel_auroc(map, mask.to(torch::kLong) * 2), "masks: expected binary masks");
  auto nan_map = map.clone();
  nan_map[0][2][2] = std::nan("");
  EXPECT_LOUPE_ERROR(pixel_auroc(nan_map, mask), "maps: found NaN");
}

TEST(OptimalJaccard, HandExample) {
  // map 3 1 2 / 2 0 3, mask 1 0 1 / 0 0 1 (3 pixels). Masks by descending value:
  // {3,3}: 2/3; + {2,2}: 3/(3+4−3) = 3/4; + {1}: 3/5; + {0}: 1/2. J* = 3/4 with map > 1.
  const auto map = torch::tensor({{3.0, 1.0, 2.0}, {2.0, 0.0, 3.0}});
  const auto mask = torch::tensor({{true, false, true}, {false, false, true}});
  const auto j = optimal_jaccard(map, mask);
  EXPECT_EQ(j.jaccard.dim(), 0);
  EXPECT_DOUBLE_EQ(j.jaccard.item<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j.threshold.item<double>(), 1.0);
  EXPECT_EQ(j.mask_size.item<int64_t>(), 4);
  // Equal IoUs: [4 3 2 1] against [1 0 0 1] gives 1/2 for the top pixel and for all four;
  // the smaller mask wins (θ* = 3).
  const auto tie = optimal_jaccard(torch::tensor({{4.0, 3.0, 2.0, 1.0}}), torch::tensor({{1, 0, 0, 1}}));
  EXPECT_DOUBLE_EQ(tie.jaccard.item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(tie.threshold.item<double>(), 3.0);
  EXPECT_EQ(tie.mask_size.item<int64_t>(), 1);
  // Every pixel in the best mask: θ* = −inf.
  const auto all = optimal_jaccard(torch::tensor({{1.0, 1.0}, {2.0, 0.5}}), torch::ones({2, 2}, torch::kBool));
  EXPECT_DOUBLE_EQ(all.jaccard.item<double>(), 1.0);
  EXPECT_TRUE(std::isinf(all.threshold.item<double>()) && all.threshold.item<double>() < 0);
  EXPECT_EQ(all.mask_size.item<int64_t>(), 4);
}

TEST(OptimalJaccard, EqualsBruteForceOnRandomMapsWithTies) {
  auto gen = at::detail::createCPUGenerator(7);
  const int64_t n = 12, h = 7, w = 9;
  // Even maps take 5 levels (many ties), odd ones are continuous and may be negative.
  auto maps = torch::randn({n, h, w}, gen, torch::kDouble);
  for (int64_t i = 0; i < n; i += 2) maps[i] = torch::randint(0, 5, {h, w}, gen, torch::kDouble);
  auto masks =
      torch::rand({n, h, w}, gen, torch::kDouble) < torch::linspace(0.05, 0.6, n, torch::kDouble).view({n, 1, 1});
  masks[3].zero_();  // J* undefined
  const auto got = optimal_jaccard(maps, masks);
  ASSERT_EQ(got.jaccard.sizes(), (torch::IntArrayRef{n}));
  for (int64_t i = 0; i < n; ++i) {
    if (i == 3) {
      EXPECT_TRUE(std::isnan(got.jaccard[i].item<double>()));
      EXPECT_TRUE(std::isnan(got.threshold[i].item<double>()));
      EXPECT_EQ(got.mask_size[i].item<int64_t>(), 0);
      continue;
    }
    const auto want = brute_force_jaccard(maps[i], masks[i]);
    EXPECT_DOUBLE_EQ(got.jaccard[i].item<double>(), want.jaccard) << "map " << i;
    EXPECT_DOUBLE_EQ(got.threshold[i].item<double>(), want.threshold) << "map " << i;
    EXPECT_EQ(got.mask_size[i].item<int64_t>(), want.size) << "map " << i;
    // One map alone gives the same answer as in the batch.
    const auto single = optimal_jaccard(maps[i], masks[i]);
    EXPECT_DOUBLE_EQ(single.jaccard.item<double>(), want.jaccard) << "map " << i;
  }
}

TEST(OptimalJaccard, RejectsBadInput) {
  const auto map = torch::rand({2, 4, 4});
  EXPECT_LOUPE_ERROR(optimal_jaccard(map, torch::zeros({2, 4, 5}, torch::kBool)), "masks: expected the maps' shape");
  EXPECT_LOUPE_ERROR(optimal_jaccard(map.flatten(), torch::zeros({32}, torch::kBool)),
                     "maps: expected [H,W] or [N,H,W]");
  EXPECT_LOUPE_ERROR(optimal_jaccard(torch::full({4, 4}, INFINITY), torch::ones({4, 4}, torch::kBool)),
                     "maps: found NaN or infinite");
  EXPECT_LOUPE_ERROR(optimal_jaccard(torch::randint(0, 3, {4, 4}, torch::kLong), torch::ones({4, 4}, torch::kBool)),
                     "maps: expected real values");
}

}  // namespace loupe
