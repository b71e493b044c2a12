// The convolutional VAE of the disentanglement literature for 64x64 images
// (disentanglement_lib's conv encoder / deconv decoder, Locatello et al. 2019): four
// 4x4 stride-2 convs (32, 32, 64, 64 channels, ReLU), dense 256, then mu and log var;
// the decoder mirrors it (dense 256, dense 64*4*4, four 4x4 stride-2 transposed convs)
// and returns logits. Choice: 4x4 kernels in all four convs (dl uses 2x2 in the last
// two); both likelihoods read the decoder's mean as sigmoid(logits).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <utility>

#include "loupe/models/taps.h"

namespace loupe {

enum class Likelihood { kBernoulli, kGaussian };

// "bernoulli" / "gaussian"; parse_likelihood throws a loupe::Error naming other text.
std::string likelihood_name(Likelihood likelihood);
Likelihood parse_likelihood(const std::string& name);

struct VaeSpec {
  int64_t channels = 3;  // 1 or 3
  int64_t latents = 12;  // at least 1
  Likelihood likelihood = Likelihood::kBernoulli;
  // clang-format off
  VaeSpec& set_channels(int64_t v) { channels = v; return *this; }
  VaeSpec& set_latents(int64_t v) { latents = v; return *this; }
  VaeSpec& set_likelihood(Likelihood v) { likelihood = v; return *this; }
  // clang-format on
};

// "vae_conv64 (3 channels, 12 latents, bernoulli)", for messages.
std::string describe(const VaeSpec& spec);
bool operator==(const VaeSpec& a, const VaeSpec& b);

// The encoder as a TappedModel, so Grad-CAM of a latent code mu_i is an ordinary
// explanation with target = column i. Taps: "conv1" [N,32,32,32], "conv2" [N,32,16,16],
// "conv3" [N,64,8,8], "conv4" [N,64,4,4], "fc" [N,256], "mu" [N,L] (the output).
class VaeEncoderImpl : public TappedModel {
 public:
  VaeEncoderImpl(int64_t channels, int64_t latents);
  std::string default_cam_tap() const override { return "conv4"; }
  std::string arch() const override { return "vae_conv64_encoder"; }
  // {mu, logvar}, both [N,L].
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  torch::nn::Linear fc{nullptr}, mu{nullptr}, logvar{nullptr};

 private:
  int64_t channels_;
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
 public:
  VaeDecoderImpl(int64_t channels, int64_t latents);
  // z [N,L] -> logits [N,C,64,64].
  torch::Tensor forward(const torch::Tensor& z);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::ConvTranspose2d deconv1{nullptr}, deconv2{nullptr}, deconv3{nullptr}, deconv4{nullptr};

 private:
  int64_t latents_;
};
TORCH_MODULE(VaeDecoder);

struct VaeOutput {
  torch::Tensor mu, logvar;  // [N,L]
  torch::Tensor z;           // [N,L] reparameterised sample
  torch::Tensor logits;      // [N,C,64,64] decoder output for z
};

class VaeImpl : public torch::nn::Module {
 public:
  explicit VaeImpl(const VaeSpec& spec = VaeSpec());
  // Images [N,C,64,64] in [0,1] -> {mu, logvar}; other shapes are a loupe::Error.
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x);
  // z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) from the global generator.
  static torch::Tensor reparameterise(const torch::Tensor& mu, const torch::Tensor& logvar);
  torch::Tensor decode(const torch::Tensor& z);  // logits
  // Encode, sample, decode (one training pass).
  VaeOutput forward(const torch::Tensor& x);
  // sigmoid(decode(mu)): the deterministic reconstruction in [0,1].
  torch::Tensor reconstruct(const torch::Tensor& x);
  const VaeSpec& spec() const { return spec_; }

  VaeEncoder encoder{nullptr};
  VaeDecoder decoder{nullptr};

 private:
  VaeSpec spec_;
};
TORCH_MODULE(Vae);

}  // namespace loupe
