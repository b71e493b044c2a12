// Training-time augmentation: exact identities (no-op options, brightness, flips), the
// affine resampling's directions against torch's rot90 and a one-pixel roll, seeded
// determinism, and option checks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/train/augment.h"

namespace loupe {

TEST(Augment, NoAugmentationIsTheIdentityAndBrightnessScales) {
  torch::manual_seed(0);
  const auto x = torch::rand({4, 3, 8, 8});
  EXPECT_TRUE(torch::equal(augment_images(x, no_augmentation()), x));
  EXPECT_TRUE(torch::equal(augment_images(x, no_augmentation().set_brightness(0.5, 0.5)), x * 0.5));
  // A factor above 1 saturates at 1.
  EXPECT_TRUE(torch::equal(augment_images(x, no_augmentation().set_brightness(3, 3)), (x * 3).clamp(0, 1)));
}

TEST(Augment, FlipsMirrorAboutHalfTheImages) {
  torch::manual_seed(1);
  const auto x = torch::rand({64, 1, 4, 5});
  const auto y = augment_images(x, no_augmentation().set_horizontal_flip(true));
  int64_t flipped = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const bool same = torch::equal(y[i], x[i]), mirrored = torch::equal(y[i], x[i].flip({2}));
    EXPECT_TRUE(same || mirrored);
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(Augment, AffineResampleTurnsAndShiftsAsDocumented) {
  torch::manual_seed(2);
  const auto x = torch::rand({1, 2, 6, 6});
  const auto one = torch::ones({1}), zero = torch::zeros({1});
  // Identity.
  EXPECT_TRUE(torch::allclose(affine_resample(x, zero, one, torch::zeros({1, 2})), x, 1e-5, 1e-6));
  // 90 degrees counter-clockwise on screen is rot90 over (H, W) (numpy's convention).
  EXPECT_TRUE(torch::allclose(affine_resample(x, torch::full({1}, 90.0), one, torch::zeros({1, 2})),
                              torch::rot90(x, 1, {2, 3}), 1e-5, 1e-5));
  // A shift of one pixel to the right: column j takes column j - 1; the first repeats.
  const auto shifted = affine_resample(x, zero, one, torch::tensor({{1.0 / 6, 0.0}}));
  EXPECT_TRUE(torch::allclose(shifted.narrow(3, 1, 5), x.narrow(3, 0, 5), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(shifted.select(3, 0), x.select(3, 0), 1e-5, 1e-5));
  // Zoom 2 about the centre: the centre 3x3 block of a 6x6 image is blown up to 6x6.
  const auto blocks =
      torch::arange(9, torch::kFloat).view({1, 1, 3, 3}).repeat_interleave(2, 2).repeat_interleave(2, 3);
  const auto zoomed = affine_resample(blocks, zero, torch::full({1}, 2.0), torch::zeros({1, 2}));
  // Output (0,0) samples input (1.25, 1.25): 0.75/0.25 of blocks 0 and 1 per axis, value 3r + c
  // -> 0.1875 * 1 + 0.1875 * 3 + 0.0625 * 4 = 1.
  EXPECT_NEAR(zoomed[0][0][0][0].item<float>(), 1.0, 1e-5);
  EXPECT_NEAR(zoomed[0][0][2][2].item<float>(), 4.0, 1e-5);
}

TEST(Augment, SeededDrawsRepeatAndStayInRange) {
  const auto x = torch::rand({8, 3, 16, 16});
  const auto options = AugmentOptions().set_horizontal_flip(true).set_vertical_flip(true);
  torch::manual_seed(5);
  const auto a = augment_images(x, options);
  torch::manual_seed(5);
  const auto b = augment_images(x, options);
  torch::manual_seed(6);
  const auto c = augment_images(x, options);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_GE(a.min().item<float>(), 0.f);
  EXPECT_LE(a.max().item<float>(), 1.f);
  const TensorDataset data(torch::randint(0, 256, {4, 3, 16, 16}).to(torch::kUInt8), torch::arange(4),
                           {"a", "b", "c", "d"});
  const AugmentedDataset augmented(data, options);
  const auto batch = augmented.get(torch::arange(4));
  EXPECT_TRUE(torch::equal(batch.labels, torch::arange(4)));
  EXPECT_EQ(batch.images.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
}

TEST(Augment, BadOptionsAreErrors) {
  EXPECT_LOUPE_ERROR(check_augment_options(AugmentOptions().set_rotation_degrees(-1)), "rotation -1");
  EXPECT_LOUPE_ERROR(check_augment_options(AugmentOptions().set_zoom(1)), "zoom 1");
  EXPECT_LOUPE_ERROR(check_augment_options(AugmentOptions().set_brightness(1.2, 0.8)), "low <= high");
  EXPECT_LOUPE_ERROR(
      affine_resample(torch::rand({2, 1, 4, 4}), torch::zeros({1}), torch::ones({2}), torch::zeros({2, 2})),
      "one angle, scale and (dx, dy) shift per image");
}

}  // namespace loupe
