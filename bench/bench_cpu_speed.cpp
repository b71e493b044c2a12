// CPU speed of the perturbation explainers at 224×224 (issue: "twice the CPU speed"), as
// ratios measured in one run: for ResNet-18 and ResNet-50 (random weights, seed 0), the
// plain forward throughput in fp32, bf16 autocast and int8, then each method's seconds per
// image in fp32 and in bf16, each as a multiple of one fp32 plain forward of the same
// number of images ("forward-equivalents"), the bf16 speed-up, and the fidelity cost:
// Spearman's rank correlation of the bf16 map with the fp32 map; the same for int8
// (post-training quantisation, models/quantized.h). Occlusion runs
// incrementally (models/incremental.h); two more tables compare it with full forwards:
// IncrementalForward alone on a batch of boxes against its full-layer threshold, and
// occlusion per window size, full vs incremental in fp32 and bf16, with the maps' agreement.
// Usage: loupe_bench_cpu_speed [--models resnet18,resnet50] [--image PATH] [--batch 32]
//        [--methods lime,kernelshap,partition,scorecam,occlusion] [--windows 8:4,16:8,32:16]
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "bench_timing.h"
#include "loupe/core/compat.h"
#include "loupe/core/device.h"
#include "loupe/core/image.h"
#include "loupe/explain/explainer.h"
#include "loupe/models/incremental.h"
#include "loupe/models/quantized.h"
#include "loupe/models/zoo.h"

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

// Plain forward images per second of one resident batch, for at least two seconds.
double forward_rate(loupe::TappedModel& model, int64_t batch, bool bf16) {
  torch::NoGradGuard no_grad;
  loupe::compat::Autocast autocast(bf16, c10::DeviceType::CPU, at::kBFloat16);
  const auto x = torch::rand({batch, 3, 224, 224});
  model.forward(x);
  const auto start = std::chrono::steady_clock::now();
  int64_t images = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 2.0) {
    model.forward(x);
    images += batch;
  }
  return images / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Ranks with ties given their average rank (maps are constant over segments and windows).
torch::Tensor ranks(const torch::Tensor& v) {
  const auto flat = v.flatten().to(torch::kDouble);
  const auto [sorted, order] = flat.sort();
  const auto [unique, inverse, counts] = torch::unique_consecutive(sorted, true, true);
  const auto ends = counts.cumsum(0).to(torch::kDouble);
  const auto average = ends - (counts.to(torch::kDouble) - 1) / 2.0;  // 1-based mean position of each group
  return torch::empty_like(flat).index_put_({order}, average.index_select(0, inverse));
}

double spearman(const torch::Tensor& a, const torch::Tensor& b) {
  const auto ra = ranks(a), rb = ranks(b);
  const auto ca = ra - ra.mean(), cb = rb - rb.mean();
  return ((ca * cb).sum() / (ca.norm() * cb.norm())).item<double>();
}

loupe::ExplainOptions options_for(const std::string& method, int64_t batch, loupe::Precision precision) {
  auto p = loupe::PerturbationOptions().set_batch_size(batch).set_precision(precision).set_seed(0);
  if (method == "lime" || method == "kernelshap") p.set_samples(1000);
  if (method == "partition") p.set_max_evals(500);
  if (method == "occlusion") p.set_window(32).set_stride(16);
  return loupe::ExplainOptions().set_perturbation(p);
}

// IncrementalForward on `batch` images, each occluded (zeros) in a window×window box at a
// seeded random place, per full-layer threshold: seconds ÷ the full forward's seconds and
// the convolutions' work fraction.
void threshold_table(loupe::TappedModel& model, const torch::Tensor& image, int64_t batch, int64_t window) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  const auto y = torch::randint(224 - window + 1, {batch}, torch::kLong),
             x = torch::randint(224 - window + 1, {batch}, torch::kLong);
  const auto boxes = torch::stack({y, x, y + window, x + window}, 1);
  auto inputs = image.repeat({batch, 1, 1, 1});
  for (int64_t i = 0; i < batch; ++i)
    inputs[i].narrow(1, y[i].item<int64_t>(), window).narrow(2, x[i].item<int64_t>(), window).zero_();
  const double full = loupe::bench::seconds_per_call([&] { model.forward(inputs); }, torch::kCPU, 3);
  std::cout << "IncrementalForward, " << batch << " boxes of " << window << "x" << window
            << ": threshold (a layer whose region covers this fraction of its map runs whole), time / full "
               "forward, work fraction\n";
  for (const double threshold : {0.25, 0.5, 0.75, 1.0}) {
    loupe::IncrementalForward inc(model, threshold);
    inc.set_base(image[0]);
    const double t = loupe::bench::seconds_per_call([&] { inc.forward(inputs, boxes); }, torch::kCPU, 3);
    std::cout << "  " << std::setprecision(2) << threshold << "  " << t / full << "  " << inc.last_cost_fraction()
              << "\n";
  }
}

// Occlusion per window:stride, full forwards vs incremental, fp32 and bf16.
void occlusion_table(loupe::TappedModel& model, const torch::Tensor& image, int64_t batch,
                     const std::vector<std::string>& windows, double forward_rate) {
  std::cout << "occlusion: full vs incremental; fw-eq as above; agreement = max |map difference| / max |map|\n";
  std::cout << std::left << std::setw(10) << "window" << std::setw(8) << "evals" << std::setw(8) << "dtype"
            << std::setw(10) << "full s" << std::setw(10) << "incr s" << std::setw(12) << "full fw-eq" << std::setw(12)
            << "incr fw-eq" << std::setw(10) << "speed-up"
            << "agreement\n";
  for (const auto& spec : windows) {
    const auto colon = spec.find(':');
    const int64_t window = std::stoll(spec.substr(0, colon)), stride = std::stoll(spec.substr(colon + 1));
    for (const auto precision : {loupe::Precision::kFloat, loupe::Precision::kBFloat16}) {
      auto p =
          loupe::PerturbationOptions().set_batch_size(batch).set_precision(precision).set_window(window).set_stride(
              stride);
      loupe::Attribution full, incr;
      const auto run = [&](bool incremental, loupe::Attribution& out) {
        return loupe::bench::seconds_per_call(
            [&] {
              out = loupe::make_explainer("occlusion", loupe::ExplainOptions().set_perturbation(
                                                           loupe::PerturbationOptions(p).set_incremental(incremental)))
                        ->explain(model, image, loupe::top1_logit());
            },
            torch::kCPU, 1);
      };
      const double t_full = run(false, full), t_incr = run(true, incr);
      const double forward_seconds = static_cast<double>(full.model_evaluations) / forward_rate;
      std::cout << std::left << std::setw(10) << spec << std::setw(8) << full.model_evaluations << std::setw(8)
                << (precision == loupe::Precision::kFloat ? "fp32" : "bf16") << std::setprecision(2) << std::setw(10)
                << t_full << std::setw(10) << t_incr << std::setw(12) << t_full / forward_seconds << std::setw(12)
                << t_incr / forward_seconds << std::setw(10) << t_full / t_incr << std::setprecision(2)
                << std::scientific
                << ((incr.maps - full.maps).abs().max() / full.maps.abs().max().clamp_min(1e-30)).item<double>()
                << std::fixed << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using loupe::bench::flag;
  loupe::init_threads();
  const auto models = split(flag(argc, argv, "--models", std::string("resnet18,resnet50")));
  const auto methods =
      split(flag(argc, argv, "--methods", std::string("lime,kernelshap,partition,scorecam,occlusion")));
  const int64_t batch = flag(argc, argv, "--batch", int64_t{32});
  const auto windows = split(flag(argc, argv, "--windows", std::string("8:4,16:8,32:16")));
  const std::string image_path = flag(argc, argv, "--image", std::string());
  torch::manual_seed(0);
  const auto image =
      image_path.empty()
          ? torch::nn::functional::interpolate(torch::rand({1, 3, 28, 28}),
                                               torch::nn::functional::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{224, 224})
                                                   .mode(torch::kBilinear)
                                                   .align_corners(false))
          : loupe::load_image(image_path, loupe::ImageLoadOptions().set_channels(3).set_size(224)).unsqueeze(0);
  std::cout << "CPU, " << torch::get_num_threads() << " threads, batch " << batch << ", 224x224, "
            << (image_path.empty() ? "a smooth random image" : image_path) << "\n";
  for (const auto& arch : models) {
    torch::manual_seed(0);
    auto model = loupe::make_model({arch, 3, 1000});
    model->eval();
    const double fp32 = forward_rate(*model, batch, false), bf16 = forward_rate(*model, batch, true);
    loupe::set_channels_last(*model);
    const double fp32_cl = forward_rate(*model, batch, false), bf16_cl = forward_rate(*model, batch, true);
    std::cout << "\n"
              << arch << ": plain forward images/s: fp32 " << std::fixed << std::setprecision(1) << fp32 << ", bf16 "
              << bf16 << " (x" << std::setprecision(2) << bf16 / fp32 << "), channels-last fp32 "
              << std::setprecision(1) << fp32_cl << " (x" << std::setprecision(2) << fp32_cl / fp32
              << "), channels-last bf16 " << std::setprecision(1) << bf16_cl << " (x" << std::setprecision(2)
              << bf16_cl / fp32 << ")\n";
    double int8 = 0;
    {
      torch::NoGradGuard no_grad;
      const auto x = torch::rand({batch, 3, 224, 224});
      loupe::QuantizedForward q(*model, x);
      int8 = static_cast<double>(batch) / loupe::bench::seconds_per_call([&] { q.forward(x); }, torch::kCPU, 5);
    }
    std::cout << "int8 (" << loupe::QuantizedForward::engine() << ") " << std::setprecision(1) << int8 << " (x"
              << std::setprecision(2) << int8 / fp32 << ")\n";
    std::cout << "methods: channels-last; fw-eq = seconds / (evaluations / contiguous fp32 forward rate); "
                 "rho = Spearman of the map against fp32's; ScoreCAM has no int8 (it perturbs channels)\n";
    std::cout << std::left << std::setw(12) << "method" << std::setw(8) << "evals" << std::setw(8) << "fp32 s"
              << std::setw(8) << "bf16 s" << std::setw(8) << "int8 s" << std::setw(11) << "fp32 fw-eq" << std::setw(11)
              << "bf16 fw-eq" << std::setw(11) << "int8 fw-eq" << std::setw(9) << "bf16 rho"
              << "int8 rho\n";
    for (const auto& method : methods) {
      const auto run = [&](loupe::Precision precision, loupe::Attribution& out) {
        return loupe::bench::seconds_per_call(
            [&] {
              out = loupe::make_explainer(method, options_for(method, batch, precision))
                        ->explain(*model, image, loupe::top1_logit());
            },
            torch::kCPU, 1);
      };
      loupe::Attribution a, b, c;
      const double t32 = run(loupe::Precision::kFloat, a), t16 = run(loupe::Precision::kBFloat16, b);
      const bool has_int8 = method != "scorecam";
      const double t8 = has_int8 ? run(loupe::Precision::kInt8, c) : 0;
      // One fp32 forward per evaluation would take evals / fp32 seconds.
      const double forward_seconds = static_cast<double>(a.model_evaluations) / fp32;
      const auto cell = [&](double v, int width, int digits) {
        std::ostringstream text;
        if (has_int8)
          text << std::fixed << std::setprecision(digits) << v;
        else
          text << "-";
        std::cout << std::setw(width) << text.str();
      };
      std::cout << std::left << std::setw(12) << method << std::setw(8) << a.model_evaluations << std::fixed
                << std::setprecision(2) << std::setw(8) << t32 << std::setw(8) << t16;
      cell(t8, 8, 2);
      std::cout << std::setw(11) << t32 / forward_seconds << std::setw(11) << t16 / forward_seconds;
      cell(t8 / forward_seconds, 11, 2);
      std::cout << std::setw(9) << std::setprecision(4) << spearman(a.maps, b.maps);
      cell(has_int8 ? spearman(a.maps, c.maps) : 0, 9, 4);
      std::cout << "\n";
    }
    threshold_table(*model, image, batch, 8);
    occlusion_table(*model, image, batch, windows, fp32);
  }
  return 0;
}
