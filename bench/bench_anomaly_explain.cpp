// Ratio benchmark of workflow 4's explanations (never part of the test suite): LIME (S1,
// about 100 quickshift superpixels as the study makes them, 5000 samples) and Partition
// SHAP (S3, 5000 evaluations) of the anomaly score of one defective built-in hazelnut,
// hidden pixels replaced by the image's reconstruction, through a VAE-GAN autoencoder.
// Prints seconds per image and (model evaluations per second inside the explainer) ÷
// (plain batched reconstructions per second), measured in one run; the workflow asks for a
// ratio >= 0.8 and for far less than the seed's 20 s per image on a laptop. Weights are
// random: speed does not depend on them. Usage: loupe_bench_anomaly_explain [--device
// auto|cpu|cuda] [--size 128] [--samples 5000]
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "loupe/core/device.h"
#include "loupe/data/anomaly_synth.h"
#include "loupe/explain/explainer.h"
#include "loupe/explain/segmentation.h"
#include "loupe/explain/target.h"
#include "loupe/models/vaegan.h"

int main(int argc, char** argv) {
  namespace bench = loupe::bench;
  const std::string device_name = bench::flag(argc, argv, "--device", "cpu");
  const int64_t size = bench::flag(argc, argv, "--size", int64_t{128});
  const int64_t samples = bench::flag(argc, argv, "--samples", int64_t{5000}), batch = 64;
  loupe::init_threads();
  const auto device = loupe::resolve_device(device_name);
  torch::manual_seed(0);
  loupe::VaeGan model(loupe::VaeGanSpec().set_size(size));
  model->to(device);
  model->eval();

  // One large crack on a hazelnut, rendered as `loupe data anomalies` writes it.
  const auto options = loupe::AnomalySynthOptions().set_size(size);
  const auto source = loupe::load_anomaly_source("hazelnut");
  loupe::AnomalySampleSpec spec;
  spec.split = loupe::AnomalySplit::test;
  spec.kind = "crack";
  spec.index = 1;
  spec.large = true;
  const auto x =
      loupe::render_anomaly_sample(source, spec, options).image.unsqueeze(0).to(torch::kFloat).div(255).to(device);
  torch::Tensor reconstruction;
  {
    torch::NoGradGuard no_grad;
    reconstruction = model->forward(x);
  }

  const auto plain = torch::rand({batch, 3, size, size}, torch::TensorOptions().device(device));
  const double forward = loupe::bench::seconds_per_call(
      [&] {
        torch::NoGradGuard no_grad;
        model->forward(plain);
      },
      device, 3);
  const double forward_rate = batch / forward;
  std::cout << "device " << device.str() << ", " << torch::get_num_threads() << " threads, VAE-GAN " << size << "x"
            << size << ", batch " << batch << ": " << std::fixed << std::setprecision(1) << forward_rate
            << " reconstructions/s\n\n"
            << std::left << std::setw(12) << "method" << std::setw(10) << "evals" << std::setw(10) << "features"
            << std::setw(12) << "s / image" << std::setw(12) << "evals/s"
            << "ratio to plain\n";

  // S1's superpixels, as the study makes them: about 100 quickshift segments.
  const auto segments = loupe::quickshift_near(
      x[0].cpu(), 100, loupe::QuickshiftOptions().set_tie_jitter(1e-5).set_seed(0));
  for (const std::string method : {"lime", "partition"}) {
    auto p = loupe::PerturbationOptions()
                 .set_batch_size(batch)
                 .set_samples(samples)
                 .set_max_evals(samples)
                 .set_masker(loupe::Masker::kReplacement)
                 .set_replacement(reconstruction);
    if (method == "lime") p.set_segments(segments);
    auto explainer = loupe::make_explainer(method, loupe::ExplainOptions().set_perturbation(p));
    loupe::Attribution attr;
    const double t = loupe::bench::seconds_per_call(
        [&] { attr = explainer->explain(*model, x, loupe::anomaly_score()); }, device, 1);
    const double rate = attr.model_evaluations / t;
    std::cout << std::left << std::setw(12) << method << std::setw(10) << attr.model_evaluations << std::setw(10)
              << (attr.weights.defined() ? attr.weights.size(-1) : 0) << std::setw(12) << std::setprecision(2) << t
              << std::setw(12) << std::setprecision(1) << rate << std::setprecision(3) << rate / forward_rate << "\n";
  }
  return 0;
}
