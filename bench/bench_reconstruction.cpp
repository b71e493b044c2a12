// Ratio benchmark for workflow 4's reconstruction models (never part of the test suite):
// one training step (autoencoder, plus the discriminator for the VAE-GAN) per kind and
// image side, as images/s and as a multiple of the plain eval-mode reconstruction of the
// same batch, measured in one run. It sizes the presets: the quick preset's steps
// times the step time is its training time.
// Usage: loupe_bench_reconstruction [--device auto|cpu|cuda] [--repeats N] [--batch B]
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "loupe/core/device.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/vaegan.h"
#include "loupe/train/trainer.h"
#include "loupe/train/vaegan_objective.h"

int main(int argc, char** argv) {
  namespace bench = loupe::bench;
  const std::string device_name = bench::flag(argc, argv, "--device", "cpu");
  const int repeats = static_cast<int>(bench::flag(argc, argv, "--repeats", int64_t{5}));
  const int64_t batch = bench::flag(argc, argv, "--batch", int64_t{16});
  loupe::init_threads();
  const auto device = loupe::resolve_device(device_name);
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, batch " << batch << ", "
            << repeats << " repeats\n\n"
            << std::left << std::setw(8) << "kind" << std::setw(6) << "side" << std::setw(14) << "train img/s"
            << std::setw(14) << "recon img/s"
            << "train step / reconstruction\n";
  for (const int64_t side : {64, 128}) {
    for (auto kind :
         {loupe::ReconstructionKind::kVaeGan, loupe::ReconstructionKind::kVae, loupe::ReconstructionKind::kAe}) {
      torch::manual_seed(0);
      const auto spec = loupe::VaeGanSpec().set_kind(kind).set_size(side);
      loupe::VaeGan model(spec);
      loupe::VaeGanDiscriminator disc(spec);
      model->to(device);
      disc->to(device);
      const auto x = torch::rand({batch, 3, side, side}, torch::TensorOptions().device(device));
      auto ae_opt = loupe::make_optimizer(model->parameters(), loupe::OptimizerOptions());
      auto d_opt = loupe::make_optimizer(disc->parameters(), loupe::OptimizerOptions());
      loupe::Optimizers optimizers;
      optimizers.add(loupe::kAutoencoderModule, ae_opt.get());
      optimizers.add(loupe::kDiscriminatorModule, d_opt.get());
      const bool gan = kind == loupe::ReconstructionKind::kVaeGan;
      loupe::VaeGanObjective objective(*model, gan ? disc.get() : nullptr);
      const loupe::Batch b{x, torch::zeros({batch}, torch::TensorOptions().dtype(torch::kLong).device(device))};
      model->train();
      disc->train();
      const double train = loupe::bench::seconds_per_call(
          [&] {
            loupe::StepLog log;
            objective.step(b, loupe::TrainContext{device}, optimizers, log);
          },
          device, repeats);
      model->eval();
      const double recon = loupe::bench::seconds_per_call(
          [&] {
            torch::NoGradGuard no_grad;
            model->forward(x);
          },
          device, repeats);
      std::cout << std::left << std::setw(8) << loupe::reconstruction_kind_name(kind) << std::setw(6) << side
                << std::setw(14) << std::fixed << std::setprecision(1) << batch / train << std::setw(14)
                << batch / recon << std::setprecision(2) << train / recon << "\n";
    }
  }
  return 0;
}
