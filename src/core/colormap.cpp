#include "loupe/core/colormap.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "loupe/core/error.h"
#include "loupe/core/image.h"

namespace loupe {

namespace {

namespace F = torch::nn::functional;

// ---------------------------------------------------------------- colour tables

// A colour map as piecewise-linear anchors: positions x (ascending, 0 first, 1 last)
// and the RGB colour at each.
struct AnchorTable {
  std::vector<float> x;
  std::vector<std::array<float, 3>> rgb;
};

// matplotlib's _jet_data: per channel, (x, value) breakpoints of a piecewise-linear ramp.
using Segments = std::vector<std::pair<double, double>>;
const Segments kJetRed = {{0, 0}, {0.35, 0}, {0.66, 1}, {0.89, 1}, {1, 0.5}};
const Segments kJetGreen = {{0, 0}, {0.125, 0}, {0.375, 1}, {0.64, 1}, {0.91, 0}, {1, 0}};
const Segments kJetBlue = {{0, 0.5}, {0.11, 1}, {0.34, 1}, {0.65, 0}, {1, 0}};

double eval_segments(const Segments& s, double x) {
  for (size_t i = 1; i < s.size(); ++i)
    if (x <= s[i].first) {
      const double t = (x - s[i - 1].first) / (s[i].first - s[i - 1].first);
      return s[i - 1].second + t * (s[i].second - s[i - 1].second);
    }
  return s.back().second;
}

// The three channels share one table whose positions are the union of their
// breakpoints, so interpolating the table reproduces each channel exactly.
AnchorTable jet_table() {
  std::set<double> xs;
  for (const auto* s : {&kJetRed, &kJetGreen, &kJetBlue})
    for (const auto& p : *s) xs.insert(p.first);
  AnchorTable t;
  for (double x : xs) {
    t.x.push_back(static_cast<float>(x));
    t.rgb.push_back({static_cast<float>(eval_segments(kJetRed, x)), static_cast<float>(eval_segments(kJetGreen, x)),
                     static_cast<float>(eval_segments(kJetBlue, x))});
  }
  return t;
}

// Every 5th entry (0, 5, ..., 255) of matplotlib's 256-entry _viridis_data (CC0);
// linear interpolation between them is within 0.0025 of the full table.
const std::array<float, 3> kViridis[] = {
    {0.267004f, 0.004874f, 0.329415f}, {0.273809f, 0.031497f, 0.358853f}, {0.278791f, 0.062145f, 0.386592f},
    {0.281924f, 0.089666f, 0.412415f}, {0.283197f, 0.115680f, 0.436115f}, {0.282623f, 0.140926f, 0.457517f},
    {0.280255f, 0.165693f, 0.476498f}, {0.276194f, 0.190074f, 0.493001f}, {0.270595f, 0.214069f, 0.507052f},
    {0.263663f, 0.237631f, 0.518762f}, {0.255645f, 0.260703f, 0.528312f}, {0.246811f, 0.283237f, 0.535941f},
    {0.237441f, 0.305202f, 0.541921f}, {0.227802f, 0.326594f, 0.546532f}, {0.218130f, 0.347432f, 0.550038f},
    {0.208623f, 0.367752f, 0.552675f}, {0.199430f, 0.387607f, 0.554642f}, {0.190631f, 0.407061f, 0.556089f},
    {0.182256f, 0.426184f, 0.557120f}, {0.174274f, 0.445044f, 0.557792f}, {0.166617f, 0.463708f, 0.558119f},
    {0.159194f, 0.482237f, 0.558073f}, {0.151918f, 0.500685f, 0.557587f}, {0.144759f, 0.519093f, 0.556572f},
    {0.137770f, 0.537492f, 0.554906f}, {0.131172f, 0.555899f, 0.552459f}, {0.125394f, 0.574318f, 0.549086f},
    {0.121148f, 0.592739f, 0.544641f}, {0.119423f, 0.611141f, 0.538982f}, {0.121380f, 0.629492f, 0.531973f},
    {0.128087f, 0.647749f, 0.523491f}, {0.140210f, 0.665859f, 0.513427f}, {0.157851f, 0.683765f, 0.501686f},
    {0.180653f, 0.701402f, 0.488189f}, {0.208030f, 0.718701f, 0.472873f}, {0.239374f, 0.735588f, 0.455688f},
    {0.274149f, 0.751988f, 0.436601f}, {0.311925f, 0.767822f, 0.415586f}, {0.352360f, 0.783011f, 0.392636f},
    {0.395174f, 0.797475f, 0.367757f}, {0.440137f, 0.811138f, 0.340967f}, {0.487026f, 0.823929f, 0.312321f},
    {0.535621f, 0.835785f, 0.281908f}, {0.585678f, 0.846661f, 0.249897f}, {0.636902f, 0.856542f, 0.216620f},
    {0.688944f, 0.865448f, 0.182725f}, {0.741388f, 0.873449f, 0.149561f}, {0.793760f, 0.880678f, 0.120005f},
    {0.845561f, 0.887322f, 0.099702f}, {0.896320f, 0.893616f, 0.096335f}, {0.945636f, 0.899815f, 0.112838f},
    {0.993248f, 0.906157f, 0.143936f},
};

// ColorBrewer RdBu (9 classes, reversed so low is blue) with its near-white centre
// replaced by pure white, so a signed map's zero is exactly white.
const std::array<float, 3> kDiverging[] = {
    {33 / 255.f, 102 / 255.f, 172 / 255.f},
    {67 / 255.f, 147 / 255.f, 195 / 255.f},
    {146 / 255.f, 197 / 255.f, 222 / 255.f},
    {209 / 255.f, 229 / 255.f, 240 / 255.f},
    {1.f, 1.f, 1.f},
    {253 / 255.f, 219 / 255.f, 199 / 255.f},
    {244 / 255.f, 165 / 255.f, 130 / 255.f},
    {214 / 255.f, 96 / 255.f, 77 / 255.f},
    {178 / 255.f, 24 / 255.f, 43 / 255.f},
};

template <size_t N>
AnchorTable uniform_table(const std::array<float, 3> (&rgb)[N]) {
  AnchorTable t;
  for (size_t i = 0; i < N; ++i) {
    t.x.push_back(static_cast<float>(i) / static_cast<float>(N - 1));
    t.rgb.push_back(rgb[i]);
  }
  return t;
}

const AnchorTable& table_for(Colormap map) {
  static const AnchorTable jet = jet_table();
  static const AnchorTable viridis = uniform_table(kViridis);
  static const AnchorTable diverging = uniform_table(kDiverging);
  switch (map) {
    case Colormap::jet:
      return jet;
    case Colormap::viridis:
      return viridis;
    default:
      return diverging;
  }
}

// t [N] in [0,1] -> colours [N,3], piecewise-linear between the table's anchors.
torch::Tensor interpolate_table(const torch::Tensor& t, const AnchorTable& table) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(t.device());
  const auto k = static_cast<int64_t>(table.x.size());
  const auto xs = torch::from_blob(const_cast<float*>(table.x.data()), {k}, torch::kFloat32).to(opts, false, true);
  const auto rgb =
      torch::from_blob(const_cast<float*>(table.rgb.data()->data()), {k, 3}, torch::kFloat32).to(opts, false, true);
  // right=true puts t == xs[i] in segment [i, i+1], so an anchor is hit with weight 0
  // on its successor; the clamp sends t == 1 to the last segment with weight 1.
  const auto hi = torch::searchsorted(xs, t, false, true).clamp(1, k - 1);
  const auto lo = hi - 1;
  const auto x0 = xs.index_select(0, lo), x1 = xs.index_select(0, hi);
  const auto w = ((t - x0) / (x1 - x0)).clamp(0.0, 1.0).unsqueeze(1);
  // (1-w)*a + w*b (rather than a + w*(b-a)) gives each anchor's colour exactly at w = 0 and 1.
  return rgb.index_select(0, lo) * (1 - w) + rgb.index_select(0, hi) * w;
}

// ---------------------------------------------------------------- 5x7 font

// Printable ASCII 32..126 on a 5x7 grid (rows 0-6, baseline row 6) plus row 7 for
// the descenders of g, j, p, q, y and the comma; bit 4 = leftmost column.
constexpr int kGlyphW = 5, kGlyphH = 8, kAdvance = 6, kLineAdvance = 10;
constexpr uint8_t kFont[95][8] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00},  // !
    {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00},  // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00},  // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00},  // &
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00},  // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00},  // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00},  // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00},  // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00},  // :
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08, 0x00},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00},  // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00},  // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00},  // ?
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E, 0x00},  // @
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x00},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0x00},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00},  // X
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x00},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00},  // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00},  // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00},  // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0x00},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00},  // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E, 0x00},  // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00},  // c
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F, 0x00},  // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00},  // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00},  // f
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // g
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00},  // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0C},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00},  // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00},  // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11, 0x00},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00},  // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00},  // o
    {0x00, 0x00, 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10},  // p
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x01},  // q
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00},  // r
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E, 0x00},  // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00},  // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00},  // x
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E},  // y
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00},  // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00},  // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00},  // ~
};

const uint8_t* glyph(char c) {
  const auto u = static_cast<unsigned char>(c);
  return kFont[(u >= 32 && u <= 126) ? u - 32 : '?' - 32];
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines(1);
  for (char c : text) {
    if (c == '\n')
      lines.emplace_back();
    else
      lines.back().push_back(c);
  }
  return lines;
}

// ---------------------------------------------------------------- grid helpers

// [C,H,W] or [H,W], float in [0,1] or uint8, C in {1,3,4} -> float RGB [3,H,W].
torch::Tensor as_rgb(const torch::Tensor& image, const std::string& what) {
  LOUPE_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3), what,
              ": expected an image [C,H,W] or [H,W], got ", image.defined() ? image.sizes() : torch::IntArrayRef{});
  auto img = image.dim() == 2 ? image.unsqueeze(0) : image;
  const int64_t c = img.size(0);
  LOUPE_CHECK(c == 1 || c == 3 || c == 4, what, ": expected 1 (gray), 3 (RGB) or 4 (RGBA) channels, got shape ",
              image.sizes());
  LOUPE_CHECK(img.size(1) > 0 && img.size(2) > 0, what, ": image is empty (shape ", image.sizes(), ")");
  if (img.scalar_type() == torch::kUInt8) {
    img = img.to(torch::kFloat32) / 255.0f;
  } else {
    LOUPE_CHECK(img.is_floating_point(), what, ": expected float values in [0,1] or uint8, got ", img.scalar_type());
    check_finite(img, what);
    img = img.to(torch::kFloat32);
  }
  if (c == 4) img = img.narrow(0, 0, 3);  // alpha is dropped, as on read
  return c == 1 ? img.expand({3, -1, -1}) : img;
}

// Scales an image to fit a box x box square, keeping its aspect ratio. Integer
// upscaling uses nearest neighbour so small images (28x28 digits) keep crisp pixels;
// other sizes use bilinear (antialiased when shrinking).
torch::Tensor fit_to_box(const torch::Tensor& rgb, int64_t box) {
  const int64_t h = rgb.size(1), w = rgb.size(2);
  const double scale = static_cast<double>(box) / static_cast<double>(std::max(h, w));
  const int64_t nh = std::max<int64_t>(1, std::llround(h * scale)), nw = std::max<int64_t>(1, std::llround(w * scale));
  if (nh == h && nw == w) return rgb;
  auto opts = F::InterpolateFuncOptions().size(std::vector<int64_t>{nh, nw});
  if (nh % h == 0 && nw % w == 0 && nh / h == nw / w)
    opts.mode(torch::kNearest);
  else
    opts.mode(torch::kBilinear).align_corners(false).antialias(nh < h || nw < w);
  return F::interpolate(rgb.unsqueeze(0), opts).squeeze(0).clamp(0.0, 1.0);
}

// Cuts a label to at most max_chars, marking the cut with "..".
std::string fit_label(const std::string& label, int64_t max_chars) {
  if (static_cast<int64_t>(label.size()) <= max_chars) return label;
  if (max_chars <= 2) return label.substr(0, static_cast<size_t>(std::max<int64_t>(0, max_chars)));
  return label.substr(0, static_cast<size_t>(max_chars - 2)) + "..";
}

const std::vector<float> kTextColour = {0.1f, 0.1f, 0.1f};

}  // namespace

Colormap colormap_from_name(const std::string& name) {
  if (name == "jet") return Colormap::jet;
  if (name == "viridis") return Colormap::viridis;
  if (name == "diverging") return Colormap::diverging;
  fail("colormap '", name, "': unknown; expected jet, viridis or diverging");
}

torch::Tensor apply_colormap(const torch::Tensor& values, Colormap map, double lo, double hi) {
  LOUPE_CHECK(values.defined() && values.dim() >= 2, "apply_colormap: expected values [H,W] (or [...,H,W]), got ",
              values.defined() ? values.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(!values.is_complex() && values.scalar_type() != torch::kBool,
              "apply_colormap: expected real values, got ", values.scalar_type());
  LOUPE_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "apply_colormap: value range [", lo, ", ", hi,
              "] is empty or not finite; expected lo < hi");
  check_finite(values, "apply_colormap: values");
  const auto t = ((values.detach().to(torch::kFloat32) - lo) / (hi - lo)).clamp(0.0, 1.0);
  const auto colours = interpolate_table(t.flatten(), table_for(map));  // [N,3]
  std::vector<int64_t> shape(values.sizes().begin(), values.sizes().end());
  shape.push_back(3);
  return colours.view(shape).movedim(-1, -3).contiguous();
}

torch::Tensor overlay_heatmap(const torch::Tensor& image, const torch::Tensor& heat, double alpha, Colormap map) {
  LOUPE_CHECK(alpha >= 0.0 && alpha <= 1.0, "overlay_heatmap: alpha = ", alpha, "; expected a value in [0,1]");
  LOUPE_CHECK(image.defined() && image.dim() == 3, "overlay_heatmap: expected image [C,H,W], got ",
              image.defined() ? image.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(heat.defined() && (heat.dim() == 2 || (heat.dim() == 3 && heat.size(0) == 1)),
              "overlay_heatmap: expected heat [h,w] (or [1,h,w]), got ",
              heat.defined() ? heat.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(heat.numel() > 0, "overlay_heatmap: heat map is empty (shape ", heat.sizes(), ")");
  const auto rgb = as_rgb(image, "overlay_heatmap: image");
  const int64_t h = rgb.size(1), w = rgb.size(2);
  check_finite(heat, "overlay_heatmap: heat");
  auto plane = heat.detach().to(rgb.device(), torch::kFloat32).reshape({1, 1, heat.size(-2), heat.size(-1)});
  if (plane.size(2) != h || plane.size(3) != w)
    plane = F::interpolate(
        plane,
        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  const auto colours = apply_colormap(plane[0][0], map);
  return rgb * static_cast<float>(1.0 - alpha) + colours * static_cast<float>(alpha);
}

torch::Tensor draw_outline(const torch::Tensor& image, const torch::Tensor& mask, std::vector<float> rgb) {
  const auto out = as_rgb(image, "draw_outline: image").clone();
  LOUPE_CHECK(mask.defined() && mask.dim() == 2 && mask.size(0) == out.size(1) && mask.size(1) == out.size(2),
              "draw_outline: expected a mask [", out.size(1), ",", out.size(2), "] like the image, got ",
              mask.defined() ? mask.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(rgb.size() == 3, "draw_outline: expected 3 colour values, got ", rgb.size());
  const auto inside = mask.to(out.device()).ne(0);
  // A pixel is interior when it and its four neighbours are inside (the border counts as outside).
  const auto padded = F::pad(inside.to(torch::kFloat32).unsqueeze(0).unsqueeze(0), F::PadFuncOptions({1, 1, 1, 1}));
  const auto p = padded[0][0];
  const int64_t h = inside.size(0), w = inside.size(1);
  const auto interior = p.slice(0, 1, h + 1).slice(1, 1, w + 1) * p.slice(0, 0, h).slice(1, 1, w + 1) *
                        p.slice(0, 2, h + 2).slice(1, 1, w + 1) * p.slice(0, 1, h + 1).slice(1, 0, w) *
                        p.slice(0, 1, h + 1).slice(1, 2, w + 2);
  const auto edge = inside & interior.eq(0);
  for (int64_t c = 0; c < 3; ++c) out[c].masked_fill_(edge, rgb[static_cast<size_t>(c)]);
  return out;
}

torch::Tensor colorbar(int64_t height, int64_t width, Colormap map) {
  LOUPE_CHECK(height >= 2 && width >= 1, "colorbar: size ", height, "x", width,
              " too small; expected height >= 2 and width >= 1");
  const auto column = torch::linspace(1.0, 0.0, height, torch::kFloat32).view({height, 1});
  return apply_colormap(column, map).expand({3, height, width}).contiguous();
}

int64_t text_width(const std::string& text, int scale) {
  size_t longest = 0;
  for (const auto& line : split_lines(text)) longest = std::max(longest, line.size());
  return longest == 0 ? 0 : static_cast<int64_t>(longest * kAdvance - 1) * scale;
}

int64_t text_height(const std::string& text, int scale) {
  const auto lines = static_cast<int64_t>(split_lines(text).size());
  return ((lines - 1) * kLineAdvance + kGlyphH) * scale;
}

void draw_text(torch::Tensor& image, const std::string& text, int64_t x, int64_t y, int scale, std::vector<float> rgb) {
  LOUPE_CHECK(image.defined() && image.dim() == 3 && image.is_floating_point(),
              "draw_text: expected a float image [C,H,W], got ",
              image.defined() ? image.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(static_cast<int64_t>(rgb.size()) == image.size(0), "draw_text: colour has ", rgb.size(),
              " components but the image has ", image.size(0), " channels");
  LOUPE_CHECK(scale >= 1, "draw_text: scale = ", scale, "; expected >= 1");
  const int64_t tw = text_width(text, scale), th = text_height(text, scale);
  const int64_t H = image.size(1), W = image.size(2);
  // Clip the text box to the image; glyph pixels outside it are simply not drawn.
  const int64_t x0 = std::max<int64_t>(x, 0), y0 = std::max<int64_t>(y, 0);
  const int64_t x1 = std::min(x + tw, W), y1 = std::min(y + th, H);
  if (tw == 0 || x0 >= x1 || y0 >= y1) return;
  // Rasterise at scale 1 on the host, then scale and paste with tensor ops on the image's device.
  const int64_t w1 = tw / scale, h1 = th / scale;
  auto mask = torch::zeros({h1, w1}, torch::kBool);
  auto m = mask.accessor<bool, 2>();
  const auto lines = split_lines(text);
  for (size_t l = 0; l < lines.size(); ++l)
    for (size_t i = 0; i < lines[l].size(); ++i) {
      const uint8_t* g = glyph(lines[l][i]);
      for (int r = 0; r < kGlyphH; ++r)
        for (int c = 0; c < kGlyphW; ++c)
          if (g[r] & (0x10 >> c))
            m[static_cast<int64_t>(l) * kLineAdvance + r][static_cast<int64_t>(i) * kAdvance + c] = true;
    }
  if (scale > 1) mask = mask.repeat_interleave(scale, 0).repeat_interleave(scale, 1);
  mask = mask.slice(0, y0 - y, y1 - y).slice(1, x0 - x, x1 - x).to(image.device());
  auto region = image.slice(1, y0, y1).slice(2, x0, x1);
  for (int64_t c = 0; c < image.size(0); ++c) region[c].masked_fill_(mask, rgb[static_cast<size_t>(c)]);
}

torch::Tensor image_grid(const std::vector<torch::Tensor>& images, const std::vector<std::string>& labels,
                         const GridOptions& options, const std::vector<std::string>& row_labels) {
  LOUPE_CHECK(!images.empty(), "image_grid: expected at least one image");
  LOUPE_CHECK(labels.empty() || labels.size() == images.size(), "image_grid: ", labels.size(), " labels for ",
              images.size(), " images; expected one label per image (or none)");
  LOUPE_CHECK(options.cols_ >= 1, "image_grid: cols = ", options.cols_, "; expected >= 1");
  LOUPE_CHECK(options.cell_size_ >= 0 && options.padding_ >= 0 && options.text_scale_ >= 1,
              "image_grid: cell_size = ", options.cell_size_, ", padding = ", options.padding_,
              ", text_scale = ", options.text_scale_, "; expected cell_size >= 0, padding >= 0, text_scale >= 1");
  const auto n = static_cast<int64_t>(images.size());
  const int64_t cols = std::min(options.cols_, n), rows = (n + cols - 1) / cols;
  LOUPE_CHECK(row_labels.empty() || static_cast<int64_t>(row_labels.size()) == rows, "image_grid: ", row_labels.size(),
              " row labels for ", rows, " rows (", n, " images in ", cols, " columns); expected one per row (or none)");

  std::vector<torch::Tensor> cells;
  cells.reserve(images.size());
  for (int64_t i = 0; i < n; ++i) {
    auto rgb = as_rgb(images[static_cast<size_t>(i)], "image_grid: image " + std::to_string(i));
    cells.push_back(options.cell_size_ > 0 ? fit_to_box(rgb, options.cell_size_) : rgb);
  }
  int64_t cell_h = options.cell_size_, cell_w = options.cell_size_;
  for (const auto& c : cells) {
    cell_h = std::max(cell_h, c.size(1));
    cell_w = std::max(cell_w, c.size(2));
  }
  const int s = options.text_scale_;
  const int64_t pad = options.padding_;
  const bool any_label = std::any_of(labels.begin(), labels.end(), [](const std::string& l) { return !l.empty(); });
  const int64_t label_gap = 2 * int64_t{s};  // between a label's baseline and its image
  const int64_t label_h = any_label ? kGlyphH * int64_t{s} + label_gap : 0;
  int64_t row_label_w = 0;
  for (const auto& l : row_labels) row_label_w = std::max(row_label_w, text_width(l, s));
  if (row_label_w > 0) row_label_w += pad + 2 * int64_t{s};
  // A margin of at least a few pixels keeps edge text off the border even with padding 0.
  const int64_t margin = std::max<int64_t>(pad, 2);
  const int64_t out_w = margin + row_label_w + cols * cell_w + (cols - 1) * pad + margin;
  const int64_t out_h = margin + rows * (label_h + cell_h) + (rows - 1) * pad + margin;

  const auto device = cells.front().device();
  auto canvas = torch::ones({3, out_h, out_w}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  const int64_t max_chars = (cell_w + 1) / (kAdvance * int64_t{s});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, c = i % cols;
    const int64_t left = margin + row_label_w + c * (cell_w + pad);
    const int64_t top = margin + r * (label_h + cell_h + pad);
    const auto& cell = cells[static_cast<size_t>(i)];
    const int64_t ox = left + (cell_w - cell.size(2)) / 2, oy = top + label_h + (cell_h - cell.size(1)) / 2;
    canvas.slice(1, oy, oy + cell.size(1)).slice(2, ox, ox + cell.size(2)).copy_(cell.to(device));
    if (!labels.empty() && !labels[static_cast<size_t>(i)].empty()) {
      const auto text = fit_label(labels[static_cast<size_t>(i)], max_chars);
      draw_text(canvas, text, left + (cell_w - text_width(text, s)) / 2, top, s, kTextColour);
    }
  }
  for (size_t r = 0; r < row_labels.size(); ++r) {
    const int64_t top = margin + static_cast<int64_t>(r) * (label_h + cell_h + pad) + label_h;
    draw_text(canvas, row_labels[r], margin, top + (cell_h - text_height(row_labels[r], s)) / 2, s, kTextColour);
  }
  return canvas;
}

}  // namespace loupe
