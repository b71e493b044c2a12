// Ray–primitive intersections over batches of rays in LibTorch ops (internal to the
// procedural renderers). Vectors are kept as three component tensors so that no
// reduction is involved: every pixel's result is the same whatever the batch size.
// A missed ray has t = +inf; hits closer than kMinT are ignored.
#pragma once

#include <torch/types.h>

namespace loupe::detail {

constexpr double kMinT = 1e-4;

struct Vec3 {
  torch::Tensor x, y, z;
};

Vec3 operator+(const Vec3& a, const Vec3& b);
Vec3 operator-(const Vec3& a, const Vec3& b);
Vec3 operator*(const Vec3& a, const torch::Tensor& s);
Vec3 operator*(const Vec3& a, double s);
torch::Tensor dot(const Vec3& a, const Vec3& b);
Vec3 normalized(const Vec3& a);
// The rows `index` (dim 0) of each component; and the inverse scatter into `out`.
Vec3 select_rows(const Vec3& a, const torch::Tensor& index);

struct Hit {
  torch::Tensor t;  // distance along the ray; +inf where missed
  Vec3 normal;      // unit outward normal at the hit (undefined where missed)
};

// The nearer of two hits, per ray.
Hit nearest(const Hit& a, const Hit& b);
// Plane y = 0 seen from above (normal +y).
Hit hit_floor(const Vec3& o, const Vec3& d);
// Plane through `point` with unit normal `n`, seen from the side n points to.
Hit hit_plane(const Vec3& o, const Vec3& d, const Vec3& point, const Vec3& n);
// Sphere of radius r centred on (0, cy, 0).
Hit hit_sphere(const Vec3& o, const Vec3& d, double cy, double r);
// Axis-aligned cube [-1,1]^3.
Hit hit_cube(const Vec3& o, const Vec3& d);
// Side of the cylinder x²+z² = r² for |y| <= h (open ends).
Hit hit_tube(const Vec3& o, const Vec3& d, double r, double h);
// Disc of radius r in the plane y = cy, facing ny (+1 up, -1 down).
Hit hit_disc(const Vec3& o, const Vec3& d, double cy, double r, double ny);

}  // namespace loupe::detail
