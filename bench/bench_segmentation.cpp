// Seconds per 224×224 image for the superpixel segmentations LIME uses: quickshift with
// LIME's defaults (kernel 4, max distance 200, ratio 0.2) and SLIC with 100 segments,
// on a smooth-plus-texture synthetic image (deterministic).
// Usage: loupe_bench_segmentation [--device auto|cpu|cuda] [--repeats N] [--size S] [--threads T]
#include <torch/torch.h>

#include <cstring>
#include <ctime>
#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "loupe/core/device.h"
#include "loupe/explain/segmentation.h"

namespace {

// Smooth colour gradients, a few discs and mild noise: enough structure for both methods.
torch::Tensor test_image(int64_t size, torch::Device device) {
  auto gen = loupe::make_generator(0);
  const auto t = torch::linspace(0, 1, size);
  const auto y = t.view({-1, 1}).expand({size, size}), x = t.view({1, -1}).expand({size, size});
  auto image = torch::stack({x, y, 0.5 * (1 - x * y)});
  for (int k = 0; k < 4; ++k) {
    const double cy = 0.2 + 0.2 * k, cx = 0.8 - 0.18 * k, r = 0.08 + 0.03 * k;
    const auto disc = ((y - cy).square() + (x - cx).square() < r * r).to(torch::kFloat);
    const auto colour = torch::tensor({0.9 - 0.2 * k, 0.1 + 0.2 * k, 0.3}).view({3, 1, 1});
    image = image * (1 - disc) + colour * disc;
  }
  image = image + 0.03 * torch::randn({3, size, size}, gen);
  return image.clamp(0, 1).to(device);
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto";
  int repeats = 3;
  int64_t size = 224;
  int threads = 0;  // 0: every core
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--device"))
      device_name = argv[++i];
    else if (!std::strcmp(argv[i], "--repeats"))
      repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--size"))
      size = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(argv[++i]);
  }
  loupe::init_threads();
  if (threads > 0) torch::set_num_threads(threads);
  const auto device = loupe::resolve_device(device_name);
  torch::NoGradGuard no_grad;
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, " << repeats << " repeats, "
            << size << "x" << size << " image\n\n";
  const auto image = test_image(size, device);
  struct Case {
    std::string name;
    loupe::SegmentOptions options;
  };
  const std::vector<Case> cases = {
      {"quickshift (LIME defaults)", loupe::SegmentOptions().set_method("quickshift")},
      {"slic (100 segments)", loupe::SegmentOptions().set_method("slic")},
      {"grid (8 px cells)", loupe::SegmentOptions().set_method("grid")},
  };
  // Wall time is what a user waits; CPU time (all threads) stays meaningful on a busy machine.
  std::cout << std::left << std::setw(30) << "method" << std::setw(14) << "wall s/image" << std::setw(14)
            << "cpu s/image"
            << "segments\n";
  for (const auto& c : cases) {
    torch::Tensor labels;
    const std::clock_t cpu_start = std::clock();
    const double wall =
        loupe::bench::seconds_per_call([&] { labels = loupe::segment(image, c.options); }, device, repeats);
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC / (repeats + 1);
    std::cout << std::left << std::setw(30) << c.name << std::setw(14) << std::fixed << std::setprecision(4) << wall
              << std::setw(14) << cpu << labels.max().item<int64_t>() + 1 << "\n";
  }
  return 0;
}
