#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "loupe/core/error.h"
#include "loupe/data/coloured.h"

namespace loupe {
namespace {

// n gray 4x4 images whose first two pixels spell the image's index (so a split can be
// traced back to the base set), two stroke pixels (200, 255) and a black background.
TensorDataset synthetic(int64_t n) {
  auto images = torch::zeros({n, 1, 4, 4}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kLong);
  auto im = images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i) {
    im[i][0][0][0] = static_cast<uint8_t>(i >> 8);
    im[i][0][0][1] = static_cast<uint8_t>(i & 255);
    im[i][0][1][0] = 200;
    im[i][0][1][1] = 255;
    labels[i] = (i * 7) % 10;
  }
  return TensorDataset(images, labels, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

std::vector<int64_t> decoded_indices(const TensorDataset& gray3) {
  std::vector<int64_t> out;
  const auto im = gray3.images_u8();
  for (int64_t i = 0; i < gray3.size(); ++i)
    out.push_back(im[i][0][0][0].item<int64_t>() * 256 + im[i][0][0][1].item<int64_t>());
  return out;
}

double aligned_fraction(const TensorDataset& d, const std::vector<int64_t>& colours) {
  int64_t aligned = 0;
  for (int64_t i = 0; i < d.size(); ++i) aligned += colours[i] == d.labels()[i].item<int64_t>();
  return static_cast<double>(aligned) / static_cast<double>(d.size());
}

ColouredOptions options(double bias, uint64_t seed) {
  ColouredOptions o;
  o.bias = bias;
  o.seed = seed;
  return o;
}

}  // namespace

TEST(Coloured, PaletteIsTheDocumentedTen) {
  const auto& p = coloured_palette();
  ASSERT_EQ(p.size(), 10u);
  const std::vector<std::array<float, 3>> expected = {{1, 0, 0}, {0, 1, 0},   {0, 0, 1},   {1, 1, 0},   {0, 1, 1},
                                                      {1, 0, 1}, {1, .5f, 0}, {0, .5f, 0}, {.5f, 0, 1}, {0, .5f, .5f}};
  EXPECT_EQ(p, expected);
  EXPECT_EQ(coloured_palette_names()[6], "orange");
  EXPECT_EQ(coloured_palette_names()[9], "teal");
}

TEST(Coloured, TintMultipliesStrokesAndRoundsHalfUp) {
  const auto gray = torch::tensor({0, 200, 255, 201}, torch::kUInt8).view({1, 1, 1, 4});
  const auto orange = tint(gray, {6});
  ASSERT_EQ(orange.sizes(), torch::IntArrayRef({1, 3, 1, 4}));
  EXPECT_TRUE(torch::equal(orange[0][0][0], torch::tensor({0, 200, 255, 201}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(orange[0][1][0], torch::tensor({0, 100, 128, 101}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(orange[0][2][0], torch::tensor({0, 0, 0, 0}, torch::kUInt8)));
  const auto purple = tint(gray.expand({2, 1, 1, 4}), {8, 0});
  EXPECT_TRUE(
      torch::equal(purple[0].select(1, 0).t(),
                   torch::tensor({0, 0, 0, 100, 0, 200, 128, 0, 255, 101, 0, 201}, torch::kUInt8).view({4, 3})));
  EXPECT_TRUE(torch::equal(purple[1][0], gray[0][0]));  // red: R = gray, G = B = 0
  EXPECT_EQ(purple[1].narrow(0, 1, 2).sum().item<int64_t>(), 0);
  EXPECT_THROW(tint(gray, {10}), Error);
  EXPECT_THROW(tint(gray, {1, 2}), Error);
}

TEST(Coloured, SplitSizesAreProportionalForSmallBaseSets) {
  const auto base = synthetic(1000), test = synthetic(50);
  auto s = make_coloured(base, test, options(0.95, 1));  // default train_size 48000 >= 1000
  EXPECT_EQ(s.train.size(), 800);
  EXPECT_EQ(s.validation.size(), 200);
  EXPECT_EQ(s.test.size(), 50);
  EXPECT_EQ(s.train_colours.size(), 800u);
  EXPECT_EQ(s.validation_colours.size(), 200u);
  EXPECT_EQ(s.test_colours.size(), 50u);
  auto o = options(0.95, 1);
  o.train_size = 300;
  s = make_coloured(base, test, o);
  EXPECT_EQ(s.train.size(), 300);
  EXPECT_EQ(s.validation.size(), 700);
}

TEST(Coloured, TrainAndValidationPartitionTheBaseSetLikeTheGrayControl) {
  const auto base = synthetic(3000), test = synthetic(100);
  const auto o = options(0.9, 7);
  const auto c = make_coloured(base, test, o);
  const auto g = make_gray_control(base, test, o);
  ASSERT_EQ(g.train.size(), c.train.size());
  ASSERT_EQ(g.validation.size(), c.validation.size());
  EXPECT_EQ(g.train.images_u8().size(1), 3);

  const auto train_idx = decoded_indices(g.train), val_idx = decoded_indices(g.validation);
  std::set<int64_t> all(train_idx.begin(), train_idx.end());
  all.insert(val_idx.begin(), val_idx.end());
  EXPECT_EQ(all.size(), 3000u);  // disjoint and complete
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 2999);
  // Shuffled, not the identity order.
  EXPECT_FALSE(std::is_sorted(train_idx.begin(), train_idx.end()));

  // Same images in the same order: the coloured image is the control's gray tinted.
  EXPECT_TRUE(torch::equal(c.train.images_u8(), tint(g.train.images_u8().narrow(1, 0, 1), c.train_colours)));
  EXPECT_TRUE(
      torch::equal(c.validation.images_u8(), tint(g.validation.images_u8().narrow(1, 0, 1), c.validation_colours)));
  EXPECT_TRUE(torch::equal(c.train.labels(), g.train.labels()));
  for (size_t i = 0; i < train_idx.size(); i += 97)
    EXPECT_EQ(c.train.labels()[i].item<int64_t>(), base.labels()[train_idx[i]].item<int64_t>());
  // The control's three channels are the gray image.
  EXPECT_TRUE(torch::equal(g.train.images_u8().select(1, 2), g.train.images_u8().select(1, 0)));
  EXPECT_TRUE(torch::equal(g.test.images_u8().narrow(1, 0, 1), test.images_u8()));
}

TEST(Coloured, AlignedFractionMatchesBias) {
  const auto base = synthetic(5000), test = synthetic(10);
  // The random draw is one of all 10 colours, the class's own included, so
  // P(aligned) = bias + (1 - bias) / 10.
  for (double bias : {0.9, 0.5, 0.0}) {
    const auto s = make_coloured(base, test, options(bias, 3));
    const double expected = bias + (1 - bias) / 10;
    EXPECT_NEAR(aligned_fraction(s.train, s.train_colours), expected, 0.025) << "bias " << bias;
    EXPECT_NEAR(aligned_fraction(s.validation, s.validation_colours), expected, 0.045) << "bias " << bias;
  }
  const auto all = make_coloured(base, test, options(1.0, 3));
  EXPECT_EQ(aligned_fraction(all.train, all.train_colours), 1.0);
  // With bias 0 every colour is about equally common.
  const auto none = make_coloured(base, test, options(0.0, 3));
  std::vector<int64_t> counts(10, 0);
  for (int64_t c : none.train_colours) ++counts[c];
  for (int64_t k = 0; k < 10; ++k) EXPECT_NEAR(counts[k], 400, 80) << "colour " << k;
}

TEST(Coloured, TestColoursAreRotatedByTheOffset) {
  const auto base = synthetic(100), test = synthetic(200);
  for (int64_t offset : {5, 0, -3, 13}) {
    auto o = options(0.95, 0);
    o.test_offset = offset;
    const auto s = make_coloured(base, test, o);
    for (int64_t i = 0; i < test.size(); ++i) {
      const int64_t label = test.labels()[i].item<int64_t>();
      ASSERT_EQ(s.test_colours[i], ((label + offset) % 10 + 10) % 10) << "offset " << offset << " image " << i;
    }
    EXPECT_TRUE(torch::equal(s.test.images_u8(), tint(test.images_u8(), s.test_colours)));
    EXPECT_TRUE(torch::equal(s.test.labels(), test.labels()));
  }
}

TEST(Coloured, DeterministicFromTheSeed) {
  const auto base = synthetic(600), test = synthetic(20);
  const auto a = make_coloured(base, test, options(0.8, 42));
  const auto b = make_coloured(base, test, options(0.8, 42));
  const auto c = make_coloured(base, test, options(0.8, 43));
  EXPECT_TRUE(torch::equal(a.train.images_u8(), b.train.images_u8()));
  EXPECT_TRUE(torch::equal(a.validation.images_u8(), b.validation.images_u8()));
  EXPECT_EQ(a.train_colours, b.train_colours);
  EXPECT_FALSE(torch::equal(a.train.images_u8(), c.train.images_u8()));
  EXPECT_NE(decoded_indices(make_gray_control(base, test, options(0.8, 42)).train),
            decoded_indices(make_gray_control(base, test, options(0.8, 43)).train));
}

TEST(Coloured, BackgroundStaysBlack) {
  const auto base = synthetic(400), test = synthetic(40);
  const auto s = make_coloured(base, test, options(0.5, 9));
  for (const auto* d : {&s.train, &s.validation, &s.test}) {
    const auto im = d->images_u8();
    // Everything outside the first two rows' first two columns is background.
    EXPECT_EQ(im.narrow(2, 2, 2).sum().item<int64_t>(), 0);
    EXPECT_EQ(im.narrow(3, 2, 2).sum().item<int64_t>(), 0);
  }
  // The 255 stroke pixel is exactly 255 * colour, per channel.
  for (int64_t i = 0; i < s.train.size(); i += 37) {
    const auto& col = coloured_palette()[s.train_colours[i]];
    for (int64_t k = 0; k < 3; ++k)
      EXPECT_EQ(s.train.images_u8()[i][k][1][1].item<int>(), static_cast<int>(std::floor(255 * col[k] + 0.5)));
  }
}

TEST(Coloured, RejectsBadInputs) {
  const auto base = synthetic(20), test = synthetic(5);
  EXPECT_THROW(make_coloured(base, test, options(1.5, 0)), Error);
  const TensorDataset rgb(torch::zeros({4, 3, 4, 4}, torch::kUInt8), torch::zeros({4}, torch::kLong), {"a"});
  EXPECT_THROW(make_coloured(rgb, test, options(0.9, 0)), Error);
  std::vector<std::string> twelve(12, "c");
  const TensorDataset many(torch::zeros({2, 1, 4, 4}, torch::kUInt8), torch::tensor({0, 11}, torch::kLong), twelve);
  try {
    make_coloured(many, test, options(0.9, 0));
    FAIL() << "label 11 has no palette colour";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("11"), std::string::npos) << e.what();
  }
}

}  // namespace loupe
