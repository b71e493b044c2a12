// Ratio benchmark of the perturbation engine (never part of the test suite): for each
// perturbation method at its best batch size, (model evaluations per second inside the
// explainer) ÷ (plain batched forward passes per second of the same model at its best
// batch size, same precision). Target: ≥ 0.8. AblationCAM's passes start at the tap, so
// its "evaluations" are cheaper than full passes and its ratio may exceed 1.
// On CUDA it also prints seconds per image for the paper settings (ResNet-50, 224²).
// Usage: loupe_bench_perturbation [--device auto|cpu|cuda] [--precision float|bf16|fp16]
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "loupe/core/compat.h"
#include "loupe/core/device.h"
#include "loupe/explain/explainer.h"
#include "loupe/explain/perturbation.h"
#include "loupe/models/zoo.h"

namespace {

using Clock = std::chrono::steady_clock;

void sync(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

template <class F>
double seconds(F&& f, torch::Device device) {
  sync(device);
  const auto start = Clock::now();
  f();
  sync(device);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Case {
  std::string arch;
  int64_t size;
  std::vector<int64_t> batches;
};

// Plain forward passes per second of resident batches (best over the batch sizes).
double forward_rate(loupe::TappedModel& model, const Case& c, torch::Device device, loupe::Precision precision) {
  double best = 0;
  torch::NoGradGuard guard;
  loupe::compat::Autocast autocast(precision != loupe::Precision::kFloat, device.type(),
                                   precision == loupe::Precision::kHalf ? at::kHalf : at::kBFloat16);
  for (int64_t batch : c.batches) {
    const auto x = torch::rand({batch, 3, c.size, c.size}, torch::TensorOptions().device(device));
    model.forward(x);  // warm-up
    int64_t passes = 0;
    const double t = seconds(
        [&] {
          const auto start = Clock::now();
          for (; std::chrono::duration<double>(Clock::now() - start).count() < 1.0; ++passes) model.forward(x);
        },
        device);
    best = std::max(best, passes * batch / t);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto", precision_name = "float";
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--device"))
      device_name = argv[++i];
    else if (!std::strcmp(argv[i], "--precision"))
      precision_name = argv[++i];
  }
  loupe::init_threads();
  const auto device = loupe::resolve_device(device_name);
  const auto precision = precision_name == "bf16"   ? loupe::Precision::kBFloat16
                         : precision_name == "fp16" ? loupe::Precision::kHalf
                                                    : loupe::Precision::kFloat;
  torch::manual_seed(0);
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, precision " << precision_name
            << "\n\n";
  std::vector<Case> cases;
  if (device.is_cuda())
    cases = {{"resnet50", 224, {64, 128, 256}}};
  else
    cases = {{"small_cnn", 28, {32, 128}}, {"resnet18", 64, {16, 64}}};

  const std::vector<std::string> methods = {"occlusion", "rise",     "lime",       "kernelshap",
                                            "partition", "scorecam", "ablationcam"};
  std::cout << std::left << std::setw(12) << "model" << std::setw(7) << "size" << std::setw(13) << "method"
            << std::setw(7) << "batch" << std::setw(10) << "evals" << std::setw(14) << "explain ev/s" << std::setw(14)
            << "forward im/s"
            << "ratio\n";
  for (const auto& c : cases) {
    auto model = loupe::make_model({c.arch, 3, 10});
    model->to(device);
    model->eval();
    const double baseline = forward_rate(*model, c, device, precision);
    // A smooth random image (noise at 1/4 resolution, upsampled): quickshift finds one
    // segment in white noise at 28x28, which left KernelSHAP with 2 coalitions to evaluate.
    const auto x = torch::nn::functional::interpolate(torch::rand({1, 3, c.size / 4, c.size / 4}),
                                                      torch::nn::functional::InterpolateFuncOptions()
                                                          .size(std::vector<int64_t>{c.size, c.size})
                                                          .mode(torch::kBilinear)
                                                          .align_corners(false));
    for (const auto& method : methods) {
      double best = 0;
      int64_t best_batch = 0, evals = 0;
      for (int64_t batch : c.batches) {
        auto p = loupe::PerturbationOptions().set_batch_size(batch).set_precision(precision);
        const bool gpu = device.is_cuda();
        p.set_samples(gpu ? 1000 : 256).set_max_evals(gpu ? 5000 : 256).set_window(c.size / 7).set_stride(c.size / 14);
        // LIME / KernelSHAP superpixels: quickshift (the default), timed inside the explainer.
        auto explainer = loupe::make_explainer(method, loupe::ExplainOptions().set_perturbation(p));
        explainer->explain(*model, x, loupe::top1_logit());  // warm-up
        loupe::Attribution attr;
        const double t = seconds([&] { attr = explainer->explain(*model, x, loupe::top1_logit()); }, device);
        const double rate = attr.model_evaluations / t;
        if (rate > best) best = rate, best_batch = batch, evals = attr.model_evaluations;
        if (gpu) std::cout << "  " << method << " batch " << batch << ": " << t << " s per image\n";
      }
      std::cout << std::left << std::setw(12) << c.arch << std::setw(7) << c.size << std::setw(13) << method
                << std::setw(7) << best_batch << std::setw(10) << evals << std::setw(14) << std::fixed
                << std::setprecision(0) << best << std::setw(14) << baseline << std::setprecision(3) << best / baseline
                << "\n";
    }
  }
  return 0;
}
