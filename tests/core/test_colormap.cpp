#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"

namespace loupe {
namespace {

// The RGB colour of scalar v under `map` on [lo,hi].
std::array<float, 3> colour_of(double v, Colormap map, double lo = 0, double hi = 1) {
  const auto c = apply_colormap(torch::full({1, 1}, v), map, lo, hi);
  return {c[0][0][0].item<float>(), c[1][0][0].item<float>(), c[2][0][0].item<float>()};
}

void expect_colour(const std::array<float, 3>& got, const std::array<float, 3>& want, float tol,
                   const std::string& what) {
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(got[c], want[c], tol) << what << " channel " << c;
}

TEST(Colormap, JetFollowsMatplotlibSegments) {
  expect_colour(colour_of(0.0, Colormap::jet), {0.f, 0.f, 0.5f}, 0, "jet(0)");
  expect_colour(colour_of(1.0, Colormap::jet), {0.5f, 0.f, 0.f}, 0, "jet(1)");
  expect_colour(colour_of(0.125, Colormap::jet), {0.f, 0.f, 1.f}, 1e-6f, "jet(0.125)");
  // Red ramps 0.35 -> 0.66, blue falls 0.34 -> 0.65: at 0.5 both are 0.15/0.31 from an end.
  expect_colour(colour_of(0.5, Colormap::jet), {0.15f / 0.31f, 1.f, 1.f - 0.16f / 0.31f}, 1e-5f, "jet(0.5)");
  // Green falls 0.64 -> 0.91 and red is 1 on [0.66, 0.89].
  expect_colour(colour_of(0.775, Colormap::jet), {1.f, 0.5f, 0.f}, 1e-5f, "jet(0.775)");
  // Below lo / above hi clamp to the ends.
  expect_colour(colour_of(-3.0, Colormap::jet), {0.f, 0.f, 0.5f}, 0, "jet(-3)");
  expect_colour(colour_of(7.0, Colormap::jet, 0, 5), {0.5f, 0.f, 0.f}, 0, "jet(7 on [0,5])");
}

TEST(Colormap, ViridisMatchesMatplotlibTable) {
  expect_colour(colour_of(0.0, Colormap::viridis), {0.267004f, 0.004874f, 0.329415f}, 1e-6f, "viridis(0)");
  expect_colour(colour_of(1.0, Colormap::viridis), {0.993248f, 0.906157f, 0.143936f}, 1e-6f, "viridis(1)");
  // Entries of matplotlib's 256-colour _viridis_data that fall between our anchors.
  expect_colour(colour_of(34 / 255.0, Colormap::viridis), {0.277134f, 0.185228f, 0.489898f}, 3e-3f, "viridis[34]");
  expect_colour(colour_of(64 / 255.0, Colormap::viridis), {0.229739f, 0.322361f, 0.545706f}, 3e-3f, "viridis[64]");
  expect_colour(colour_of(128 / 255.0, Colormap::viridis), {0.127568f, 0.566949f, 0.550556f}, 3e-3f, "viridis[128]");
  expect_colour(colour_of(201 / 255.0, Colormap::viridis), {0.449368f, 0.813768f, 0.335384f}, 3e-3f, "viridis[201]");
}

TEST(Colormap, DivergingZeroIsExactlyWhite) {
  for (double hi : {1.0, 0.37, 250.0}) {
    const auto white = colour_of(0.0, Colormap::diverging, -hi, hi);
    expect_colour(white, {1.f, 1.f, 1.f}, 0, "diverging(0) on +-" + std::to_string(hi));
  }
  const auto blue = colour_of(-1.0, Colormap::diverging, -1, 1);
  const auto red = colour_of(1.0, Colormap::diverging, -1, 1);
  expect_colour(blue, {33 / 255.f, 102 / 255.f, 172 / 255.f}, 1e-6f, "diverging(-1)");
  expect_colour(red, {178 / 255.f, 24 / 255.f, 43 / 255.f}, 1e-6f, "diverging(+1)");
  EXPECT_GT(blue[2], blue[0]);
  EXPECT_GT(red[0], red[2]);
  // Halfway to each end is paler than the end and not white.
  const auto pale_red = colour_of(0.5, Colormap::diverging, -1, 1);
  EXPECT_LT(pale_red[1], 1.f);
  EXPECT_GT(pale_red[1], red[1]);
}

TEST(Colormap, ShapesRangesAndErrors) {
  torch::manual_seed(0);
  const auto v = torch::randn({2, 5, 7}) * 3;
  for (auto map : {Colormap::jet, Colormap::viridis, Colormap::diverging}) {
    const auto c = apply_colormap(v, map, -2, 2);
    EXPECT_EQ(c.sizes(), (std::vector<int64_t>{2, 3, 5, 7}));
    EXPECT_GE(c.min().item<float>(), 0.f);
    EXPECT_LE(c.max().item<float>(), 1.f);
    // Batched is the same as one map at a time.
    EXPECT_TRUE(torch::equal(c[1], apply_colormap(v[1], map, -2, 2)));
  }
  EXPECT_EQ(apply_colormap(torch::rand({4, 6}), Colormap::jet).sizes(), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_EQ(colormap_from_name("viridis"), Colormap::viridis);
  EXPECT_EQ(colormap_from_name("diverging"), Colormap::diverging);
  EXPECT_THROW(colormap_from_name("hot"), Error);
  EXPECT_THROW(apply_colormap(torch::rand({4, 6}), Colormap::jet, 1, 1), Error);
  EXPECT_THROW(apply_colormap(torch::rand({6}), Colormap::jet), Error);
  EXPECT_THROW(apply_colormap(torch::full({2, 2}, std::nan("")), Colormap::jet), Error);
}

TEST(Colormap, OverlayBlendsImageAndColouredHeat) {
  // out = (1-alpha)*image + alpha*jet(heat); jet(1) = (0.5,0,0).
  auto image = torch::zeros({3, 2, 2});
  image.select(1, 0).select(1, 1).copy_(torch::tensor({0.2f, 0.4f, 0.8f}));
  const auto out = overlay_heatmap(image, torch::ones({2, 2}), 0.25, Colormap::jet);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_NEAR(out[0][0][1].item<float>(), 0.75f * 0.2f + 0.25f * 0.5f, 1e-6);
  EXPECT_NEAR(out[1][0][1].item<float>(), 0.75f * 0.4f, 1e-6);
  EXPECT_NEAR(out[2][0][1].item<float>(), 0.75f * 0.8f, 1e-6);
  EXPECT_NEAR(out[0][1][0].item<float>(), 0.25f * 0.5f, 1e-6);

  // A [1,2] heat [0,1] stretched to width 4 with align_corners=false samples source
  // x = (i+0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> heat 0, 0.25, 0.75, 1 (edges clamp).
  const auto gray = torch::full({1, 1, 4}, 0.5f);
  const auto over = overlay_heatmap(gray, torch::tensor({{0.f, 1.f}}), 0.5, Colormap::viridis);
  ASSERT_EQ(over.sizes(), (std::vector<int64_t>{3, 1, 4}));
  const std::vector<double> heat = {0.0, 0.25, 0.75, 1.0};
  for (int x = 0; x < 4; ++x) {
    const auto c = colour_of(heat[x], Colormap::viridis);
    for (int ch = 0; ch < 3; ++ch) EXPECT_NEAR(over[ch][0][x].item<float>(), 0.25f + 0.5f * c[ch], 1e-5) << x;
  }
  EXPECT_THROW(overlay_heatmap(torch::rand({3, 2, 2}), torch::rand({2, 2}), 1.5), Error);
  EXPECT_THROW(overlay_heatmap(torch::rand({2, 2}), torch::rand({2, 2})), Error);
  EXPECT_THROW(overlay_heatmap(torch::rand({3, 2, 2}), torch::rand({3, 2, 2})), Error);
}

TEST(Colormap, ColorbarHasHighValuesOnTop) {
  const auto bar = colorbar(10, 3, Colormap::viridis);
  ASSERT_EQ(bar.sizes(), (std::vector<int64_t>{3, 10, 3}));
  const auto top = colour_of(1.0, Colormap::viridis), bottom = colour_of(0.0, Colormap::viridis);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(bar[c][0][2].item<float>(), top[c]);
    EXPECT_FLOAT_EQ(bar[c][9][0].item<float>(), bottom[c]);
  }
  EXPECT_THROW(colorbar(1, 3, Colormap::jet), Error);
}

TEST(Colormap, DrawTextRendersGlyphBitmaps) {
  // 'I' is rows 0x0E,0x04,0x04,0x04,0x04,0x04,0x0E: a bar, a stem, a bar.
  auto canvas = torch::zeros({3, 9, 7});
  draw_text(canvas, "I", 1, 1);
  const auto on = canvas[0].gt(0.5);
  EXPECT_EQ(on.sum().item<int64_t>(), 3 + 5 + 3);
  EXPECT_TRUE(on[1][2].item<bool>() && on[1][3].item<bool>() && on[1][4].item<bool>());
  EXPECT_FALSE(on[1][1].item<bool>());
  EXPECT_TRUE(on[4][3].item<bool>());
  EXPECT_FALSE(on[4][2].item<bool>());
  EXPECT_TRUE(torch::equal(canvas[0], canvas[2]));
  // Scale 2 quadruples the pixels; colour is per channel.
  auto big = torch::zeros({3, 20, 20});
  draw_text(big, "I", 0, 0, 2, {0.f, 1.f, 0.f});
  EXPECT_EQ(big[1].gt(0.5).sum().item<int64_t>(), 4 * 11);
  EXPECT_EQ(big[0].sum().item<float>(), 0.f);
  // Clipped at every edge without error; unknown characters draw as '?'.
  auto small = torch::zeros({3, 4, 4});
  draw_text(small, "Hello", -3, -2);
  draw_text(small, "Hello", 3, 3);
  draw_text(small, "far away", 100, 100);
  auto q1 = torch::zeros({3, 8, 5}), q2 = torch::zeros({3, 8, 5});
  draw_text(q1, "\x01", 0, 0);
  draw_text(q2, "?", 0, 0);
  EXPECT_TRUE(torch::equal(q1, q2));
  EXPECT_EQ(text_width("ab", 1), 11);
  EXPECT_EQ(text_width("ab", 3), 33);
  EXPECT_EQ(text_height("ab\ncd", 1), 18);  // 10-pixel line advance + 8-row glyph box
  EXPECT_THROW(draw_text(small, "x", 0, 0, 1, {1.f}), Error);
}

TEST(Grid, PlacesCellsOnWhiteWithPadding) {
  std::vector<torch::Tensor> images;
  for (int i = 0; i < 5; ++i) images.push_back(torch::full({3, 4, 4}, i / 10.0));
  const auto grid = image_grid(images, {}, GridOptions(3).padding(2));
  // margin 2 + 3 cells of 4 + 2 gaps of 2 + margin 2 = 20 wide; 2 + 2*4 + 2 + 2 = 14 tall.
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{3, 14, 20}));
  for (int i = 0; i < 5; ++i) {
    const int64_t top = 2 + (i / 3) * 6, left = 2 + (i % 3) * 6;
    EXPECT_TRUE(torch::allclose(grid.slice(1, top, top + 4).slice(2, left, left + 4), images[i])) << i;
  }
  EXPECT_EQ(grid[0][0][0].item<float>(), 1.f);    // margin
  EXPECT_EQ(grid[1][3][7].item<float>(), 1.f);    // gap between cells 0 and 1
  EXPECT_EQ(grid[2][10][16].item<float>(), 1.f);  // the empty sixth cell
}

TEST(Grid, IntegerUpscalingIsNearestAndGrayBecomesRgb) {
  const auto checker = torch::tensor({{0.f, 1.f}, {1.f, 0.f}}).unsqueeze(0);
  const auto grid = image_grid({checker}, {}, GridOptions(1).cell_size(6).padding(0));
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{3, 10, 10}));  // 6 + margin 2 on each side
  const auto cell = grid.slice(1, 2, 8).slice(2, 2, 8);
  const auto expected = checker.repeat_interleave(3, 1).repeat_interleave(3, 2).expand({3, 6, 6});
  EXPECT_TRUE(torch::equal(cell, expected));
  // Non-square images keep their aspect ratio: 4x8 fits a 16 cell as 8x16, centred.
  const auto wide = image_grid({torch::zeros({3, 4, 8})}, {}, GridOptions(1).cell_size(16).padding(0));
  ASSERT_EQ(wide.sizes(), (std::vector<int64_t>{3, 20, 20}));
  EXPECT_EQ(wide.slice(1, 2, 18).slice(2, 2, 18).eq(0).sum().item<int64_t>(), 3 * 8 * 16);
  EXPECT_EQ(wide[0][2 + 7][10].item<float>(), 0.f);
  EXPECT_EQ(wide[0][2 + 3][10].item<float>(), 1.f);
}

TEST(Grid, LabelsAndRowLabelsAreDrawnInDarkText) {
  std::vector<torch::Tensor> images(4, torch::ones({3, 20, 20}));
  const auto plain = image_grid(images, {}, GridOptions(2).padding(4));
  const auto labelled = image_grid(images, {"a", "b", "c", ""}, GridOptions(2).padding(4), {"row one", "two"});
  // Each row gains a label band of 8 (glyph box) + 2 pixels; a left column as wide as "row one" plus padding.
  EXPECT_EQ(labelled.size(1), plain.size(1) + 2 * 10);
  EXPECT_EQ(labelled.size(2), plain.size(2) + text_width("row one") + 4 + 2);
  const auto dark = labelled[0].lt(0.5);
  EXPECT_GT(dark.sum().item<int64_t>(), 0);
  // The label band of the first cell has dark pixels, the empty label's band none.
  const int64_t left0 = 4 + text_width("row one") + 6;
  EXPECT_GT(dark.slice(0, 4, 12).slice(1, left0, left0 + 20).sum().item<int64_t>(), 0);
  const int64_t top1 = 4 + 10 + 20 + 4, left1 = left0 + 24;
  EXPECT_EQ(dark.slice(0, top1, top1 + 8).slice(1, left1, left1 + 20).sum().item<int64_t>(), 0);
  // Row labels sit left of the cells.
  EXPECT_GT(dark.slice(1, 0, left0).sum().item<int64_t>(), 0);
  // A label wider than its cell is cut rather than spilling into the next cell.
  const auto cut = image_grid({torch::ones({3, 12, 12}), torch::ones({3, 12, 12})}, {"a very long label", ""},
                              GridOptions(2).padding(4));
  EXPECT_EQ(cut[0].lt(0.5).slice(1, 4 + 12 + 2, cut.size(2)).sum().item<int64_t>(), 0);
}

TEST(Grid, RejectsMismatchedInputs) {
  std::vector<torch::Tensor> images(3, torch::rand({3, 4, 4}));
  EXPECT_THROW(image_grid({}, {}, GridOptions(2)), Error);
  EXPECT_THROW(image_grid(images, {"a"}, GridOptions(2)), Error);
  EXPECT_THROW(image_grid(images, {}, GridOptions(2), {"only one row"}), Error);
  EXPECT_THROW(image_grid(images, {}, GridOptions(0)), Error);
  EXPECT_THROW(image_grid({torch::rand({2, 4, 4})}, {}, GridOptions(1)), Error);
  EXPECT_THROW(image_grid({torch::full({3, 4, 4}, std::nan(""))}, {}, GridOptions(1)), Error);
}

// Renders a sample grid (digits-like gray, colour photos-like gradients, overlays, every
// printable character) to a temporary PNG, for a person to look at when changing the
// font or layout. Asserts only that it is written and readable.
TEST(Grid, ExampleRendersToPng) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> cells;
  std::vector<std::string> labels;
  for (int i = 0; i < 4; ++i) {
    auto digit = torch::zeros({1, 28, 28});
    digit.slice(1, 6, 22).slice(2, 10 + i, 14 + i).fill_(1.f);
    cells.push_back(digit);
    labels.push_back("digit " + std::to_string(i));
  }
  const auto ramp = torch::linspace(0, 1, 40).view({1, 40}).expand({30, 40});
  const auto vramp = torch::linspace(0, 1, 30).view({30, 1}).expand({30, 40});
  cells.push_back(torch::stack({ramp, vramp, 1 - ramp}));
  labels.push_back("gradient");
  const auto heat = torch::rand({4, 4});
  cells.push_back(overlay_heatmap(cells[4], heat, 0.5, Colormap::jet));
  labels.push_back("jet overlay");
  cells.push_back(apply_colormap(torch::linspace(-1, 1, 64).view({8, 8}), Colormap::diverging, -1, 1));
  labels.push_back("diverging");
  cells.push_back(colorbar(56, 12, Colormap::viridis));
  labels.push_back("viridis bar");
  auto grid = image_grid(cells, labels, GridOptions(4).cell_size(84).padding(6), {"digits", "maps"});
  std::string charset;
  for (char c = 32; c < 127; ++c) charset.push_back(c);
  const auto two_lines = charset.substr(0, 48) + "\n" + charset.substr(48) +
                         "\nThe quick brown fox jumps over the lazy dog; pred 7 (p=0.93)";
  auto text = torch::ones({3, 4 * 30 + 8, 4 * text_width(two_lines) + 8});
  draw_text(text, two_lines, 4, 4, 4, {0.f, 0.f, 0.f});
  const auto dir = fs::temp_directory_path() / "loupe_test_grid";
  write_png(dir / "example_grid.png", grid);
  write_png(dir / "font.png", text);
  EXPECT_EQ(read_image(dir / "example_grid.png").sizes(), grid.sizes());
}

}  // namespace
TEST(DrawOutline, PaintsTheMaskPixelsThatTouchTheOutsideOrTheBorder) {
  auto mask = torch::zeros({5, 6}, torch::kBool);
  mask.slice(0, 1, 4).slice(1, 1, 4).fill_(true);  // a 3x3 block: all but its centre is outline
  mask[0][5] = true;                               // a pixel on the image border
  const auto out = draw_outline(torch::zeros({1, 5, 6}), mask, {1.f, 0.5f, 0.25f});
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 5, 6}));
  auto expected = mask.clone();
  expected[2][2] = false;
  EXPECT_TRUE(torch::equal(out[0].gt(0), expected));
  EXPECT_TRUE(torch::equal(out[1], expected.to(torch::kFloat) * 0.5f));
  EXPECT_TRUE(torch::equal(out[2], expected.to(torch::kFloat) * 0.25f));
  // A 5x6 block filling the image is outline only along the border.
  const auto full = draw_outline(torch::zeros({3, 5, 6}), torch::ones({5, 6}, torch::kBool));
  EXPECT_EQ(full[0].sum().item<double>(), 5 * 6 - 3 * 4);
  EXPECT_THROW(draw_outline(torch::zeros({3, 5, 6}), torch::ones({5, 5}, torch::kBool)), Error);
}

}  // namespace loupe
