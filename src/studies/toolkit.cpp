#include "loupe/studies/toolkit.h"

#include <torch/torch.h>

#include <functional>
#include <iomanip>
#include <sstream>

#include "loupe/core/error.h"

namespace loupe::study {
namespace {

// Runs `pass` on batches [begin, end) of n rows, in eval mode without gradients.
void in_eval_batches(torch::nn::Module& model, int64_t n, int64_t batch_size,
                     const std::function<void(int64_t begin, int64_t end)>& pass) {
  LOUPE_CHECK(batch_size >= 1, "batch size ", batch_size, ": expected at least 1");
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  for (int64_t begin = 0; begin < n; begin += batch_size) pass(begin, std::min(n, begin + batch_size));
  model.train(was_training);
}

LatentCodes encode_batches(VaeImpl& vae, int64_t n, const std::function<torch::Tensor(int64_t, int64_t)>& images,
                           torch::Device device, bool reconstruct, int64_t batch_size) {
  LOUPE_CHECK(n > 0, "encoding: no images; expected at least one");
  std::vector<torch::Tensor> mus, logvars, recons;
  in_eval_batches(vae, n, batch_size, [&](int64_t begin, int64_t end) {
    const auto [mu, logvar] = vae.encode(images(begin, end).to(device));
    mus.push_back(mu.cpu());
    logvars.push_back(logvar.cpu());
    if (reconstruct) recons.push_back(torch::sigmoid(vae.decode(mu)).cpu());
  });
  LatentCodes codes{torch::cat(mus), torch::cat(logvars), {}};
  if (reconstruct) codes.recon = torch::cat(recons);
  return codes;
}

}  // namespace

std::string fixed(double value, int decimals) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(decimals) << value;
  return os.str();
}

std::string signed_fixed(double value, int decimals) { return (value >= 0 ? "+" : "") + fixed(value, decimals); }

std::string percent(double fraction, int decimals) { return fixed(100.0 * fraction, decimals) + "%"; }

std::vector<double> to_doubles(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<int64_t> to_int64s(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

report::json matrix_json(const torch::Tensor& matrix) {
  LOUPE_CHECK(matrix.dim() == 2, "matrix_json: expected a [R,C] tensor, got ", matrix.sizes());
  report::json rows = report::json::array();
  for (int64_t r = 0; r < matrix.size(0); ++r) {
    if (matrix.is_floating_point())
      rows.push_back(to_doubles(matrix[r]));
    else
      rows.push_back(to_int64s(matrix[r]));
  }
  return rows;
}

torch::Tensor predict_classes(TappedModel& model, const torch::Tensor& images, torch::Device device,
                              int64_t batch_size) {
  std::vector<torch::Tensor> out;
  in_eval_batches(model, images.size(0), batch_size, [&](int64_t begin, int64_t end) {
    out.push_back(model.forward(images.slice(0, begin, end).to(device)).argmax(1).cpu());
  });
  LOUPE_CHECK(!out.empty(), "predict: no images; expected at least one");
  return torch::cat(out);
}

LatentCodes encode_images(VaeImpl& vae, const torch::Tensor& images, torch::Device device, bool reconstruct,
                          int64_t batch_size) {
  return encode_batches(
      vae, images.size(0), [&](int64_t b, int64_t e) { return images.slice(0, b, e); }, device, reconstruct,
      batch_size);
}

LatentCodes encode_dataset(VaeImpl& vae, const Dataset& data, torch::Device device, bool reconstruct,
                           int64_t batch_size) {
  return encode_batches(
      vae, data.size(),
      [&](int64_t b, int64_t e) { return data.get(torch::arange(b, e, torch::kLong)).images; }, device, reconstruct,
      batch_size);
}

}  // namespace loupe::study
