#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"
#include "loupe/explain/latent_traversal.h"

namespace loupe {
namespace {

// A linear decoder z [N,3] → images [N,1,2,2]: pixel p = sum_l z_l W[l][p], so every
// decoded cell can be predicted by hand.
torch::Tensor traversal_weights() {
  return torch::tensor({1.f, 0.f, 0.f, 2.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f, -1.f}).reshape({3, 4});
}
LatentDecoder linear_decoder() {
  return [](const torch::Tensor& z) { return z.matmul(traversal_weights()).reshape({-1, 1, 2, 2}); };
}

TEST(LatentTraversal, KlIsTheMeanClosedFormPerDimension) {
  // dim 0: mu = ±1, var 1 → 0.5·(1 + 1 − 0 − 1) = 0.5; dim 1: mu 0, var 2 → 0.5·(2 − ln 2 − 1).
  const auto mu = torch::tensor({1.f, 0.f, -1.f, 0.f}).reshape({2, 2});
  const auto lv = torch::tensor({0.f, std::log(2.f), 0.f, std::log(2.f)}).reshape({2, 2});
  const auto kl = latent_kl(mu, lv);
  EXPECT_NEAR(kl[0].item<double>(), 0.5, 1e-7);
  EXPECT_NEAR(kl[1].item<double>(), 0.5 * (1.0 - std::log(2.0)), 1e-7);
}

TEST(LatentTraversal, UsageOrdersByKlAndMarksDeadDimensions) {
  // Constructed encoder output: logvar 0 and mu = ±a per dimension give KL = a²/2 exactly:
  // a = 0.1 → 0.005 (dead), 2 → 2, 1 → 0.5, 0 → 0 (dead).
  const auto a = torch::tensor({0.1, 2.0, 1.0, 0.0}, torch::kDouble);
  const auto mu = torch::stack({a, -a, a, -a}), lv = torch::zeros({4, 4}, torch::kDouble);
  const auto u = latent_usage(mu, lv);
  EXPECT_NEAR(u.kl[0].item<double>(), 0.005, 1e-12);
  EXPECT_EQ(u.order, (std::vector<int64_t>{1, 2, 0, 3}));
  EXPECT_EQ(u.dead, (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(latent_usage(mu, lv, 0.001).dead, (std::vector<bool>{false, false, false, true}));
}

TEST(LatentTraversal, RowsMoveOneDimensionAndTheCentreIsTheBaseReconstruction) {
  const auto decode = linear_decoder();
  const auto base = torch::tensor({0.5f, -1.f, 2.f});
  const auto grid = latent_traversal(decode, base, {2, 0}, TraversalOptions().set_steps(5).set_range(2.0));
  ASSERT_EQ(grid.sizes(), (torch::IntArrayRef{2, 5, 1, 2, 2}));
  const auto recon = decode(base.unsqueeze(0))[0];
  EXPECT_TRUE(torch::allclose(grid[0][2], recon, 0, 1e-6));
  EXPECT_TRUE(torch::allclose(grid[1][2], recon, 0, 1e-6));
  // Row 0 moves dim 2 by -2: pixels change by -2·W[2] = (0, 0, -2, 2).
  EXPECT_TRUE(torch::allclose(grid[0][0] - recon, torch::tensor({0.f, 0.f, -2.f, 2.f}).reshape({1, 2, 2}), 0, 1e-6));
  // Row 1 moves dim 0 by +1 (column 3): pixels change by W[0] = (1, 0, 0, 2).
  EXPECT_TRUE(torch::allclose(grid[1][3] - recon, torch::tensor({1.f, 0.f, 0.f, 2.f}).reshape({1, 2, 2}), 0, 1e-6));
  const auto offsets = traversal_offsets(TraversalOptions());
  EXPECT_TRUE(torch::equal(offsets, torch::tensor({-3.f, -2.f, -1.f, 0.f, 1.f, 2.f, 3.f})));
}

TEST(LatentTraversal, PlaneCellsAddBothOffsets) {
  const auto decode = linear_decoder();
  const auto base = torch::tensor({0.f, 0.f, 0.f}).reshape({1, 3});
  const auto plane = latent_plane(decode, base, 1, 0, TraversalOptions().set_steps(3).set_range(1.0));
  ASSERT_EQ(plane.sizes(), (torch::IntArrayRef{3, 3, 1, 2, 2}));
  // Cell (row 0, col 2): dim 1 at -1, dim 0 at +1 → W[0] − W[1] = (1, -1, 0, 2).
  EXPECT_TRUE(torch::allclose(plane[0][2], torch::tensor({1.f, -1.f, 0.f, 2.f}).reshape({1, 2, 2}), 0, 1e-6));
  EXPECT_TRUE(torch::allclose(plane[1][1], torch::zeros({1, 2, 2}), 0, 1e-6));
}

TEST(LatentTraversal, ClearErrors) {
  const auto decode = linear_decoder();
  const auto base = torch::zeros({3});
  try {
    latent_traversal(decode, base, {3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dimension 3"), std::string::npos);
  }
  EXPECT_THROW(latent_traversal(decode, base, {0}, TraversalOptions().set_steps(1)), Error);
  EXPECT_THROW(latent_traversal(decode, torch::zeros({2, 3}), {0}), Error);
  EXPECT_THROW(latent_plane(decode, base, 1, 1), Error);
  EXPECT_THROW(latent_kl(torch::zeros({2, 3}), torch::zeros({2, 2})), Error);
  EXPECT_THROW(latent_kl(torch::full({1, 2}, NAN), torch::zeros({1, 2})), Error);
}

}  // namespace
}  // namespace loupe
