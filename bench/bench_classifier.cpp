// Ratio benchmarks (never part of the test suite). Machines are noisy, so every
// figure is reported beside a baseline measured in the same run:
//   training throughput (images/s) per architecture, and
//   Grad-CAM time ÷ time of one plain forward+backward pass of the same batch.
// Usage: loupe_bench_classifier [--device auto|cpu|cuda] [--repeats N]
#include <cstring>
#include <iomanip>
#include <iostream>

#include <torch/torch.h>

#include "bench_timing.h"
#include "loupe/core/device.h"
#include "loupe/explain/gradcam.h"
#include "loupe/models/zoo.h"

namespace {

using loupe::bench::seconds_per_call;

struct Case {
  std::string arch;
  int64_t size, batch;
};

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto";
  int repeats = 5;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--device")) device_name = argv[++i];
    else if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[++i]);
  }
  loupe::init_threads();
  const auto device = loupe::resolve_device(device_name);
  torch::manual_seed(0);
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, " << repeats
            << " repeats\n\n";
  std::vector<Case> cases = {{"small_cnn", 28, 128}, {"resnet18_small", 28, 128}};
  if (device.is_cuda()) {
    cases.push_back({"resnet18", 224, 64});
    cases.push_back({"resnet50", 224, 64});
  } else {
    cases.push_back({"resnet50", 224, 8});
  }
  std::cout << std::left << std::setw(16) << "model" << std::setw(7) << "size" << std::setw(7) << "batch"
            << std::setw(16) << "train img/s" << std::setw(16) << "fwd+bwd ms" << std::setw(16) << "gradcam ms"
            << "gradcam / (fwd+bwd)\n";
  for (const auto& c : cases) {
    auto model = loupe::make_model({c.arch, 3, 10});
    model->to(device);
    const auto x = torch::rand({c.batch, 3, c.size, c.size}, torch::TensorOptions().device(device));
    const auto y = torch::randint(0, 10, {c.batch}, torch::TensorOptions().device(device).dtype(torch::kLong));
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
    model->train();
    const double step = seconds_per_call(
        [&] {
          opt.zero_grad();
          torch::nn::functional::cross_entropy(model->forward(x), y).backward();
          opt.step();
        },
        device, repeats);
    model->eval();
    const double fwd_bwd = seconds_per_call(
        [&] {
          auto xr = x.detach().requires_grad_(false);
          model->zero_grad();
          std::get<0>(model->forward(xr).max(1)).sum().backward();
        },
        device, repeats);
    loupe::GradCam cam{loupe::ExplainOptions().set_batch_size(c.batch)};
    const double gradcam = seconds_per_call([&] { cam.explain(*model, x, loupe::top1_logit()); }, device, repeats);
    std::cout << std::left << std::setw(16) << c.arch << std::setw(7) << c.size << std::setw(7) << c.batch
              << std::setw(16) << std::fixed << std::setprecision(1) << c.batch / step << std::setw(16)
              << std::setprecision(2) << 1e3 * fwd_bwd << std::setw(16) << 1e3 * gradcam << std::setprecision(3)
              << gradcam / fwd_bwd << "\n";
  }
  return 0;
}
