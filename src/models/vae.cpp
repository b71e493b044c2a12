#include "loupe/models/vae.h"

#include <torch/torch.h>

#include <sstream>

#include "loupe/core/error.h"

namespace loupe {

namespace nn = torch::nn;

namespace {

constexpr int64_t kVaeSide = 64;  // image side the dense layers are sized for

void check_spec(const VaeSpec& spec) {
  LOUPE_CHECK(spec.channels == 1 || spec.channels == 3, "VAE channels ", spec.channels, ": expected 1 or 3");
  LOUPE_CHECK(spec.latents >= 1, "VAE latents ", spec.latents, ": expected at least 1");
}

void check_images(const torch::Tensor& x, int64_t channels) {
  LOUPE_CHECK(x.defined() && x.dim() == 4 && x.size(1) == channels && x.size(2) == kVaeSide && x.size(3) == kVaeSide,
              "VAE input images: expected [N,", channels, ",64,64], got ",
              x.defined() ? x.sizes() : torch::IntArrayRef{});
}

}  // namespace

std::string likelihood_name(Likelihood likelihood) {
  return likelihood == Likelihood::kBernoulli ? "bernoulli" : "gaussian";
}

Likelihood parse_likelihood(const std::string& name) {
  if (name == "bernoulli") return Likelihood::kBernoulli;
  if (name == "gaussian") return Likelihood::kGaussian;
  fail("likelihood '", name, "' is unknown; expected bernoulli or gaussian");
}

std::string describe(const VaeSpec& spec) {
  std::ostringstream os;
  os << "vae_conv64 (" << spec.channels << (spec.channels == 1 ? " channel, " : " channels, ") << spec.latents
     << " latents, " << likelihood_name(spec.likelihood) << ")";
  return os.str();
}

bool operator==(const VaeSpec& a, const VaeSpec& b) {
  return a.channels == b.channels && a.latents == b.latents && a.likelihood == b.likelihood;
}

VaeEncoderImpl::VaeEncoderImpl(int64_t channels, int64_t latents) : channels_(channels) {
  check_spec(VaeSpec().set_channels(channels).set_latents(latents));
  // 4x4 stride 2 with padding 1 halves the side exactly: 64 -> 32 -> 16 -> 8 -> 4.
  auto conv = [](int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1)); };
  conv1 = register_module("conv1", conv(channels, 32));
  conv2 = register_module("conv2", conv(32, 32));
  conv3 = register_module("conv3", conv(32, 64));
  conv4 = register_module("conv4", conv(64, 64));
  fc = register_module("fc", nn::Linear(64 * 4 * 4, 256));
  mu = register_module("mu", nn::Linear(256, latents));
  logvar = register_module("logvar", nn::Linear(256, latents));

  add_stage("conv1", [this](const torch::Tensor& x) {
    check_images(x, channels_);
    return torch::relu(conv1(x));
  });
  add_stage("conv2", [this](const torch::Tensor& x) { return torch::relu(conv2(x)); });
  add_stage("conv3", [this](const torch::Tensor& x) { return torch::relu(conv3(x)); });
  add_stage("conv4", [this](const torch::Tensor& x) { return torch::relu(conv4(x)); });
  add_stage("fc", [this](const torch::Tensor& x) { return torch::relu(fc(x.flatten(1))); });
  add_stage("mu", [this](const torch::Tensor& x) { return mu(x); });
}

std::pair<torch::Tensor, torch::Tensor> VaeEncoderImpl::encode(const torch::Tensor& x) {
  // log var shares every layer up to "fc" with mu, so one pass records "fc" and adds
  // the second head.
  Taps taps;
  taps.record("fc");
  torch::Tensor means = forward(x, &taps);
  return {means, logvar(taps.recorded("fc"))};
}

VaeDecoderImpl::VaeDecoderImpl(int64_t channels, int64_t latents) : latents_(latents) {
  check_spec(VaeSpec().set_channels(channels).set_latents(latents));
  auto deconv = [](int64_t in, int64_t out) {
    return nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1));
  };
  fc1 = register_module("fc1", nn::Linear(latents, 256));
  fc2 = register_module("fc2", nn::Linear(256, 64 * 4 * 4));
  deconv1 = register_module("deconv1", deconv(64, 64));
  deconv2 = register_module("deconv2", deconv(64, 32));
  deconv3 = register_module("deconv3", deconv(32, 32));
  deconv4 = register_module("deconv4", deconv(32, channels));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z) {
  LOUPE_CHECK(z.defined() && z.dim() == 2 && z.size(1) == latents_, "VAE latent codes: expected [N,", latents_,
              "], got ", z.defined() ? z.sizes() : torch::IntArrayRef{});
  auto h = torch::relu(fc2(torch::relu(fc1(z)))).view({-1, 64, 4, 4});
  h = torch::relu(deconv1(h));
  h = torch::relu(deconv2(h));
  h = torch::relu(deconv3(h));
  return deconv4(h);
}

VaeImpl::VaeImpl(const VaeSpec& spec) : spec_(spec) {
  check_spec(spec);
  encoder = register_module("encoder", VaeEncoder(spec.channels, spec.latents));
  decoder = register_module("decoder", VaeDecoder(spec.channels, spec.latents));
}

std::pair<torch::Tensor, torch::Tensor> VaeImpl::encode(const torch::Tensor& x) { return encoder->encode(x); }

torch::Tensor VaeImpl::reparameterise(const torch::Tensor& mu, const torch::Tensor& logvar) {
  return mu + torch::exp(0.5 * logvar) * torch::randn_like(mu);
}

torch::Tensor VaeImpl::decode(const torch::Tensor& z) { return decoder->forward(z); }

VaeOutput VaeImpl::forward(const torch::Tensor& x) {
  VaeOutput out;
  std::tie(out.mu, out.logvar) = encode(x);
  out.z = reparameterise(out.mu, out.logvar);
  out.logits = decode(out.z);
  return out;
}

torch::Tensor VaeImpl::reconstruct(const torch::Tensor& x) { return torch::sigmoid(decode(encode(x).first)); }

}  // namespace loupe
