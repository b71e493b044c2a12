// Ratio benchmarks for the disentanglement workflow (never part of the test suite):
//   VAE training steps/s at batch 64 on 64x64 RGB per objective, with beta-TCVAE's cost
//   relative to the plain VAE step measured in the same run, and
//   MIG / DCI / SAP time on 10,000 samples x 12 latents x 6 factors (Shapes3D sizes).
// Usage: loupe_bench_vae [--device auto|cpu|cuda] [--steps N]
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "loupe/core/device.h"
#include "loupe/metrics/disentanglement.h"
#include "loupe/models/vae.h"
#include "loupe/train/vae_objectives.h"

namespace {

using Clock = std::chrono::steady_clock;

// Mean seconds of `steps` calls after one warm-up call.
template <class F>
double timed(F&& f, torch::Device device, int steps) {
  f();
  if (device.is_cuda()) torch::cuda::synchronize();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) f();
  if (device.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double>(Clock::now() - start).count() / steps;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "cpu";
  int steps = 10;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--device"))
      device_name = argv[++i];
    else if (!std::strcmp(argv[i], "--steps"))
      steps = std::atoi(argv[++i]);
  }
  loupe::init_threads();
  const auto device = loupe::resolve_device(device_name);
  torch::manual_seed(0);
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, " << steps
            << " steps per objective\n\n";

  const auto x = torch::rand({64, 3, 64, 64}, torch::TensorOptions().device(device));
  std::cout << std::left << std::setw(14) << "objective" << std::setw(12) << "steps/s" << std::setw(12) << "img/s"
            << "step / vae step\n";
  double vae_step = 0;
  for (auto kind : {loupe::VaeObjectiveKind::kVae, loupe::VaeObjectiveKind::kBetaVae,
                    loupe::VaeObjectiveKind::kBetaTcVae, loupe::VaeObjectiveKind::kCapacity}) {
    loupe::Vae vae(loupe::VaeSpec().set_channels(3).set_latents(12));
    vae->to(device);
    torch::optim::Adam opt(vae->parameters(), torch::optim::AdamOptions(5e-4));
    const auto objective = loupe::VaeObjectiveOptions().set_kind(kind).set_dataset_size(480000);
    int64_t step = 0;
    const double s = timed(
        [&] {
          opt.zero_grad();
          loupe::vae_loss(vae->forward(x), x, objective, step++).total.backward();
          opt.step();
        },
        device, steps);
    if (kind == loupe::VaeObjectiveKind::kVae) vae_step = s;
    std::cout << std::left << std::setw(14) << loupe::objective_name(kind) << std::setw(12) << std::fixed
              << std::setprecision(2) << 1 / s << std::setw(12) << std::setprecision(0) << 64 / s
              << std::setprecision(3) << s / vae_step << "\n";
  }

  // Metrics on the CPU: 10,000 codes, 12 latents, Shapes3D's six factors.
  const auto latents = torch::randn({10000, 12});
  const std::vector<int64_t> cardinalities = {10, 10, 10, 8, 4, 15};
  std::vector<torch::Tensor> columns;
  for (auto c : cardinalities) columns.push_back(torch::randint(0, c, {10000}, torch::kLong));
  const auto factors = torch::stack(columns, 1);
  const auto cpu = torch::Device(torch::kCPU);
  std::cout << "\nmetric (10000 x 12 latents x 6 factors)  ms\n" << std::setprecision(1);
  std::cout << "MIG (20 bins)                            "
            << 1e3 * timed([&] { loupe::mutual_information_gap(latents, factors); }, cpu, 5) << "\n";
  std::cout << "DCI (ridge importances)                  " << 1e3 * timed([&] { loupe::dci(latents, factors); }, cpu, 5)
            << "\n";
  std::cout << "SAP                                      "
            << 1e3 * timed([&] { loupe::sap_score(latents, factors); }, cpu, 5) << "\n";
  return 0;
}
