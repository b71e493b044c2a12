// Ratio benchmark of feature visualisation (never part of the test suite): images
// optimised per second (units × steps ÷ time) when every unit of a layer is optimised in
// one batch, ÷ the plain forward+backward (gradient with respect to the input) images per
// second of the whole model at the same batch size, measured in one run. The workflow asks
// for a ratio >= 0.8; the optimisation runs the model only up to the tap.
// Usage: loupe_bench_feature_vis [--device auto|cpu|cuda] [--model small_cnn] [--tap conv3] [--steps 20]
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "loupe/core/device.h"
#include "loupe/models/zoo.h"
#include "loupe/probe/feature_vis.h"
#include "loupe/probe/units.h"

int main(int argc, char** argv) {
  namespace bench = loupe::bench;
  const auto device = loupe::resolve_device(bench::flag(argc, argv, "--device", "cpu"));
  const std::string arch = bench::flag(argc, argv, "--model", "small_cnn");
  const std::string tap = bench::flag(argc, argv, "--tap", "conv3");
  const int64_t steps = bench::flag(argc, argv, "--steps", int64_t{20});
  loupe::init_threads();
  torch::manual_seed(0);
  auto model = loupe::make_model({arch, 3, 10});
  model->to(device);
  model->eval();
  const int64_t units = loupe::unit_count(*model, tap, {3, 28, 28});
  const auto images = torch::rand({units, 3, 28, 28}).to(device);
  const auto targets = torch::randint(10, {units}, torch::kLong).to(device);
  const double fb_rate = bench::input_gradient_rate(*model, images, targets, device);
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, " << arch << " 3x28x28, tap "
            << tap << " (" << units << " units = batch): " << std::fixed << std::setprecision(1) << fb_rate
            << " forward+backward images/s\n\n"
            << std::left << std::setw(10) << "method" << std::setw(14) << "images/s"
            << "ratio to forward+backward\n";
  for (const auto method : {loupe::FeatureVisMethod::kPixel, loupe::FeatureVisMethod::kFourier}) {
    const auto o = loupe::FeatureVisOptions().set_method(method).set_steps(steps).set_size(3, 28, 28);
    const double t = bench::seconds_per_call([&] { loupe::visualize_units(*model, tap, {}, o); }, device, 2);
    const double rate = static_cast<double>(units * steps) / t;
    std::cout << std::left << std::setw(10) << loupe::feature_vis_method_names()[static_cast<size_t>(method)]
              << std::setw(14) << std::setprecision(1) << rate << std::setprecision(3) << rate / fb_rate << "\n";
  }
  return 0;
}
