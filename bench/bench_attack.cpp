// Ratio benchmark of the attacks (never part of the test suite): targeted iterative FGSM
// and PGD steps per second on a batch of images × targets, ÷ the plain forward+backward
// (gradient with respect to the input) images per second of the same model at the same
// batch size, measured in one run. Every row takes every step (goal 1.0: no early stop).
// The workflow asks for a ratio >= 0.8. Weights are random: speed does not depend on them.
// Usage: loupe_bench_attack [--device auto|cpu|cuda] [--model small_cnn] [--batch 256] [--steps 10]
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "loupe/attack/attack.h"
#include "loupe/core/device.h"
#include "loupe/models/zoo.h"

int main(int argc, char** argv) {
  namespace bench = loupe::bench;
  const auto device = loupe::resolve_device(bench::flag(argc, argv, "--device", "cpu"));
  const std::string arch = bench::flag(argc, argv, "--model", "small_cnn");
  const int64_t batch = bench::flag(argc, argv, "--batch", int64_t{256});
  const int64_t steps = bench::flag(argc, argv, "--steps", int64_t{10});
  loupe::init_threads();
  torch::manual_seed(0);
  auto model = loupe::make_model({arch, 3, 10});
  model->to(device);
  model->eval();
  const auto images = torch::rand({batch, 3, 28, 28}).to(device);
  const auto targets = torch::randint(10, {batch}, torch::kLong).to(device);

  const double fb_rate = bench::input_gradient_rate(*model, images, targets, device);
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, " << arch
            << " 3x28x28, batch " << batch << ": " << std::fixed << std::setprecision(1) << fb_rate
            << " forward+backward images/s\n\n"
            << std::left << std::setw(10) << "attack" << std::setw(14) << "row-steps/s"
            << "ratio to forward+backward\n";
  for (const auto method : {loupe::AttackMethod::kIfgsm, loupe::AttackMethod::kPgd}) {
    const auto o = loupe::AttackOptions().set_method(method).set_steps(steps).set_goal(1.0).set_batch_size(batch);
    const double t = bench::seconds_per_call([&] { loupe::attack(*model, images, targets, true, o); }, device, 3);
    const double rate = static_cast<double>(batch * steps) / t;
    std::cout << std::left << std::setw(10) << loupe::attack_method_names()[static_cast<size_t>(method)]
              << std::setw(14) << std::setprecision(1) << rate << std::setprecision(3) << rate / fb_rate << "\n";
  }
  return 0;
}
