#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "explain/segmentation_checks.h"
#include "loupe/core/error.h"
#include "loupe/explain/segmentation.h"

namespace loupe {
namespace {

template <class F>
void expect_error_naming(F&& f, const std::string& word) {
  try {
    f();
    ADD_FAILURE() << "expected loupe::Error naming '" << word << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(RgbToLab, KnownColoursMatchSkimage) {
  // white, red, green, blue, black; values from skimage.color.rgb2lab.
  const auto rgb = torch::tensor({1.0, 1.0, 0.0, 0.0, 0.0,  //
                                  1.0, 0.0, 1.0, 0.0, 0.0,  //
                                  1.0, 0.0, 0.0, 1.0, 0.0})
                       .view({3, 1, 5});
  const auto expected = torch::tensor({100.0, 53.2408, 87.7347, 32.2970, 0.0,   //
                                       0.0, 80.0925, -86.1827, 79.1875, 0.0,    //
                                       0.0, 67.2032, 83.1793, -107.8602, 0.0})  //
                            .view({3, 1, 5});
  const auto lab = rgb_to_lab(rgb.to(torch::kDouble));
  EXPECT_TRUE(torch::allclose(lab, expected.to(torch::kDouble), 0, 1e-2)) << lab;
  // Batched layout gives the same numbers per image.
  const auto batch = rgb_to_lab(torch::stack({rgb, rgb.flip(2)}).to(torch::kFloat));
  EXPECT_TRUE(torch::allclose(batch[0], expected.to(torch::kFloat), 0, 1e-2));
  EXPECT_TRUE(torch::allclose(batch[1], expected.flip(2).to(torch::kFloat), 0, 1e-2));
}

TEST(RgbToLab, RejectsWrongShape) {
  expect_error_naming([] { rgb_to_lab(torch::rand({4, 5, 5})); }, "rgb");
  expect_error_naming([] { rgb_to_lab(torch::rand({5, 5})); }, "[3,H,W]");
}

TEST(GridSegments, CellsNumberedInRasterOrder) {
  const auto labels = grid_segments(5, 7, 3);
  // 2 cell rows × 3 cell columns; the last row and column of cells are partial.
  const auto expected = torch::tensor({0, 0, 0, 1, 1, 1, 2,  //
                                       0, 0, 0, 1, 1, 1, 2,  //
                                       0, 0, 0, 1, 1, 1, 2,  //
                                       3, 3, 3, 4, 4, 4, 5,  //
                                       3, 3, 3, 4, 4, 4, 5},
                                      torch::kLong)
                            .view({5, 7});
  EXPECT_TRUE(torch::equal(labels, expected)) << labels;
  expect_error_naming([] { grid_segments(4, 4, 0); }, "grid_cell");
}

TEST(Segment, DispatchesOnMethod) {
  const auto image = testing::textured_image(24, 20);
  EXPECT_TRUE(
      torch::equal(segment(image, SegmentOptions().set_method("grid").set_grid_cell(5)), grid_segments(24, 20, 5)));
  EXPECT_TRUE(torch::equal(segment(image, SegmentOptions().set_method("slic")), slic(image)));
  EXPECT_TRUE(torch::equal(segment(image), quickshift(image)));
  try {
    segment(image, SegmentOptions().set_method("watershed"));
    ADD_FAILURE() << "unknown method accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'watershed'"), std::string::npos) << what;
    EXPECT_NE(what.find("quickshift, slic, grid"), std::string::npos) << what;
  }
}

TEST(Segment, RejectsBadImages) {
  for (const std::string method : {"quickshift", "slic", "grid"}) {
    const auto opts = SegmentOptions().set_method(method);
    expect_error_naming([&] { segment(torch::rand({1, 3, 8, 8}), opts); }, "image");
    expect_error_naming([&] { segment(torch::rand({8, 8}), opts); }, "image");
    expect_error_naming([&] { segment(torch::rand({4, 8, 8}), opts); }, "4 channels");
    expect_error_naming([&] { segment(torch::zeros({3, 8, 8}, torch::kLong), opts); }, "image");
    auto nan = torch::rand({3, 8, 8});
    nan[1][2][3] = std::numeric_limits<float>::quiet_NaN();
    expect_error_naming([&] { segment(nan, opts); }, "NaN");
  }
}

TEST(Segment, GrayIsTreatedAsRgb) {
  const auto gray = testing::textured_image(20, 20)[0].unsqueeze(0);
  const auto rgb = gray.expand({3, -1, -1}).contiguous();
  EXPECT_TRUE(torch::equal(quickshift(gray), quickshift(rgb)));
  EXPECT_TRUE(torch::equal(slic(gray, SlicOptions().set_n_segments(9)), slic(rgb, SlicOptions().set_n_segments(9))));
}

}  // namespace loupe
