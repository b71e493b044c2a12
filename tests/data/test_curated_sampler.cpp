#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <set>

#include "loupe/core/error.h"
#include "loupe/data/curated_sampler.h"
#include "loupe/data/shapes3d.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::message_of;
namespace {

// A partial factor dataset (like a file holding a subset): factors a (2 values) and
// b (3 values), only the rows (0,0) and (1,1).
class TwoRows : public FactorDataset {
 public:
  std::vector<std::string> factor_names() const override { return {"a", "b"}; }
  std::vector<int64_t> factor_sizes() const override { return {2, 3}; }
  std::vector<std::string> value_names(int64_t f) const override {
    return f == 0 ? std::vector<std::string>{"x", "y"} : std::vector<std::string>{"p", "q", "r"};
  }
  int64_t label_factor() const override { return 0; }
  int64_t size() const override { return 2; }
  torch::Tensor factors(const torch::Tensor& indices) const override {
    return torch::tensor({0L, 0L, 1L, 1L}).reshape({2, 2}).index_select(0, indices);
  }
  Batch get(const torch::Tensor& indices) const override { return {torch::zeros({indices.size(0), 1, 1, 1}), indices}; }
  std::array<int64_t, 3> image_shape() const override { return {1, 1, 1}; }
};

TEST(CuratedSampler, ParsesNamesAndIndices) {
  const Shapes3D data;
  const auto c = parse_criterion("wall_hue=green, shape=sphere,orientation=7", data);
  EXPECT_EQ(c.allowed, (std::vector<std::vector<int64_t>>{{}, {3}, {}, {}, {2}, {7}}));
  EXPECT_EQ(parse_criterion("wall_hue=3,shape=2|cube,scale=1.25", data).allowed,
            (std::vector<std::vector<int64_t>>{{}, {3}, {}, {7}, {2, 0}, {}}));
  // 480000 / (10 wall hues · 4 shapes · 15 orientations) = 800 samples satisfy c.
  EXPECT_EQ(c.satisfied_by(data.factors(torch::arange(480000))).sum().item<int64_t>(), 800);
}

TEST(CuratedSampler, NormalsSatisfyOutliersDoNot) {
  const Shapes3D data;
  const auto c = parse_criterion("wall_hue=green,shape=sphere,orientation=7", data);
  const auto s = curated_sample(data, c, CuratedOptions().set_normals(325).set_outliers(25).set_seed(3));
  ASSERT_EQ(s.indices.size(0), 350);
  EXPECT_EQ(s.is_outlier.sum().item<int64_t>(), 25);
  EXPECT_TRUE(torch::equal(s.factors, data.factors(s.indices)));
  EXPECT_TRUE(torch::equal(c.satisfied_by(s.factors), s.is_outlier.logical_not()));
  const auto f = s.factors;
  EXPECT_TRUE(torch::equal(s.is_outlier.logical_not(),
                           (f.select(1, 1) == 3).logical_and(f.select(1, 4) == 2).logical_and(f.select(1, 5) == 7)));
  const auto v = s.indices.contiguous();
  EXPECT_EQ(std::set<int64_t>(v.data_ptr<int64_t>(), v.data_ptr<int64_t>() + 350).size(), 350u);  // no repeats
  // Shuffled: the outliers are not all at the end. Seeded: the same seed repeats.
  EXPECT_LT(s.is_outlier.slice(0, 325, 350).sum().item<int64_t>(), 25);
  const auto again = curated_sample(data, c, CuratedOptions().set_normals(325).set_outliers(25).set_seed(3));
  EXPECT_TRUE(torch::equal(again.indices, s.indices));
  EXPECT_FALSE(torch::equal(curated_sample(data, c, CuratedOptions().set_seed(4)).indices, s.indices));
  const auto ordered = curated_sample(data, c, CuratedOptions().set_normals(10).set_outliers(5).set_shuffle(false));
  EXPECT_EQ(ordered.is_outlier.slice(0, 0, 10).sum().item<int64_t>(), 0);
  // Every normal requested: exactly the 800.
  EXPECT_EQ(curated_sample(data, c, CuratedOptions().set_normals(800).set_outliers(0)).indices.size(0), 800);
}

TEST(CuratedSampler, ClearErrors) {
  const Shapes3D data;
  auto m = message_of([&] { parse_criterion("wall_hue=green,colour=red", data); });
  EXPECT_NE(m.find("unknown factor 'colour'"), std::string::npos) << m;
  EXPECT_NE(m.find("floor_hue, wall_hue"), std::string::npos) << m;
  m = message_of([&] { parse_criterion("wall_hue=greenish", data); });
  EXPECT_NE(m.find("'greenish'"), std::string::npos) << m;
  EXPECT_NE(m.find("red, orange, yellow, green"), std::string::npos) << m;
  m = message_of([&] { parse_criterion("orientation=15", data); });
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  EXPECT_THROW(parse_criterion("shape", data), Error);
  EXPECT_THROW(parse_criterion("", data), Error);
  EXPECT_THROW(parse_criterion("shape=cube,shape=sphere", data), Error);
  const auto c = parse_criterion("wall_hue=green,shape=sphere,orientation=7", data);
  m = message_of([&] { curated_sample(data, c, CuratedOptions().set_normals(801)); });
  EXPECT_NE(m.find("only 800"), std::string::npos) << m;
  const TwoRows two;
  const auto none = parse_criterion("b=r", two);
  m = message_of([&] { curated_sample(two, none, CuratedOptions().set_normals(1).set_outliers(1)); });
  EXPECT_NE(m.find("no sample satisfies"), std::string::npos) << m;
  m = message_of(
      [&] { curated_sample(two, parse_criterion("a=x", two), CuratedOptions().set_normals(1).set_outliers(2)); });
  EXPECT_NE(m.find("only 1 samples violate"), std::string::npos) << m;
}

}  // namespace
}  // namespace loupe
