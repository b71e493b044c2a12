// compare_methods: per-class grouping, the IoU matrix, faithfulness AUCs, .npy maps and
// the threshold parser.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/core/npy.h"
#include "loupe/explain/explainer.h"
#include "loupe/studies/compare.h"
#include "test_util.h"

namespace loupe {
namespace {

torch::Tensor compare_images(int64_t n) {
  torch::manual_seed(3);
  return torch::rand({n, 3, 16, 16});
}

CompareOptions small_options(std::vector<std::string> methods) {
  CompareOptions o;
  o.methods = std::move(methods);
  o.explain.perturbation.window = 4;
  o.explain.perturbation.stride = 4;
  o.explain.perturbation.segmentation.method = "grid";
  o.explain.perturbation.segmentation.grid_cell = 8;
  return o;
}

}  // namespace

TEST(Compare, EachImageExplainsItsOwnClassAsIfAlone) {
  testing::TanhNet net;
  const auto x = compare_images(3);
  const auto classes = torch::tensor({2, 0, 2}, torch::kLong);
  const auto c = compare_methods(net, x, classes, small_options({"occlusion", "gradcam"}));
  ASSERT_EQ(c.runs.size(), 2u);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t cls = classes[i].item<int64_t>();
    for (const auto& run : c.runs) {
      auto alone =
          make_explainer(run.method, small_options({}).explain)->explain(net, x.slice(0, i, i + 1), class_logit(cls));
      EXPECT_TRUE(torch::allclose(run.attribution.maps[i], alone.maps[0], 1e-5, 1e-6)) << run.method << " image " << i;
      EXPECT_NEAR(run.attribution.scores[i].item<double>(), alone.scores[0].item<double>(), 1e-5);
    }
  }
  EXPECT_GT(c.runs[0].attribution.model_evaluations, 0);
}

TEST(Compare, IouMatrixIsSymmetricWithUnitDiagonalAndMatchesMapIou) {
  testing::TanhNet net;
  const auto x = compare_images(2);
  const auto o = small_options({"gradcam", "occlusion", "saliency"});
  const auto c = compare_methods(net, x, torch::tensor({1, 1}, torch::kLong), o);
  ASSERT_EQ(c.iou.sizes(), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_TRUE(torch::equal(c.iou, c.iou.transpose(1, 2)));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t a = 0; a < 3; ++a) {
      EXPECT_EQ(c.iou[n][a][a].item<double>(), 1.0);
      for (int64_t b = 0; b < 3; ++b) {
        const double expected =
            map_iou(c.runs[a].attribution.maps[n], c.runs[b].attribution.maps[n], o.threshold).item<double>();
        EXPECT_DOUBLE_EQ(c.iou[n][a][b].item<double>(), expected);
      }
    }
}

TEST(Compare, GradCamAndHiResCamAgreeExactlyOnAGapLinearNet) {
  // With global average pooling before a linear layer, HiResCAM's element-wise weights
  // equal Grad-CAM's channel means, so their maps and binarisations coincide.
  torch::manual_seed(5);
  testing::GapLinearNet net(4, 3);
  const auto c = compare_methods(net, compare_images(2), torch::tensor({0, 2}, torch::kLong),
                                 small_options({"gradcam", "hirescam"}));
  EXPECT_DOUBLE_EQ(c.iou[0][0][1].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(c.iou[1][0][1].item<double>(), 1.0);
}

TEST(Compare, FaithfulnessGivesOneAucPerImage) {
  testing::TanhNet net;
  auto o = small_options({"gradcam"});
  o.faithfulness = true;
  o.faithfulness_options.steps = 4;
  const auto c = compare_methods(net, compare_images(2), torch::tensor({0, 1}, torch::kLong), o);
  ASSERT_TRUE(c.runs[0].deletion_auc.defined());
  EXPECT_EQ(c.runs[0].deletion_auc.sizes(), (std::vector<int64_t>{2}));
  EXPECT_EQ(c.runs[0].insertion_scores.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(c.fractions.size(0), 5);
  // Probabilities: every AUC lies in [0,1].
  EXPECT_GE(c.runs[0].deletion_auc.min().item<double>(), 0.0);
  EXPECT_LE(c.runs[0].insertion_auc.max().item<double>(), 1.0);
}

TEST(Compare, MapsRoundTripThroughNpy) {
  testing::TanhNet net;
  const auto c = compare_methods(net, compare_images(2), torch::tensor({0, 1}, torch::kLong),
                                 small_options({"gradcam", "occlusion"}));
  test::TempDir dir;
  const auto written = write_comparison_maps(dir.path(), {"a", "b"}, c);
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(written[1], "maps/a/occlusion.npy");
  const auto back = read_npy(dir.path() / "maps" / "b" / "gradcam.npy");
  EXPECT_EQ(back.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(back, c.runs[0].attribution.maps[1].to(torch::kFloat)));
}

TEST(Compare, BadInputIsAClearError) {
  testing::TanhNet net;
  const auto x = compare_images(2);
  const auto two = torch::tensor({0, 1}, torch::kLong);
  EXPECT_LOUPE_ERROR(compare_methods(net, x, two, small_options({"gradcam", "deeplift"})), "deeplift");
  EXPECT_LOUPE_ERROR(compare_methods(net, x, two, small_options({"gradcam", "deeplift"})), "kernelshap");
  EXPECT_LOUPE_ERROR(compare_methods(net, x, two, small_options({"lime", "lime"})), "twice");
  EXPECT_LOUPE_ERROR(compare_methods(net, x, torch::tensor({0}, torch::kLong), small_options({"gradcam"})),
                     "one class per image");
  EXPECT_LOUPE_ERROR(compare_methods(net, x, two, small_options({})), "at least one method");
}

TEST(Compare, ParsesThresholds) {
  EXPECT_EQ(parse_map_threshold("otsu").kind, MapThreshold::Kind::Otsu);
  const auto top = parse_map_threshold("top:12.5");
  EXPECT_EQ(top.kind, MapThreshold::Kind::TopPercent);
  EXPECT_DOUBLE_EQ(top.value, 12.5);
  const auto v = parse_map_threshold("value:0.25");
  EXPECT_EQ(v.kind, MapThreshold::Kind::Value);
  EXPECT_DOUBLE_EQ(v.value, 0.25);
  EXPECT_EQ(describe(top), "the top 12.5% of pixels");
  EXPECT_LOUPE_ERROR(parse_map_threshold("top:0"), "(0,100]");
  EXPECT_LOUPE_ERROR(parse_map_threshold("top:abc"), "top:abc");
  EXPECT_LOUPE_ERROR(parse_map_threshold("median"), "otsu");
}

}  // namespace loupe
