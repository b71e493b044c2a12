// What every study shares: numbers as report text, tensors as plain values for
// metrics.json, and batched passes without gradients (class predictions, VAE codes).
// One implementation each, so that every report formats and batches the same way.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "loupe/data/dataset.h"
#include "loupe/models/taps.h"
#include "loupe/models/vae.h"
#include "loupe/report/report.h"

namespace loupe::study {

// Report text: fixed(0.12345, 3) = "0.123"; signed_fixed(0.5, 2) = "+0.50";
// percent(0.957) = "95.7%".
std::string fixed(double value, int decimals);
std::string signed_fixed(double value, int decimals);
std::string percent(double fraction, int decimals = 1);

// Tensors as plain values (any dtype, any device): flattened, or rows of a matrix.
std::vector<double> to_doubles(const torch::Tensor& t);
std::vector<int64_t> to_int64s(const torch::Tensor& t);
report::json matrix_json(const torch::Tensor& matrix);  // [R,C] -> [[...], ...]

// The arg-max class of float images [N,C,H,W], in batches, in eval mode without
// gradients (the model's mode is restored); int64 [N] on the CPU.
torch::Tensor predict_classes(TappedModel& model, const torch::Tensor& images, torch::Device device,
                              int64_t batch_size = 256);

// A VAE's encoder means and log variances [N,L] and, when asked, its deterministic
// reconstructions sigmoid(decode(mu)) [N,C,H,W]; all on the CPU.
struct LatentCodes {
  torch::Tensor mu, logvar, recon;
};
LatentCodes encode_images(VaeImpl& vae, const torch::Tensor& images, torch::Device device, bool reconstruct = false,
                          int64_t batch_size = 256);
LatentCodes encode_dataset(VaeImpl& vae, const Dataset& data, torch::Device device, bool reconstruct = false,
                           int64_t batch_size = 256);

}  // namespace loupe::study
