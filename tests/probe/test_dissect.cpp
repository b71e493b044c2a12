#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/data/shapes3d.h"
#include "loupe/probe/dissect.h"

namespace loupe {

TEST(Dissect, IouOfHandMadeMasks) {
  IouAccumulator acc;
  // One image, 4 positions; unit 0 on at {0,1}, unit 1 on at {1,2,3}.
  const auto active = torch::tensor({{1, 1, 0, 0}, {0, 1, 1, 1}}, torch::kBool).unsqueeze(0);
  // Concept A at {0,1}, concept B at {3}.
  const auto concepts = torch::tensor({{1, 1, 0, 0}, {0, 0, 0, 1}}, torch::kBool).unsqueeze(0);
  acc.add(active, concepts);
  auto iou = acc.iou();
  EXPECT_DOUBLE_EQ(iou[0][0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(iou[0][1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(iou[1][0].item<double>(), 1.0 / 4.0);  // {1} over {0,1,2,3}
  EXPECT_DOUBLE_EQ(iou[1][1].item<double>(), 1.0 / 3.0);  // {3} over {1,2,3}
  // A second image sums into the same counts: unit 0 on at {3}, A nowhere, B at {3}.
  acc.add(torch::tensor({{0, 0, 0, 1}, {0, 0, 0, 0}}, torch::kBool).unsqueeze(0),
          torch::tensor({{0, 0, 0, 0}, {0, 0, 0, 1}}, torch::kBool).unsqueeze(0));
  iou = acc.iou();
  EXPECT_DOUBLE_EQ(iou[0][0].item<double>(), 2.0 / 3.0);  // ∩ 2, ∪ 3
  EXPECT_DOUBLE_EQ(iou[0][1].item<double>(), 1.0 / 4.0);  // ∩ 1, ∪ 3 + 2 - 1
  EXPECT_DOUBLE_EQ(iou[1][1].item<double>(), 1.0 / 4.0);  // ∩ 1, ∪ 3 + 2 - 1
}

TEST(Dissect, ThresholdsAtTheTopQuantileAndLabelsEachUnit) {
  // The identity tap: unit c's map is channel c. 8 images of 4x4: channel 0 is bright
  // (150..245, all distinct) on the left half (concept "left"), dark (0..47) elsewhere;
  // channel 1 bright on the top half.
  const int64_t n = 8;
  auto images = torch::zeros({n, 2, 4, 4}, torch::kLong);
  auto bright = torch::arange(150, 150 + n * 8, torch::kLong).view({n, 4, 2});
  auto dark = torch::arange(0, n * 8, torch::kLong).view({n, 4, 2}).remainder(48);
  images.select(1, 0).narrow(2, 0, 2).copy_(bright);
  images.select(1, 0).narrow(2, 2, 2).copy_(dark);
  images.select(1, 1).narrow(1, 0, 2).copy_(bright.view({n, 2, 4}));
  images.select(1, 1).narrow(1, 2, 2).copy_(dark.view({n, 2, 4}));
  const TensorDataset data(images.to(torch::kUInt8), torch::zeros({n}, torch::kLong), {"x"});
  ConceptSet concepts;
  concepts.names = {"left", "top"};
  concepts.kinds = {"half", "half"};
  concepts.masks = [](const torch::Tensor& x, const torch::Tensor&) {
    auto m = torch::zeros({x.size(0), 2, 4, 4}, torch::kBool);
    m.select(1, 0).narrow(2, 0, 2).fill_(true);
    m.select(1, 1).narrow(1, 0, 2).fill_(true);
    return m;
  };
  testing::LinearNet net(torch::zeros({1, 2, 4, 4}));
  // The top ceil(q·128) = 65 activations of a unit are its 64 bright pixels and the
  // largest dark one: T_u is that dark value, and "on" (> T_u) is exactly the bright half.
  const double q = 64.5 / 128.0;
  const auto d =
      dissect(net, data, "features", {}, concepts, DissectOptions().set_quantile(q).set_batch_size(3), torch::kCPU);
  EXPECT_FLOAT_EQ(d.thresholds[0].item<float>(), 47.0f / 255.0f);
  EXPECT_TRUE(torch::equal(d.best, torch::tensor({0L, 1L})));
  EXPECT_DOUBLE_EQ(d.iou[0][0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(d.iou[0][1].item<double>(), 1.0 / 3.0);  // left ∩ top = a quarter, ∪ = three quarters
  EXPECT_DOUBLE_EQ(d.best_iou[1].item<double>(), 1.0);
  EXPECT_LOUPE_ERROR(dissect(net, data, "fc", {}, concepts, {}, torch::kCPU), "no spatial map");
  EXPECT_LOUPE_ERROR(dissect(net, data, "features", {}, concepts, DissectOptions().set_quantile(1.5), torch::kCPU),
                     "quantile 1.5");
}

TEST(Dissect, SoftWpmiByHand) {
  // 4 images, 2 units, 2 concepts; top 2 images per unit.
  const auto units = torch::tensor({{4.0, 0.0}, {3.0, 1.0}, {0.0, 5.0}, {1.0, 2.0}}, torch::kDouble);
  const auto concepts = torch::tensor({{1.0, 0.0}, {0.5, 0.2}, {0.0, 1.0}, {0.3, 0.3}}, torch::kDouble);
  SoftWpmiOptions o;
  o.top_k = 2;
  o.a = 2;
  o.lambda = 0.5;
  o.p_start = 0.9;
  o.p_end = 0.7;
  const auto sim = soft_wpmi(units, concepts, o);
  // By hand: P = softmax(2·row); unit 0's top images are 0 then 1, unit 1's are 2 then 3;
  // p_j = 0.9 - j/2·0.2 = 0.9, 0.8.
  const auto softmax = [](double x, double y) { return std::exp(2 * x) / (std::exp(2 * x) + std::exp(2 * y)); };
  const double P[4][2] = {{softmax(1.0, 0.0), softmax(0.0, 1.0)},
                          {softmax(0.5, 0.2), softmax(0.2, 0.5)},
                          {softmax(0.0, 1.0), softmax(1.0, 0.0)},
                          {0.5, 0.5}};
  const int top[2][2] = {{0, 1}, {2, 3}};
  const double p_in[2] = {0.9, 0.8};
  double given[2][2];
  for (int u = 0; u < 2; ++u)
    for (int m = 0; m < 2; ++m) {
      given[u][m] = 0;
      for (int j = 0; j < 2; ++j) given[u][m] += std::log(1 + p_in[j] * (P[top[u][j]][m] - 1) + 1e-7);
    }
  for (int m = 0; m < 2; ++m) {
    const double prior = std::log((std::exp(given[0][m]) + std::exp(given[1][m])) / 2);
    for (int u = 0; u < 2; ++u) EXPECT_NEAR(sim[u][m].item<double>(), given[u][m] - 0.5 * prior, 1e-12) << u << m;
  }
  // Unit 0's images are concept 0's, unit 1's concept 1's.
  EXPECT_GT(sim[0][0].item<double>(), sim[0][1].item<double>());
  EXPECT_GT(sim[1][1].item<double>(), sim[1][0].item<double>());
  EXPECT_LOUPE_ERROR(soft_wpmi(units, concepts.narrow(0, 0, 3), o), "same N images");
  o.top_k = 5;
  EXPECT_LOUPE_ERROR(soft_wpmi(units, concepts, o), "top_k 5");
}

TEST(Dissect, ColouredConceptsAreTheStrokesOfEachColourAndClass) {
  // Two images: strokes at pixel (0,0); image 0 is colour 2 and class 1, image 1 colour 0 and class 0.
  auto images = torch::zeros({2, 3, 2, 2});
  images.index_put_({torch::indexing::Slice(), 0, 0, 0}, 0.8f);
  const auto set = coloured_concepts({"a", "b"}, {2, 0}, torch::tensor({1L, 0L}));
  ASSERT_EQ(set.names.size(), 12u);  // 10 colours and 2 classes
  EXPECT_EQ(set.kinds[0], "colour");
  EXPECT_EQ(set.names[11], "class:b");
  const auto m = set.masks(images, torch::tensor({0L, 1L}));
  ASSERT_EQ(m.sizes(), torch::IntArrayRef({2, 12, 2, 2}));
  EXPECT_EQ(m[0].sum().item<int64_t>(), 2);  // colour 2 and class b, one pixel each
  EXPECT_TRUE(m[0][2][0][0].item<bool>());
  EXPECT_TRUE(m[0][11][0][0].item<bool>());
  EXPECT_TRUE(m[1][0][0][0].item<bool>());
  EXPECT_TRUE(m[1][10][0][0].item<bool>());
  EXPECT_FALSE(m[1][10][1][1].item<bool>());  // background
}

}  // namespace loupe

namespace loupe {

TEST(Dissect, Shapes3DConceptsAreTheRenderersPartsByHue) {
  Shapes3D data(Shapes3DOptions().set_image_size(32).set_supersample(1));
  const auto set = shapes3d_concepts(data);
  ASSERT_EQ(set.names.size(), 34u);  // 4 parts, and floor, wall and object in 10 hues each
  EXPECT_EQ(set.names[0], "part:sky");
  EXPECT_EQ(set.names[4], "floor:red");
  EXPECT_EQ(set.names[33], "object:pink");
  const auto indices = torch::tensor({0L, 123457L, 479999L});
  const auto factors = data.factors(indices);
  const auto parts = data.render_parts(factors, torch::kCPU);
  ASSERT_EQ(parts.sizes(), torch::IntArrayRef({3, 32, 32}));
  // Sky at the top-left corner, the object somewhere, the floor at the bottom centre.
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_GT(parts[i].eq(3).sum().item<int64_t>(), 0) << i;
    EXPECT_EQ(parts[i][31][16].item<int64_t>(), 1) << i;
  }
  const auto m = set.masks(data.get(indices).images, indices);
  ASSERT_EQ(m.sizes(), torch::IntArrayRef({3, 34, 32, 32}));
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t p = 0; p < 4; ++p) EXPECT_TRUE(torch::equal(m[i][p], parts[i].eq(p)));
    // The object's pixels are exactly the mask of "object:<its hue>", and no other object hue.
    const int64_t hue = factors[i][2].item<int64_t>();
    EXPECT_TRUE(torch::equal(m[i][24 + hue], parts[i].eq(3)));
    EXPECT_EQ(m[i].narrow(0, 24, 10).sum().item<int64_t>(), parts[i].eq(3).sum().item<int64_t>());
    // Every pixel is in exactly one part.
    EXPECT_TRUE(torch::equal(m[i].narrow(0, 0, 4).sum(0), torch::ones({32, 32}, torch::kLong)));
  }
}

}  // namespace loupe
