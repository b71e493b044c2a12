#include "raycast.h"

#include <torch/torch.h>

#include <limits>
#include <utility>

namespace loupe::detail {
namespace {

torch::Tensor inf_like(const torch::Tensor& t) { return torch::full_like(t, std::numeric_limits<float>::infinity()); }

// t where `valid` (and beyond kMinT), else +inf.
torch::Tensor keep(const torch::Tensor& t, const torch::Tensor& valid) {
  return torch::where(valid.logical_and(t > kMinT), t, inf_like(t));
}

// Solves |o + t d - c|² = r² restricted to x,z (tube) or all axes (sphere): the nearer root.
torch::Tensor nearer_root(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c) {
  const auto disc = b * b - a * c;
  const auto root = (-b - disc.clamp_min(0).sqrt()) / a;
  return keep(root, (disc > 0).logical_and(a > 0));
}

Vec3 point_at(const Vec3& o, const Vec3& d, const torch::Tensor& t) {
  const auto tt = torch::where(torch::isinf(t), torch::zeros_like(t), t);
  return o + d * tt;
}

}  // namespace

Vec3 operator+(const Vec3& a, const Vec3& b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
Vec3 operator-(const Vec3& a, const Vec3& b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
Vec3 operator*(const Vec3& a, const torch::Tensor& s) { return {a.x * s, a.y * s, a.z * s}; }
Vec3 operator*(const Vec3& a, double s) { return {a.x * s, a.y * s, a.z * s}; }
torch::Tensor dot(const Vec3& a, const Vec3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
Vec3 normalized(const Vec3& a) { return a * dot(a, a).sqrt().reciprocal(); }
Vec3 select_rows(const Vec3& a, const torch::Tensor& index) {
  return {a.x.index_select(0, index), a.y.index_select(0, index), a.z.index_select(0, index)};
}

Hit nearest(const Hit& a, const Hit& b) {
  const auto m = b.t < a.t;
  return {torch::where(m, b.t, a.t),
          {torch::where(m, b.normal.x, a.normal.x), torch::where(m, b.normal.y, a.normal.y),
           torch::where(m, b.normal.z, a.normal.z)}};
}

Hit hit_floor(const Vec3& o, const Vec3& d) {
  const auto t = keep(-o.y / d.y.clamp_max(-1e-9), d.y < 0);
  const auto zero = torch::zeros_like(t);
  return {t, {zero, zero + 1, zero}};
}

Hit hit_plane(const Vec3& o, const Vec3& d, const Vec3& point, const Vec3& n) {
  const auto facing = dot(d, n);
  const auto t = keep(dot(point - o, n) / facing.clamp_max(-1e-9), facing < 0);
  const auto zero = torch::zeros_like(t);
  return {t, {zero + n.x, zero + n.y, zero + n.z}};
}

Hit hit_sphere(const Vec3& o, const Vec3& d, double cy, double r) {
  const Vec3 oc{o.x, o.y - cy, o.z};
  const auto t = nearer_root(dot(d, d), dot(oc, d), dot(oc, oc) - r * r);
  const auto p = point_at(oc, d, t);
  return {t, p * (1.0 / r)};
}

Hit hit_cube(const Vec3& o, const Vec3& d) {
  // Slab method: the ray is inside all three slabs |x|,|y|,|z| <= 1 for t in [near, far].
  auto slab = [](const torch::Tensor& oc, const torch::Tensor& dc) {
    const auto inv = torch::where(dc.abs() < 1e-9, torch::full_like(dc, 1e9), dc.reciprocal());
    const auto t1 = (-1 - oc) * inv, t2 = (1 - oc) * inv;
    return std::make_pair(torch::minimum(t1, t2), torch::maximum(t1, t2));
  };
  const auto [nx, fx] = slab(o.x, d.x);
  const auto [ny, fy] = slab(o.y, d.y);
  const auto [nz, fz] = slab(o.z, d.z);
  const auto near = torch::maximum(torch::maximum(nx, ny), nz), far = torch::minimum(torch::minimum(fx, fy), fz);
  const auto t = keep(near, near <= far);
  const auto p = point_at(o, d, t);
  const auto ax = p.x.abs(), ay = p.y.abs(), az = p.z.abs();
  const auto zero = torch::zeros_like(t);
  const auto on_x = (ax >= ay).logical_and(ax >= az), on_y = on_x.logical_not().logical_and(ay >= az);
  const auto on_z = on_x.logical_or(on_y).logical_not();
  return {t,
          {torch::where(on_x, p.x.sign(), zero), torch::where(on_y, p.y.sign(), zero),
           torch::where(on_z, p.z.sign(), zero)}};
}

Hit hit_tube(const Vec3& o, const Vec3& d, double r, double h) {
  const Vec3 oxz{o.x, torch::zeros_like(o.x), o.z}, dxz{d.x, torch::zeros_like(d.x), d.z};
  auto t = nearer_root(dot(dxz, dxz), dot(oxz, dxz), dot(oxz, oxz) - r * r);
  const auto p = point_at(o, d, t);
  t = keep(t, p.y.abs() <= h);
  return {t, {p.x * (1.0 / r), torch::zeros_like(t), p.z * (1.0 / r)}};
}

Hit hit_disc(const Vec3& o, const Vec3& d, double cy, double r, double ny) {
  const auto facing = d.y * ny;
  const auto t0 = (cy - o.y) / torch::where(d.y.abs() < 1e-9, torch::full_like(d.y, 1e-9), d.y);
  const auto p = point_at(o, d, keep(t0, facing < 0));
  const auto t = keep(t0, (facing < 0).logical_and(p.x * p.x + p.z * p.z <= r * r));
  const auto zero = torch::zeros_like(t);
  return {t, {zero, zero + ny, zero}};
}

}  // namespace loupe::detail
