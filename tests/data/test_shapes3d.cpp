#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "data/shapes3d_detail.h"
#include "loupe/core/error.h"
#include "loupe/data/shapes3d.h"

namespace loupe {
namespace {

torch::Tensor shape_factors(std::vector<int64_t> f) { return torch::tensor(f, torch::kLong).reshape({1, -1}); }

// HSV hue in [0,1) of an RGB pixel.
double hue_of(const torch::Tensor& rgb) {
  const double r = rgb[0].item<double>(), g = rgb[1].item<double>(), b = rgb[2].item<double>();
  const double mx = std::max({r, g, b}), mn = std::min({r, g, b}), c = mx - mn;
  if (c <= 0) return 0;
  double h = mx == r ? std::fmod((g - b) / c + 6.0, 6.0) : mx == g ? (b - r) / c + 2.0 : (r - g) / c + 4.0;
  return h / 6.0;
}

double hue_distance(double a, double b) {
  const double d = std::abs(a - b);
  return std::min(d, 1.0 - d);
}

// Per-pixel HSV hue of float [3,H,W], in [0,1).
torch::Tensor hue_map(const torch::Tensor& image) {
  const auto r = image[0], g = image[1], b = image[2];
  const auto mx = image.amax(0), c = (mx - image.amin(0)).clamp_min(1e-6);
  auto h = torch::where(mx == r, ((g - b) / c).remainder(6.0), torch::where(mx == g, (b - r) / c + 2, (r - g) / c + 4));
  return h / 6.0;
}

TEST(Shapes3D, FactorsAndIndicesFollowTheFileOrder) {
  const Shapes3D data;
  EXPECT_EQ(data.size(), 480000);
  EXPECT_EQ(data.factor_sizes(), (std::vector<int64_t>{10, 10, 10, 8, 4, 15}));
  EXPECT_EQ(data.factor_names()[4], "shape");
  // Mixed radix, orientation fastest: index 15 is shape 1, 48000 is floor_hue 1.
  EXPECT_TRUE(torch::equal(
      data.factors(torch::tensor({15L, 48000L, 479999L})),
      torch::tensor({0L, 0L, 0L, 0L, 1L, 0L, 1L, 0L, 0L, 0L, 0L, 0L, 9L, 9L, 9L, 7L, 3L, 14L}).reshape({3, 6})));
  const auto all = torch::arange(480000, torch::kLong);
  EXPECT_TRUE(torch::equal(data.index_of(data.factors(all)), all));
}

TEST(Shapes3D, ValueNamesAndNumbers) {
  EXPECT_EQ(shapes3d_value_names(1)[3], "green");
  EXPECT_EQ(shapes3d_value_names(4), (std::vector<std::string>{"cube", "cylinder", "sphere", "capsule"}));
  EXPECT_EQ(shapes3d_value_names(3).front(), "0.75");
  EXPECT_EQ(shapes3d_value_names(3).back(), "1.25");
  EXPECT_EQ(shapes3d_value_names(5)[7], "0.0");
  EXPECT_DOUBLE_EQ(shapes3d_factor_values(5).front(), -30.0);
  EXPECT_DOUBLE_EQ(shapes3d_factor_values(0)[3], 0.3);
}

TEST(Shapes3D, RenderingIsDeterministicAndBatchInvariant) {
  const Shapes3D data{Shapes3DOptions().set_image_size(32)};
  const auto idx = torch::tensor({0L, 12345L, 479999L, 200003L, 77777L});
  const auto batch = data.get(idx);
  ASSERT_EQ(batch.images.sizes(), (torch::IntArrayRef{5, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(batch.images, data.get(idx).images));
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_TRUE(torch::equal(batch.images[i], data.get(idx.slice(0, i, i + 1)).images[0]));
  // uint8-like values, labels are the shape factor.
  EXPECT_TRUE(torch::equal(batch.images, batch.images.mul(255).round().div(255)));
  EXPECT_TRUE(torch::equal(batch.labels, data.factors(idx).select(1, 4)));
}

TEST(Shapes3D, EverySingleFactorChangeChangesTheImage) {
  const Shapes3D data{Shapes3DOptions().set_image_size(32)};
  for (int64_t shape = 0; shape < 4; ++shape) {
    const std::vector<int64_t> base = {0, 3, 7, 4, shape, 7};
    const auto image = data.render(shape_factors(base), torch::kCPU);
    for (int64_t f = 0; f < 6; ++f) {
      auto changed = base;
      changed[f] = (base[f] + 1) % data.factor_sizes()[f];
      const auto diff = (data.render(shape_factors(changed), torch::kCPU) - image).abs().amax(1);
      EXPECT_GE((diff > 0.05).sum().item<int64_t>(), 3) << "shape " << shape << " factor " << f;
    }
  }
}

TEST(Shapes3D, WallAndFloorPixelsHaveTheirFactorHue) {
  const Shapes3D data;
  for (int64_t h = 0; h < 10; ++h)
    for (int64_t orientation : {0L, 7L, 14L}) {
      const auto image = data.render(shape_factors({(h + 5) % 10, h, 0, 7, 0, orientation}), torch::kCPU)[0];
      // Top-right: wall; bottom-left: floor (both views, every orientation).
      EXPECT_LT(hue_distance(hue_of(image.index({torch::indexing::Slice(), 3, 60})), h / 10.0), 0.01) << h;
      EXPECT_LT(hue_distance(hue_of(image.index({torch::indexing::Slice(), 61, 3})), ((h + 5) % 10) / 10.0), 0.01) << h;
    }
}

TEST(Shapes3D, ObjectGrowsWithScale) {
  const Shapes3D data;
  for (int64_t shape = 0; shape < 4; ++shape) {
    int64_t previous = 0;
    for (int64_t scale = 0; scale < 8; ++scale) {
      const auto image = data.render(shape_factors({0, 7, 3, scale, shape, 7}), torch::kCPU)[0];
      // Object pixels: hue close to green (0.3); floor is red and wall blue.
      const auto d = (hue_map(image) - 0.3).abs();
      const int64_t count = (torch::minimum(d, 1 - d) < 0.03).sum().item<int64_t>();
      EXPECT_GT(count, previous) << "shape " << shape << " scale " << scale;
      previous = count;
    }
    EXPECT_GT(previous, 150);
  }
}

// The fast path (chunks of a few images, object rays culled by a bounding sphere,
// shadow rays from floor and wall only) gives the same pixels as the exhaustive
// reference that intersects every primary and shadow ray with the object.
TEST(Shapes3D, CulledRenderingEqualsTheExhaustiveReference) {
  std::vector<int64_t> f;
  for (int64_t i = 0; i < 12; ++i) {
    const std::vector<int64_t> v = {i % 10, (3 * i) % 10, (7 * i + 1) % 10, i % 8, i % 4, (11 * i) % 15};
    f.insert(f.end(), v.begin(), v.end());
  }
  const auto factors = torch::tensor(f, torch::kLong).reshape({12, 6});
  for (int64_t ss : {1, 2}) {
    const auto o = Shapes3DOptions().set_image_size(40).set_supersample(ss);
    const auto fast = detail::render_shapes3d(o, factors, torch::kCPU, false);
    const auto reference = detail::render_shapes3d(o, factors, torch::kCPU, true);
    ASSERT_EQ(fast.sizes(), reference.sizes());
    EXPECT_LT((fast - reference).abs().max().item<double>(), 0.5 / 255) << "supersample " << ss;
    EXPECT_TRUE(torch::equal(fast, Shapes3D(o).render(factors, torch::kCPU)));
  }
}

TEST(Shapes3D, ViewFetchesItsIndicesFromTheDataset) {
  const Shapes3D data(Shapes3DOptions().set_label_factor("shape"));
  const auto picked = torch::tensor({479999L, 5L, 123456L}, torch::kLong);
  const DatasetView view(data, picked);
  EXPECT_EQ(view.size(), 3);
  EXPECT_EQ(view.class_names(), data.class_names());
  const auto got = view.get(torch::tensor({2L, 0L}, torch::kLong));
  const auto want = data.get(torch::tensor({123456L, 479999L}, torch::kLong));
  EXPECT_TRUE(torch::equal(got.images, want.images));
  EXPECT_TRUE(torch::equal(got.labels, want.labels));
  try {
    DatasetView(data, torch::tensor({0L, 480000L}, torch::kLong));
    FAIL() << "expected an out-of-range error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("indices span [0, 480000]; expected [0, 479999]"), std::string::npos)
        << e.what();
  }
}

TEST(Shapes3D, ClearErrors) {
  const Shapes3D data;
  EXPECT_THROW(Shapes3D(Shapes3DOptions().set_label_factor("colour")), Error);
  try {
    Shapes3D(Shapes3DOptions().set_label_factor("colour"));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("colour"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("wall_hue"), std::string::npos);
  }
  EXPECT_THROW(data.render(shape_factors({0, 0, 0, 8, 0, 0}), torch::kCPU), Error);
  EXPECT_THROW(data.render(shape_factors({0, 0, 0, 0, 0}), torch::kCPU), Error);
  EXPECT_THROW(data.get(torch::tensor({480000L})), Error);
  EXPECT_EQ(Shapes3D(Shapes3DOptions().set_label_factor("wall_hue")).class_names()[3], "green");
}

}  // namespace
}  // namespace loupe
