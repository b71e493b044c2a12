#include "loupe/data/shapes3d.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "loupe/core/error.h"
#include "raycast.h"
#include "shapes3d_detail.h"

namespace loupe {
namespace {

using detail::Hit;
using detail::Vec3;

constexpr int64_t kShape = 4;
constexpr double kShapesPi = 3.14159265358979323846;

// Scene, in world units (y up). The object of scale s is a primitive spanning
// [-1,1]³ scaled by kObjectSize·s, resting on the floor at the origin; the camera
// orbits the vertical axis through it by the orientation angle.
constexpr double kObjectSize = 0.55;
constexpr double kCameraDistance = 5.0, kCameraHeight = 1.7, kLookAtHeight = 0.8;
constexpr double kFieldOfView = 50.0;  // degrees, vertical
// The wall: a vertical plane behind the object, turned by kWallYaw, which ends
// kWallEdge units left of its foot point so that sky shows beside it.
constexpr double kWallDistance = 3.0, kWallYaw = 30.0, kWallEdge = 1.2;
constexpr double kAmbient = 0.4, kDiffuse = 0.6, kSpecular = 0.25;
constexpr double kSaturation = 0.8, kValue = 0.95;
// Direction towards the light (unnormalised): above, to the front left.
constexpr double kLight[3] = {-0.5, 1.0, 0.7};

// HSV → RGB with s, v fixed: c_n = v − v·s·clamp(min(k, 4 − k), 0, 1), k = (n + 6h) mod 6.
std::array<float, 3> hue_rgb(double hue) {
  std::array<float, 3> rgb{};
  const double n[3] = {5, 3, 1};
  for (int i = 0; i < 3; ++i) {
    const double k = std::fmod(n[i] + 6.0 * hue, 6.0);
    rgb[i] = static_cast<float>(kValue - kValue * kSaturation * std::clamp(std::min(k, 4.0 - k), 0.0, 1.0));
  }
  return rgb;
}

// Per-sample scene parameters, [B,1] each, built on the host in double precision.
struct Scene {
  Vec3 eye, forward, right, up;
  Vec3 floor_rgb, wall_rgb, object_rgb;
  torch::Tensor size;   // world half-size of the object
  torch::Tensor shape;  // int64 [B] on the host
};

Vec3 column_vec(const std::vector<float>& xyz, int64_t b, torch::Device device) {
  const auto t = torch::tensor(xyz).reshape({b, 3}).to(device);
  return {t.slice(1, 0, 1), t.slice(1, 1, 2), t.slice(1, 2, 3)};
}

Scene make_scene(const torch::Tensor& factors, torch::Device device) {
  const auto f = factors.to(torch::kCPU).contiguous();
  const auto acc = f.accessor<int64_t, 2>();
  const int64_t b = f.size(0);
  std::vector<float> eye, fwd, right, up, floor_c, wall_c, object_c, size;
  const auto scales = shapes3d_factor_values(3), angles = shapes3d_factor_values(5);
  for (int64_t i = 0; i < b; ++i) {
    const double a = angles[acc[i][5]] * kShapesPi / 180.0;
    const double ex = kCameraDistance * std::sin(a), ez = kCameraDistance * std::cos(a);
    double fx = -ex, fy = kLookAtHeight - kCameraHeight, fz = -ez;
    const double fn = std::sqrt(fx * fx + fy * fy + fz * fz);
    fx /= fn, fy /= fn, fz /= fn;
    // right = forward × up_world, up = right × forward.
    double rx = -fz, rz = fx;
    const double rn = std::sqrt(rx * rx + rz * rz);
    rx /= rn, rz /= rn;
    const double ux = -rz * fy, uy = rz * fx - rx * fz, uz = rx * fy;
    eye.insert(eye.end(), {float(ex), float(kCameraHeight), float(ez)});
    fwd.insert(fwd.end(), {float(fx), float(fy), float(fz)});
    right.insert(right.end(), {float(rx), 0.f, float(rz)});
    up.insert(up.end(), {float(ux), float(uy), float(uz)});
    std::vector<float>* colours[3] = {&floor_c, &wall_c, &object_c};
    for (int64_t col = 0; col < 3; ++col) {
      const auto rgb = hue_rgb(static_cast<double>(acc[i][col]) / 10.0);
      colours[col]->insert(colours[col]->end(), rgb.begin(), rgb.end());
    }
    size.push_back(static_cast<float>(kObjectSize * scales[acc[i][3]]));
  }
  return {column_vec(eye, b, device),      column_vec(fwd, b, device),
          column_vec(right, b, device),    column_vec(up, b, device),
          column_vec(floor_c, b, device),  column_vec(wall_c, b, device),
          column_vec(object_c, b, device), torch::tensor(size).reshape({b, 1}).to(device),
          f.select(1, 4).clone()};
}

// The object's primitive in its own frame ([-1,1]³).
Hit hit_primitive(const Vec3& o, const Vec3& d, int64_t shape) {
  using namespace detail;
  switch (shape) {
    case 0:
      return hit_cube(o, d);
    case 1:
      return nearest(hit_tube(o, d, 1.0, 1.0), nearest(hit_disc(o, d, 1.0, 1.0, 1.0), hit_disc(o, d, -1.0, 1.0, -1.0)));
    case 2:
      return hit_sphere(o, d, 0.0, 1.0);
    default:
      return nearest(hit_tube(o, d, 0.6, 0.4), nearest(hit_sphere(o, d, 0.4, 0.6), hit_sphere(o, d, -0.4, 0.6)));
  }
}

// Rays whose path from o along d may meet the sample's object: those through its
// bounding sphere (radius √3·size about its centre, 1% larger) that leave it ahead of o.
torch::Tensor shapes3d_may_hit_object(const Vec3& o, const Vec3& d, const Scene& s) {
  const Vec3 oc{o.x, o.y - s.size, o.z};
  const auto r = s.size * (std::sqrt(3.0) * 1.01);
  const auto a = detail::dot(d, d), b = detail::dot(oc, d), c = detail::dot(oc, oc) - r * r;
  const auto disc = b * b - a * c;
  return (disc >= 0).logical_and(disc.clamp_min(0).sqrt() - b > -1e-3);
}

// Rays (world, full [B,N]) against each sample's object, intersected only where
// `candidates` [B,N]: the candidate rays are gathered by shape so each primitive meets
// only its own samples' rays; every other ray misses (t = +inf). Element-wise ops only,
// so a ray's result does not depend on which other rays were gathered with it.
Hit hit_object(const Vec3& o, const Vec3& d, const Scene& s, const torch::Tensor& candidates) {
  const int64_t b = candidates.size(0), n = candidates.size(1);
  const auto opts = d.x.options();
  auto t = torch::full({b * n}, std::numeric_limits<float>::infinity(), opts);
  Vec3 normal{torch::zeros({b * n}, opts), torch::zeros({b * n}, opts), torch::zeros({b * n}, opts)};
  const auto inv = s.size.reciprocal().reshape({-1}), size = s.size.reshape({-1});
  const auto shape = s.shape.to(candidates.device()).reshape({b, 1});
  for (int64_t k = 0; k < kShape; ++k) {
    const auto idx = candidates.logical_and(shape == k).reshape({-1}).nonzero().reshape({-1});
    if (idx.numel() == 0) continue;
    const auto row = torch::div(idx, n, "floor");
    const auto inv_k = inv.index_select(0, row), size_k = size.index_select(0, row);
    auto pick = [&](const torch::Tensor& v) { return v.reshape({-1}).index_select(0, idx); };
    // The object's frame ([-1,1]³ about (0, size, 0)); t is unchanged.
    const Vec3 lo{pick(o.x) * inv_k, (pick(o.y) - size_k) * inv_k, pick(o.z) * inv_k};
    const Vec3 ld{pick(d.x) * inv_k, pick(d.y) * inv_k, pick(d.z) * inv_k};
    const auto h = hit_primitive(lo, ld, k);
    t.index_copy_(0, idx, h.t);
    normal.x.index_copy_(0, idx, h.normal.x);
    normal.y.index_copy_(0, idx, h.normal.y);
    normal.z.index_copy_(0, idx, h.normal.z);
  }
  return {t.reshape({b, n}), {normal.x.reshape({b, n}), normal.y.reshape({b, n}), normal.z.reshape({b, n})}};
}

Vec3 choose(const torch::Tensor& mask, const Vec3& a, const Vec3& b) {
  return {torch::where(mask, a.x, b.x), torch::where(mask, a.y, b.y), torch::where(mask, a.z, b.z)};
}

}  // namespace

const std::vector<std::string>& shapes3d_factor_names() {
  static const std::vector<std::string> names = {"floor_hue", "wall_hue", "object_hue",
                                                 "scale",     "shape",    "orientation"};
  return names;
}

const std::vector<int64_t>& shapes3d_factor_sizes() {
  static const std::vector<int64_t> sizes = {10, 10, 10, 8, 4, 15};
  return sizes;
}

std::vector<double> shapes3d_factor_values(int64_t factor) {
  LOUPE_CHECK(factor >= 0 && factor < 6, "Shapes3D factor ", factor, ": expected an index in [0,6)");
  std::vector<double> v;
  const int64_t n = shapes3d_factor_sizes()[factor];
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(i) / static_cast<double>(n - 1);
    if (factor < 3)
      v.push_back(static_cast<double>(i) / 10.0);
    else if (factor == 3)
      v.push_back(0.75 + 0.5 * u);
    else if (factor == 4)
      v.push_back(static_cast<double>(i));
    else
      v.push_back(-30.0 + 60.0 * u);
  }
  return v;
}

std::vector<std::string> shapes3d_value_names(int64_t factor) {
  LOUPE_CHECK(factor >= 0 && factor < 6, "Shapes3D factor ", factor, ": expected an index in [0,6)");
  if (factor < 3) return {"red", "orange", "yellow", "green", "mint", "cyan", "azure", "blue", "purple", "pink"};
  if (factor == 3) return numeric_value_names(0.75, 1.25, 8, 2);
  if (factor == 4) return {"cube", "cylinder", "sphere", "capsule"};
  return numeric_value_names(-30.0, 30.0, 15, 1);
}

Shapes3D::Shapes3D(Shapes3DOptions options) : options_(std::move(options)) {
  LOUPE_CHECK(options_.image_size >= 4 && options_.image_size <= 1024, "Shapes3D image_size ", options_.image_size,
              ": expected 4…1024 pixels");
  LOUPE_CHECK(options_.supersample >= 1 && options_.supersample <= 8, "Shapes3D supersample ", options_.supersample,
              ": expected 1…8 rays per pixel side");
  label_factor_ = factor_index(options_.label_factor);
}

std::array<int64_t, 3> Shapes3D::image_shape() const { return {3, options_.image_size, options_.image_size}; }

Batch Shapes3D::get(const torch::Tensor& indices) const {
  const auto f = factors(indices);
  return {render(f, options_.device).cpu(), f.select(1, label_factor_).clone()};
}

torch::Tensor Shapes3D::render(const torch::Tensor& factor_vectors, torch::Device device) const {
  return detail::render_shapes3d(options_, factor_vectors, device, false);
}

const std::vector<std::string>& shapes3d_part_names() {
  static const std::vector<std::string> names = {"sky", "floor", "wall", "object"};
  return names;
}

namespace {

// On the CPU, images are rendered this many rays at a time: small enough for the
// temporaries of one chunk to stay in cache (4 images of 128x128 rays).
constexpr int64_t kShapes3DRaysPerChunk = 1 << 16;

// The primary rays of `side` x `side` pixel-centre samples per image and what each meets
// first: the floor, the wall (which ends at its edge), the object, or the sky.
struct PrimaryRays {
  Vec3 eye, dir;
  Hit scene;
  torch::Tensor is_object, is_wall, sky;  // bool [B, side·side]
};

PrimaryRays trace_primary(const Scene& s, int64_t b, int64_t side, torch::Device device, bool exhaustive) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  // Pixel-centre offsets in [-1,1] for every ray; row 0 is the top of the image.
  const double half = std::tan(kFieldOfView * kShapesPi / 360.0);
  const auto coord = (torch::arange(side, opts) + 0.5) * (2.0 * half / static_cast<double>(side)) - half;
  const auto u = coord.repeat({side}).reshape({1, -1}), v = coord.flip(0).repeat_interleave(side).reshape({1, -1});
  const Vec3 dir = detail::normalized(s.forward + s.right * u + s.up * v);
  const auto ones = torch::ones({b, side * side}, opts);
  const Vec3 eye = s.eye * ones;

  const Hit floor = detail::hit_floor(eye, dir);
  const Vec3 wall_n{torch::full({1, 1}, std::sin(kWallYaw * kShapesPi / 180.0), opts), torch::zeros({1, 1}, opts),
                    torch::full({1, 1}, std::cos(kWallYaw * kShapesPi / 180.0), opts)};
  const Vec3 wall_p = wall_n * -kWallDistance;
  const Vec3 wall_tangent{wall_n.z, wall_n.y, -wall_n.x};  // horizontal, pointing right of the wall's normal
  Hit wall = detail::hit_plane(eye, dir, wall_p, wall_n);
  {
    const auto along = detail::dot(
        (eye + dir * torch::where(torch::isinf(wall.t), torch::zeros_like(wall.t), wall.t)) - wall_p, wall_tangent);
    wall.t = torch::where(along > -kWallEdge, wall.t, torch::full_like(wall.t, INFINITY));
  }
  const auto every_ray = torch::ones({b, side * side}, opts.dtype(torch::kBool));
  const Hit object = hit_object(eye, dir, s, exhaustive ? every_ray : shapes3d_may_hit_object(eye, dir, s));
  const Hit scene = detail::nearest(detail::nearest(floor, wall), object);
  return {eye, dir, scene, object.t <= scene.t, wall.t <= scene.t, torch::isinf(scene.t)};
}

torch::Tensor render_shapes3d_chunk(const Shapes3DOptions& options, const torch::Tensor& factor_vectors,
                                    torch::Device device, bool exhaustive) {
  const int64_t b = factor_vectors.size(0), ss = options.supersample, side = options.image_size * ss;
  const auto s = make_scene(factor_vectors, device);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const auto rays = trace_primary(s, b, side, device, exhaustive);
  const auto& dir = rays.dir;
  const auto& eye = rays.eye;
  const auto& scene = rays.scene;
  const auto& is_object = rays.is_object;
  const auto& is_wall = rays.is_wall;
  const auto& sky = rays.sky;
  const auto ones = torch::ones({b, side * side}, opts);
  const auto every_ray = torch::ones({b, side * side}, opts.dtype(torch::kBool));
  const Vec3 albedo = choose(is_object, s.object_rgb * ones, choose(is_wall, s.wall_rgb * ones, s.floor_rgb * ones));
  const auto light_n = 1.0 / std::sqrt(kLight[0] * kLight[0] + kLight[1] * kLight[1] + kLight[2] * kLight[2]);
  const Vec3 light{torch::full({1, 1}, kLight[0] * light_n, opts), torch::full({1, 1}, kLight[1] * light_n, opts),
                   torch::full({1, 1}, kLight[2] * light_n, opts)};
  const auto t = torch::where(sky, torch::zeros_like(scene.t), scene.t);
  const Vec3 hit_point = eye + dir * t + scene.normal * 1e-3;
  // Only the floor and the wall receive shadows (the object's dark side is the Lambert term's).
  const Vec3 to_light = light * ones;
  const auto shadow_rays =
      exhaustive ? every_ray
                 : is_object.logical_or(sky).logical_not().logical_and(shapes3d_may_hit_object(hit_point, to_light, s));
  const auto shadowed =
      torch::isfinite(hit_object(hit_point, to_light, s, shadow_rays).t).logical_and(is_object.logical_not());
  const auto lambert = detail::dot(scene.normal, light).clamp_min(0) * shadowed.logical_not();
  // Blinn–Phong highlight on the object only, exponent 32 by repeated squaring.
  auto spec = detail::dot(scene.normal, detail::normalized(light - dir)).clamp_min(0);
  for (int i = 0; i < 5; ++i) spec = spec * spec;
  spec = spec * is_object * kSpecular;
  const auto shade = lambert * kDiffuse + kAmbient;
  // Sky: a vertical gradient from a pale horizon to a light blue zenith.
  const auto up = (dir.y * 3.0).clamp(0, 1);
  const Vec3 sky_rgb{0.80 - 0.30 * up, 0.88 - 0.20 * up, 0.95 - 0.03 * up};
  const Vec3 lit = albedo * shade + Vec3{spec, spec, spec};
  const Vec3 rgb = choose(sky, sky_rgb, lit);

  auto image = torch::stack({rgb.x, rgb.y, rgb.z}, 1).reshape({b, 3, side, side}).clamp(0, 1);
  if (ss > 1) {  // box filter, summed in a fixed order (no reduction kernel)
    auto acc = torch::zeros({b, 3, options.image_size, options.image_size}, opts);
    for (int64_t i = 0; i < ss; ++i)
      for (int64_t j = 0; j < ss; ++j) acc = acc + image.slice(2, i, side, ss).slice(3, j, side, ss);
    image = acc / static_cast<double>(ss * ss);
  }
  return image.mul(255.0).round().div(255.0);
}

torch::Tensor shapes3d_parts_chunk(const Shapes3DOptions& options, const torch::Tensor& factor_vectors,
                                   torch::Device device) {
  const int64_t b = factor_vectors.size(0), side = options.image_size;
  const auto rays = trace_primary(make_scene(factor_vectors, device), b, side, device, false);
  auto parts = torch::ones({b, side * side}, torch::TensorOptions().dtype(torch::kLong).device(device));  // floor
  parts = parts.masked_fill(rays.is_wall, 2).masked_fill(rays.is_object, 3).masked_fill(rays.sky, 0);
  return parts.view({b, side, side}).cpu();
}

}  // namespace

namespace detail {

torch::Tensor render_shapes3d(const Shapes3DOptions& options, const torch::Tensor& factors, torch::Device device,
                              bool exhaustive) {
  check_factors(factors, shapes3d_factor_sizes(), "Shapes3D factors");
  const int64_t b = factors.size(0),
                rays = options.image_size * options.supersample * options.image_size * options.supersample;
  const int64_t chunk =
      exhaustive || device.is_cuda() ? std::max<int64_t>(b, 1) : std::max<int64_t>(1, kShapes3DRaysPerChunk / rays);
  if (b <= chunk) return render_shapes3d_chunk(options, factors, device, exhaustive);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < b; i += chunk)
    parts.push_back(render_shapes3d_chunk(options, factors.slice(0, i, std::min(b, i + chunk)), device, exhaustive));
  return torch::cat(parts);
}

}  // namespace detail
torch::Tensor Shapes3D::render_parts(const torch::Tensor& factor_vectors, torch::Device device) const {
  check_factors(factor_vectors, shapes3d_factor_sizes(), "Shapes3D factors");
  const int64_t b = factor_vectors.size(0), rays = options_.image_size * options_.image_size;
  const int64_t chunk = device.is_cuda() ? std::max<int64_t>(b, 1) : std::max<int64_t>(1, kShapes3DRaysPerChunk / rays);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < b; i += chunk)
    parts.push_back(shapes3d_parts_chunk(options_, factor_vectors.slice(0, i, std::min(b, i + chunk)), device));
  return parts.empty() ? torch::zeros({0, options_.image_size, options_.image_size}, torch::kLong) : torch::cat(parts);
}

}  // namespace loupe
