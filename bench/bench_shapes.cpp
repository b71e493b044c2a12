// Procedural Shapes3D and dSprites rendering throughput (images/s) at batch 256,
// never part of the test suite. --preview PATH also writes a labelled grid of
// Shapes3D samples (every shape × scales, orientations and hues) for eyeballing.
// Usage: loupe_bench_shapes [--device auto|cpu|cuda] [--repeats N] [--supersample S]
//                           [--preview PATH]
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "loupe/core/colormap.h"
#include "loupe/core/device.h"
#include "loupe/core/image.h"
#include "loupe/data/dsprites.h"
#include "loupe/data/shapes3d.h"

namespace {

using Clock = std::chrono::steady_clock;

template <class F>
double seconds_per_call(F&& f, torch::Device device, int repeats) {
  f();  // warm-up
  if (device.is_cuda()) torch::cuda::synchronize();
  const auto start = Clock::now();
  for (int i = 0; i < repeats; ++i) f();
  if (device.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double>(Clock::now() - start).count() / repeats;
}

// Rows: one per shape; columns: scale (min, max), orientation (min, mid, max) and three
// hue combinations, so every factor's effect is visible side by side.
void write_preview(const loupe::Shapes3D& data, const std::string& path) {
  std::vector<torch::Tensor> images;
  std::vector<std::string> labels, rows;
  const std::vector<std::array<int64_t, 6>> columns = {{0, 3, 7, 0, 0, 7},  {0, 3, 7, 7, 0, 7}, {0, 3, 7, 4, 0, 0},
                                                       {0, 3, 7, 4, 0, 14}, {5, 9, 1, 4, 0, 3}, {8, 1, 4, 4, 0, 10},
                                                       {2, 6, 0, 4, 0, 7}};
  for (int64_t shape = 0; shape < 4; ++shape) {
    rows.push_back(data.value_names(4)[shape]);
    for (auto c : columns) {
      c[4] = shape;
      const auto f = torch::tensor(std::vector<int64_t>(c.begin(), c.end())).reshape({1, 6});
      images.push_back(data.render(f, torch::kCPU)[0]);
      labels.push_back("s" + data.value_names(3)[c[3]] + " o" + data.value_names(5)[c[5]]);
    }
  }
  loupe::write_png(path, loupe::image_grid(images, labels, loupe::GridOptions(7).cell_size(128), rows));
  std::cout << "preview written to " << path << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto", preview;
  int repeats = 5;
  int64_t supersample = 2;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--device"))
      device_name = argv[++i];
    else if (!std::strcmp(argv[i], "--repeats"))
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--supersample"))
      supersample = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--preview"))
      preview = argv[++i];
  }
  loupe::init_threads();
  const auto device = loupe::resolve_device(device_name);
  const loupe::Shapes3D shapes{loupe::Shapes3DOptions().set_supersample(supersample)};
  if (!preview.empty()) write_preview(shapes, preview);
  const loupe::DSprites sprites;
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, " << repeats
            << " repeats, batch 256\n";
  torch::manual_seed(0);
  const auto shape_f = shapes.factors(torch::randint(shapes.size(), {256}, torch::kLong));
  const auto sprite_f = sprites.factors(torch::randint(sprites.size(), {256}, torch::kLong));
  for (int64_t ss : {int64_t{1}, supersample}) {
    const loupe::Shapes3D s{loupe::Shapes3DOptions().set_supersample(ss)};
    const double t = seconds_per_call([&] { s.render(shape_f, device); }, device, repeats);
    std::cout << "shapes3d (supersample " << ss << ")  " << std::fixed << std::setprecision(0) << 256 / t
              << " images/s\n";
    if (ss == supersample) break;
  }
  const double t = seconds_per_call([&] { sprites.render(sprite_f, device); }, device, repeats);
  std::cout << "dsprites                " << std::fixed << std::setprecision(0) << 256 / t << " images/s\n";
  return 0;
}
