#include "loupe/data/anomaly_synth.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "loupe/core/blur.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/progress.h"
#include "loupe/data/photos.h"

namespace loupe {
namespace {

constexpr double kSynthPi = 3.14159265358979323846;
// A painted pixel differs from the clean one by at least this much (uint8) in some
// channel, so that every mask pixel is a changed pixel.
constexpr int kMinDefectChange = 24;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

// One sample's random numbers, the same on every platform (std's distributions differ
// between standard libraries; torch::rand with a seeded CPU generator does not).
class SampleRandom {
 public:
  explicit SampleRandom(uint64_t seed) : state_(seed) {}
  double uniform(double lo = 0.0, double hi = 1.0) {
    return lo + (hi - lo) * static_cast<double>(splitmix64(state_) >> 11) * 0x1.0p-53;
  }
  bool coin() { return uniform() < 0.5; }
  // Uniform noise in [0,1) of the given shape.
  torch::Tensor noise(at::IntArrayRef shape) { return torch::rand(shape, make_generator(splitmix64(state_))); }

 private:
  uint64_t state_;
};

uint64_t sample_seed(const std::string& category, const AnomalySampleSpec& spec, uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t part :
       {fnv1a(category), static_cast<uint64_t>(spec.split), fnv1a(spec.kind), static_cast<uint64_t>(spec.index)})
    state = splitmix64(state) ^ part;
  return splitmix64(state);
}

torch::Tensor luminance(const torch::Tensor& rgb) { return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]; }

// ---- geometry on the pixel grid (pixel centres at i + 0.5) ----

struct Point {
  double x, y;
};

struct Grid {
  torch::Tensor x, y;  // float [S,S]
};

Grid pixel_grid(int64_t side) {
  const auto t = torch::arange(side, torch::kFloat) + 0.5;
  return {t.view({1, side}).expand({side, side}), t.view({side, 1}).expand({side, side})};
}

torch::Tensor distance_to_segment(const Grid& g, Point a, Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y, len2 = std::max(dx * dx + dy * dy, 1e-9);
  const auto t = (((g.x - a.x) * dx + (g.y - a.y) * dy) / len2).clamp(0.0, 1.0);
  return (g.x - a.x - t * dx).square().add((g.y - a.y - t * dy).square()).sqrt();
}

torch::Tensor distance_to_polyline(const Grid& g, const std::vector<Point>& points) {
  auto d = torch::full_like(g.x, 1e9);
  for (size_t i = 0; i + 1 < points.size(); ++i)
    d = torch::minimum(d, distance_to_segment(g, points[i], points[i + 1]));
  return d;
}

// A wandering path: steps of `step` pixels, the heading turning by up to `turn` radians.
std::vector<Point> random_walk(SampleRandom& r, Point start, double heading, double length, double step, double turn) {
  std::vector<Point> points = {start};
  for (double walked = 0; walked < length; walked += step) {
    heading += r.uniform(-turn, turn);
    points.push_back({points.back().x + step * std::cos(heading), points.back().y + step * std::sin(heading)});
  }
  return points;
}

// Distance from a centre divided by a radius that wobbles with the angle (a lumpy disc):
// < 1 inside the blob.
torch::Tensor blob_radius(SampleRandom& r, const Grid& g, Point centre, double radius, double wobble) {
  const auto dx = g.x - centre.x, dy = g.y - centre.y;
  const auto angle = torch::atan2(dy, dx);
  auto rim = torch::ones_like(angle);
  for (int harmonic : {2, 3, 5})
    rim = rim + wobble / harmonic * torch::sin(angle * harmonic + r.uniform(0, 2 * kSynthPi));
  return (dx.square() + dy.square()).sqrt() / (radius * rim);
}

// ---- defect-free renders ----

// A square crop of the photo from the train part (top) or the test part (bottom), at a
// random position, resized to the output size, brightness jittered by up to ±8%.
torch::Tensor render_texture(SampleRandom& r, const torch::Tensor& photo, AnomalySplit split,
                             const AnomalySynthOptions& o) {
  const int64_t h = photo.size(1), w = photo.size(2);
  const int64_t crop = std::lround(o.crop_fraction * std::min(h, w));
  const int64_t boundary = std::lround(o.train_fraction * h);
  const int64_t lo = split == AnomalySplit::train ? 0 : boundary;
  const int64_t hi = split == AnomalySplit::train ? boundary : h;
  const int64_t top = lo + std::min<int64_t>(hi - lo - crop, std::floor(r.uniform() * (hi - lo - crop + 1)));
  const int64_t left = std::min<int64_t>(w - crop, std::floor(r.uniform() * (w - crop + 1)));
  auto image = resize_image(photo.narrow(1, top, crop).narrow(2, left, crop), o.size, o.size);
  if (image.size(0) == 1) image = image.expand({3, o.size, o.size});
  return (image * r.uniform(0.92, 1.08)).clamp(0.0, 1.0);
}

// The object's pose: centre, long-axis angle and semi-axes, in pixels.
struct NutPose {
  Point centre;
  double angle, length, width;
};

NutPose random_pose(SampleRandom& r, int64_t side) {
  const double s = static_cast<double>(side);
  return {{s / 2 + r.uniform(-0.04, 0.04) * s, s / 2 + r.uniform(-0.04, 0.04) * s},
          r.uniform(0, 2 * kSynthPi),
          0.34 * s * r.uniform(0.96, 1.04),
          0.29 * s * r.uniform(0.96, 1.04)};
}

// Where a point of the object frame (u along the long axis from base -1 to tip +1, v
// across, both in semi-axes) lies in the image.
Point object_to_image(const NutPose& p, double u, double v) {
  const double x = u * p.length, y = v * p.width, c = std::cos(p.angle), s = std::sin(p.angle);
  return {p.centre.x + c * x - s * y, p.centre.y + s * x + c * y};
}

// The egg-shaped outline in the object frame: its width narrows towards the tip.
struct NutGeometry {
  torch::Tensor u, v;      // object-frame coordinates of every pixel
  torch::Tensor radius;    // < 1 inside the outline
  torch::Tensor coverage;  // [S,S] in [0,1]: the object's share of each pixel (antialiased edge)
};

NutGeometry nut_geometry(const Grid& g, const NutPose& p) {
  const double c = std::cos(p.angle), s = std::sin(p.angle);
  const auto dx = g.x - p.centre.x, dy = g.y - p.centre.y;
  const auto u = (c * dx + s * dy) / p.length;
  const auto v = (c * dy - s * dx) / p.width / (1.0 - 0.18 * u.clamp(-1.0, 1.0));
  const auto radius = (u.square() + v.square()).sqrt();
  const auto edge_distance = (radius - 1.0) * (0.5 * (p.length + p.width));  // pixels, approximately
  return {u, v, radius, (0.5 - edge_distance).clamp(0.0, 1.0)};
}

// Brown shell lit from the upper left (Lambertian + a highlight) with ridges from base to
// tip, a pale rough cap at the base and fine grain.
torch::Tensor shade_nut(SampleRandom& r, const NutGeometry& n, const NutPose& p, int64_t side) {
  const auto nz = (1.0 - n.radius.square()).clamp_min(0.0).sqrt();
  const double c = std::cos(p.angle), s = std::sin(p.angle);
  const auto nx = c * n.u - s * n.v, ny = s * n.u + c * n.v;  // the normal's image-plane part
  const double lx = -0.45, ly = -0.55, lz = 0.70;             // light direction (unit length)
  const auto lambert = (nx * lx + ny * ly + nz * lz).clamp_min(0.0);
  const auto highlight = (nx * (lx / 2) + ny * (ly / 2) + nz * ((lz + 1) / 2)).clamp_min(0.0).pow(24);
  const auto across = (n.v / (1.0 - n.u.square()).clamp_min(1e-3).sqrt()).clamp(-1.0, 1.0);
  const auto ridges = 1.0 + 0.07 * torch::sin(torch::asin(across) * 11.0);
  const auto grain = 1.0 + 0.16 * (gaussian_blur(r.noise({side, side}), 0.8) - 0.5);
  const auto cap = ((-0.52 - n.u) / 0.12).clamp(0.0, 1.0);  // 0 on the shell, 1 on the cap
  const double tone = r.uniform(0.93, 1.07);
  const auto shell = torch::tensor({0.60, 0.38, 0.20}, torch::kFloat).view({3, 1, 1}) * tone;
  const auto pale = torch::tensor({0.82, 0.72, 0.56}, torch::kFloat).view({3, 1, 1});
  const auto albedo = shell * (1 - cap) * ridges + pale * cap * (1.0 + 0.25 * (r.noise({side, side}) - 0.5));
  return (albedo * grain * (0.35 + 0.75 * lambert) + 0.35 * highlight * (1 - cap)).clamp(0.0, 1.0);
}

torch::Tensor nut_background(int64_t side) {
  return torch::tensor({0.07, 0.07, 0.08}, torch::kFloat).view({3, 1, 1}).expand({3, side, side});
}

torch::Tensor composite(const torch::Tensor& object, const torch::Tensor& coverage, const torch::Tensor& background) {
  return object * coverage + background * (1 - coverage);
}

// ---- defects: a region first, then paint inside it ----

// Where a defect may go: everywhere on a texture; on the object, only where it fully covers
// the pixel (a defect never paints the background), with a way to pick a point on it.
struct DefectCanvas {
  torch::Tensor allowed;              // bool [S,S]
  std::function<Point(double)> pick;  // a random point at most `spread` (in [0,1]) from the centre
  double scale;                       // pixels per 1/128 of the image side
};

// Paints painted into the mask only, pushing any pixel that would change by less than
// kMinDefectChange further (darker on light pixels, lighter on dark ones).
torch::Tensor paint_inside(const torch::Tensor& clean_u8, const torch::Tensor& painted, const torch::Tensor& mask) {
  auto out = to_uint8_image(painted).to(torch::kInt);
  const auto clean = clean_u8.to(torch::kInt);
  const auto weak = (out - clean).abs().amax(0) < kMinDefectChange;
  const auto light = (clean.to(torch::kFloat).mean(0) >= 128).to(torch::kInt);
  const auto push = light * (-4 * kMinDefectChange) + 2 * kMinDefectChange;
  out = torch::where(weak.unsqueeze(0), (clean + push.unsqueeze(0)).clamp(0, 255), out);
  return torch::where(mask.unsqueeze(0), out, clean).to(torch::kUInt8);
}

struct Defect {
  torch::Tensor region;   // bool [S,S], before clipping to the canvas
  torch::Tensor painted;  // float [3,S,S]: the look inside the region
};

Defect draw_crack(SampleRandom& r, const Grid& g, const DefectCanvas& c, const torch::Tensor& clean, bool large) {
  const Point start = c.pick(0.6);
  const double length = (large ? r.uniform(45, 64) : r.uniform(18, 30)) * c.scale;
  const double heading = r.uniform(0, 2 * kSynthPi), step = 3.0 * c.scale;
  auto dist = distance_to_polyline(g, random_walk(r, start, heading, length, step, 0.6));
  const auto trunk = random_walk(r, start, heading + kSynthPi, length * 0.5, step, 0.6);
  dist = torch::minimum(dist, distance_to_polyline(g, trunk));
  for (int b = 0; b < (large ? 2 : 1); ++b) {  // branches off the trunk
    const Point fork = trunk[static_cast<size_t>(r.uniform(0.3, 0.9) * (trunk.size() - 1))];
    const double side = r.coin() ? 1.0 : -1.0;
    dist = torch::minimum(
        dist, distance_to_polyline(g, random_walk(r, fork, heading + kSynthPi + side * 0.8, length * 0.35, step, 0.5)));
  }
  const double half_width = (large ? 1.8 : 0.8) * c.scale;
  return {dist <= half_width, clean * 0.22};
}

// A tapered, slightly bent gash: a dark groove between two raised light lips.
Defect draw_cut(SampleRandom& r, const Grid& g, const DefectCanvas& c, const torch::Tensor& clean, bool large) {
  const Point mid = c.pick(0.5);
  const double length = (large ? r.uniform(40, 56) : r.uniform(16, 26)) * c.scale;
  const double angle = r.uniform(0, kSynthPi), widest = (large ? 4.5 : 2.0) * c.scale;
  const double bend = r.uniform(-0.12, 0.12) * length;
  const double dx = std::cos(angle), dy = std::sin(angle);
  const auto along = ((g.x - mid.x) * dx + (g.y - mid.y) * dy) / length + 0.5;  // 0..1 over the cut
  const auto t = along.clamp(0.0, 1.0);
  const auto across = (g.y - mid.y) * dx - (g.x - mid.x) * dy - bend * torch::sin(t * kSynthPi);
  const auto half_width = widest * torch::sin(t * kSynthPi) + 0.5;
  const auto depth = across.abs() / half_width;
  const auto region = (along > 0).logical_and(along < 1).logical_and(depth <= 1);
  return {region, torch::where((depth < 0.55).unsqueeze(0), clean * 0.18, clean * 0.45 + 0.5)};
}

// A dark pit with a lighter rim.
Defect draw_hole(SampleRandom& r, const Grid& g, const DefectCanvas& c, const torch::Tensor& clean, bool large) {
  const double radius = (large ? r.uniform(10, 14) : r.uniform(3.5, 5.5)) * c.scale;
  const auto rho = blob_radius(r, g, c.pick(0.5), radius, 0.25);
  const auto pit = 0.04 + 0.06 * r.noise({g.x.size(0), g.x.size(1)});
  return {rho <= 1, torch::where((rho < 0.68).unsqueeze(0), pit.unsqueeze(0).expand_as(clean), clean * 0.4 + 0.5)};
}

// A stain of a foreign colour that lets the surface show through.
Defect draw_print(SampleRandom& r, const Grid& g, const DefectCanvas& c, const torch::Tensor& clean, bool large) {
  static const float palette[5][3] = {{0.85f, 0.12f, 0.10f},
                                      {0.10f, 0.30f, 0.85f},
                                      {0.10f, 0.62f, 0.22f},
                                      {0.92f, 0.78f, 0.10f},
                                      {0.62f, 0.12f, 0.72f}};
  const auto& rgb = palette[std::min(4, static_cast<int>(r.uniform() * 5))];
  const double radius = (large ? r.uniform(14, 19) : r.uniform(5, 7.5)) * c.scale;
  const auto rho = blob_radius(r, g, c.pick(0.45), radius, 0.45);
  const auto colour = torch::tensor({rgb[0], rgb[1], rgb[2]}).view({3, 1, 1});
  return {rho <= 1, colour * (0.55 + 0.45 * luminance(clean)).unsqueeze(0)};
}

using DrawDefect = Defect (*)(SampleRandom&, const Grid&, const DefectCanvas&, const torch::Tensor&, bool);

DrawDefect defect_drawer(const std::string& kind) {
  if (kind == "crack") return draw_crack;
  if (kind == "cut") return draw_cut;
  if (kind == "hole") return draw_hole;
  return draw_print;
}

// Draws the defect until its region keeps a few pixels inside the canvas (a crack can
// wander off the object), then paints it.
AnomalySample apply_defect(SampleRandom& r, const Grid& g, const DefectCanvas& c, const torch::Tensor& clean_float,
                           const std::string& kind, bool large) {
  const auto clean = to_uint8_image(clean_float);
  torch::Tensor mask, painted;
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto d = defect_drawer(kind)(r, g, c, clean_float, large);
    mask = d.region.logical_and(c.allowed);
    painted = d.painted;
    if (mask.sum().item<int64_t>() >= 6) break;
  }
  return {paint_inside(clean, painted, mask), clean, mask};
}

AnomalySample good_sample(const torch::Tensor& clean_float) {
  const auto clean = to_uint8_image(clean_float);
  return {clean, clean, torch::zeros({clean.size(1), clean.size(2)}, torch::kBool)};
}

AnomalySample render_texture_sample(SampleRandom& r, const AnomalySource& source, const AnomalySampleSpec& spec,
                                    const AnomalySynthOptions& o) {
  const auto clean = render_texture(r, source.photo, spec.split, o);
  if (spec.kind == "good") return good_sample(clean);
  const auto g = pixel_grid(o.size);
  const double s = static_cast<double>(o.size);
  DefectCanvas canvas{
      torch::ones({o.size, o.size}, torch::kBool),
      [&r, s](double spread) {
        return Point{s * (0.5 + spread * r.uniform(-0.67, 0.67)), s * (0.5 + spread * r.uniform(-0.67, 0.67))};
      },
      s / 128.0};
  return apply_defect(r, g, canvas, clean, spec.kind, spec.large);
}

// A bite out of the outline: a disc centred on the edge, showing the background.
AnomalySample bite_out(SampleRandom& r, const Grid& g, const NutGeometry& n, const NutPose& p,
                       const torch::Tensor& shell, const torch::Tensor& clean_float, bool large) {
  const double side = static_cast<double>(g.x.size(0)), scale = side / 128.0;
  const double angle = r.uniform(0, 2 * kSynthPi);
  const double radius = (large ? r.uniform(16, 22) : r.uniform(7, 10)) * scale;
  const auto rho = blob_radius(r, g, object_to_image(p, 0.97 * std::cos(angle), 0.97 * std::sin(angle)), radius, 0.2);
  const auto bite = ((rho - 1.0) * -radius + 0.5).clamp(0.0, 1.0);  // the bite's antialiased share
  const auto bitten = to_uint8_image(composite(shell, n.coverage * (1 - bite), nut_background(g.x.size(0))));
  const auto clean = to_uint8_image(clean_float);
  return {bitten, clean, (bitten != clean).any(0)};
}

AnomalySample render_object_sample(SampleRandom& r, const AnomalySampleSpec& spec, const AnomalySynthOptions& o) {
  const auto g = pixel_grid(o.size);
  const auto pose = random_pose(r, o.size);
  const auto nut = nut_geometry(g, pose);
  const auto shell = shade_nut(r, nut, pose, o.size);
  const auto clean = composite(shell, nut.coverage, nut_background(o.size));
  if (spec.kind == "good") return good_sample(clean);
  if (spec.kind == "missing") return bite_out(r, g, nut, pose, shell, clean, spec.large);
  DefectCanvas canvas{nut.coverage >= 1.0,
                      [&r, pose](double spread) {
                        const double rho = spread * std::sqrt(r.uniform()), phi = r.uniform(0, 2 * kSynthPi);
                        return object_to_image(pose, rho * std::cos(phi), rho * std::sin(phi));
                      },
                      static_cast<double>(o.size) / 128.0};
  return apply_defect(r, g, canvas, clean, spec.kind, spec.large);
}

std::string split_name(AnomalySplit split) { return split == AnomalySplit::train ? "train" : "test"; }

std::string numbered(int64_t index, const std::string& suffix) {
  std::string digits = std::to_string(index);
  if (digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
  return digits + suffix;
}

// Removes a folder on scope exit unless released: a failed write leaves no partial category.
class RemoveOnFailure {
 public:
  explicit RemoveOnFailure(fs::path path) : path_(std::move(path)) {}
  ~RemoveOnFailure() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  RemoveOnFailure(const RemoveOnFailure&) = delete;
  RemoveOnFailure& operator=(const RemoveOnFailure&) = delete;
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// One intra-op thread while rendering: a sample's tensors are 3 x S x S, and OpenMP's
// hand-offs and spinning cost more than they save (a third of the run at 128 px, far more
// on a busy machine). The earlier count is restored on scope exit.
class OneRenderThread {
 public:
  OneRenderThread() : previous_(at::get_num_threads()) { at::set_num_threads(1); }
  ~OneRenderThread() { at::set_num_threads(previous_); }
  OneRenderThread(const OneRenderThread&) = delete;
  OneRenderThread& operator=(const OneRenderThread&) = delete;

 private:
  int previous_;
};

void check_photo(const AnomalySource& source, const AnomalySynthOptions& o) {
  const auto& photo = source.photo;
  LOUPE_CHECK(photo.defined() && photo.dim() == 3 && (photo.size(0) == 1 || photo.size(0) == 3), source.category,
              ": expected a texture photo float [C,H,W] with C = 1 or 3, got ",
              photo.defined() ? photo.sizes() : at::IntArrayRef{});
  const int64_t h = photo.size(1), w = photo.size(2);
  const int64_t crop = std::lround(o.crop_fraction * std::min(h, w));
  const int64_t boundary = std::lround(o.train_fraction * h);
  LOUPE_CHECK(crop >= 1 && crop <= boundary && crop <= h - boundary, source.category, ": photo of ", w, "x", h,
              " (WxH) cannot hold crops of ", crop, " px on both sides of row ", boundary,
              " (train part / test part); expected a larger photo or another crop or train fraction");
}

}  // namespace

std::vector<std::string> anomaly_category_names() { return {"brick", "grass", "gravel", "hazelnut"}; }

bool is_texture_category(const std::string& category) {
  return category == "brick" || category == "grass" || category == "gravel";
}

std::vector<std::string> anomaly_defect_kinds(const std::string& category) {
  const auto names = anomaly_category_names();
  LOUPE_CHECK(std::find(names.begin(), names.end(), category) != names.end(), "anomaly category '", category,
              "': unknown; expected one of ", join_names(names));
  if (is_texture_category(category)) return {"crack", "cut", "hole", "print"};
  return {"crack", "cut", "hole", "missing", "print"};
}

void check_anomaly_synth_options(const AnomalySynthOptions& o) {
  check_count("size", o.size, 32, 1024);
  check_count("train images", o.train_images, 1, 100000);
  check_count("test good images", o.test_good, 0, 100000);
  check_count("test defective images", o.test_defective, 0, 100000);
  check_real("train fraction", o.train_fraction, 0.05, 0.95);
  check_real("crop fraction", o.crop_fraction, 0.01, 1.0);
  LOUPE_CHECK(!o.categories.empty(), "anomaly categories: expected at least one of ",
              join_names(anomaly_category_names()));
  for (const auto& c : o.categories) anomaly_defect_kinds(c);  // names the unknown one
}

AnomalySource load_anomaly_source(const std::string& category, const fs::path& photo_dir) {
  anomaly_defect_kinds(category);
  if (!is_texture_category(category)) return {category, {}};
  const fs::path dir = photo_dir.empty() ? find_skimage_photos() : photo_dir;
  const auto file = dir / (category + ".png");
  LOUPE_CHECK(!dir.empty() && fs::is_regular_file(file), "anomaly category ", category, ": scikit-image's ", category,
              ".png not found", dir.empty() ? std::string() : " in " + dir.string(),
              "; run scripts/fetch_photos.sh (puts scikit-image's photos in data/skimage) or set LOUPE_PHOTOS=DIR");
  return {category, load_image(file, ImageLoadOptions().set_channels(3))};
}

std::vector<AnomalySampleSpec> anomaly_sample_plan(const std::string& category, const AnomalySynthOptions& o) {
  std::vector<AnomalySampleSpec> plan;
  for (int64_t i = 0; i < o.train_images; ++i) plan.push_back({AnomalySplit::train, "good", i, false});
  for (int64_t i = 0; i < o.test_good; ++i) plan.push_back({AnomalySplit::test, "good", i, false});
  const auto kinds = anomaly_defect_kinds(category);
  const auto n = static_cast<int64_t>(kinds.size());
  for (int64_t k = 0; k < n; ++k) {
    const int64_t count = o.test_defective / n + (k < o.test_defective % n ? 1 : 0);
    for (int64_t i = 0; i < count; ++i) plan.push_back({AnomalySplit::test, kinds[k], i, i % 2 == 1});
  }
  return plan;
}

AnomalySample render_anomaly_sample(const AnomalySource& source, const AnomalySampleSpec& spec,
                                    const AnomalySynthOptions& options) {
  const auto kinds = anomaly_defect_kinds(source.category);
  LOUPE_CHECK(spec.kind == "good" || std::find(kinds.begin(), kinds.end(), spec.kind) != kinds.end(), source.category,
              ": defect kind '", spec.kind, "' unknown; expected good or one of ", join_names(kinds));
  LOUPE_CHECK(spec.kind == "good" || spec.split == AnomalySplit::test, source.category,
              ": defects belong to the test split only");
  SampleRandom r(sample_seed(source.category, spec, options.seed));
  if (!is_texture_category(source.category)) return render_object_sample(r, spec, options);
  check_photo(source, options);
  return render_texture_sample(r, source, spec, options);
}

void write_anomaly_category(const fs::path& root, const AnomalySource& source, const AnomalySynthOptions& options) {
  check_anomaly_synth_options(options);
  if (is_texture_category(source.category)) check_photo(source, options);
  const fs::path target = root / source.category;
  const fs::path partial = root / ("." + source.category + ".partial");
  std::error_code ec;
  fs::remove_all(partial, ec);
  RemoveOnFailure cleanup(partial);
  const OneRenderThread one_thread;
  const auto plan = anomaly_sample_plan(source.category, options);
  Progress progress("writing " + source.category, static_cast<int64_t>(plan.size()), "img");
  for (const auto& spec : plan) {
    const auto sample = render_anomaly_sample(source, spec, options);
    const auto name = numbered(spec.index, ".png");
    write_png(partial / split_name(spec.split) / spec.kind / name, sample.image);
    if (spec.kind != "good")
      write_png(partial / "ground_truth" / spec.kind / numbered(spec.index, "_mask.png"),
                sample.mask.to(torch::kUInt8).mul(255).unsqueeze(0));
    progress.advance();
  }
  progress.finish();
  const fs::path previous = root / ("." + source.category + ".previous");
  fs::remove_all(previous, ec);
  if (fs::exists(target, ec)) {
    fs::rename(target, previous, ec);
    LOUPE_CHECK(!ec, target.string(), ": cannot replace the earlier category folder (", ec.message(), ")");
  }
  fs::rename(partial, target, ec);
  LOUPE_CHECK(!ec, target.string(), ": cannot move the finished category into place (", ec.message(), ")");
  cleanup.release();
  fs::remove_all(previous, ec);
}

void write_anomaly_dataset(const fs::path& root, const AnomalySynthOptions& options, const fs::path& photo_dir) {
  check_anomaly_synth_options(options);
  std::vector<AnomalySource> sources;
  for (const auto& category : options.categories) sources.push_back(load_anomaly_source(category, photo_dir));
  for (const auto& source : sources) write_anomaly_category(root, source, options);
}

}  // namespace loupe
