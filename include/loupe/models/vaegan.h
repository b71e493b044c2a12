// The reconstruction models of workflow 4 (anomaly detection on MVTec-layout images):
// the VAE-GAN of the reference implementation for 128x128 RGB and latent 32, and the
// same encoder/decoder as a plain VAE or a deterministic autoencoder.
//   encoder: 4x [conv 3x3 stride 2, ReLU, batch norm] (32/64/128/256 channels), dense 160
//            tanh, dense heads mu and log var;
//   decoder: dense (S/16)^2*64 ReLU, 4x [transposed conv 2x2 stride 2, ReLU, conv 3x3,
//            ReLU, batch norm] (256/128/64/32 channels), transposed conv 3x3 to C
//            channels, sigmoid;
//   discriminator: conv 128 8x8 s2, ReLU, max-pool 2, BN; conv 64 5x5 s2, ReLU,
//            max-pool 2, BN; conv 32 4x4 s2, ReLU; dense 128 ReLU; dense 1 (a logit).
// Choices where the reference (Keras, padding "same") leaves a gap: PyTorch's symmetric
// padding (k/2 for odd k, (k-2)/2 for even k) gives the same sizes; the discriminator's
// convs use ReLU; it returns logits, and the sigmoid lives in the loss (BCE with logits,
// the same function, numerically stable). Any side S that is a multiple of 32 works.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "loupe/models/taps.h"

namespace loupe {

enum class ReconstructionKind {
  kVaeGan,  // VAE + discriminator (the reference)
  kVae,     // the same encoder/decoder, no discriminator
  kAe,      // deterministic: z = mu, no KL, no discriminator
};
// "vaegan" / "vae" / "ae" (in enum order); other text is a loupe::Error listing them.
std::vector<std::string> reconstruction_kind_names();
std::string reconstruction_kind_name(ReconstructionKind kind);
ReconstructionKind parse_reconstruction_kind(const std::string& name);

struct VaeGanSpec {
  ReconstructionKind kind = ReconstructionKind::kVaeGan;
  int64_t channels = 3;  // 1 or 3
  int64_t size = 128;    // image side: a multiple of 32, from 32 to 512
  int64_t latents = 32;  // 1 to 4096
  // clang-format off
  VaeGanSpec& set_kind(ReconstructionKind v) { kind = v; return *this; }
  VaeGanSpec& set_channels(int64_t v) { channels = v; return *this; }
  VaeGanSpec& set_size(int64_t v) { size = v; return *this; }
  VaeGanSpec& set_latents(int64_t v) { latents = v; return *this; }
  // clang-format on
};
// A loupe::Error naming the first field out of range.
void check_spec(const VaeGanSpec& spec);
bool operator==(const VaeGanSpec& a, const VaeGanSpec& b);
// "vaegan_conv (3 channels, 128x128, 32 latents)", for messages.
std::string describe(const VaeGanSpec& spec);

// The autoencoder (encoder + decoder) as a TappedModel whose forward is the
// deterministic reconstruction sigmoid(decode(mu)) in [0,1], so that explainers see an
// image-to-image model (targets: reconstruction errors, anomaly scores). Taps: "conv1"
// .. "conv4" (encoder blocks), "fc" [N,160], "mu" [N,L], "dense" [N,64,S/16,S/16],
// "up1" .. "up4" (decoder blocks), "reconstruction" [N,C,S,S].
class VaeGanImpl : public TappedModel {
 public:
  explicit VaeGanImpl(const VaeGanSpec& spec = VaeGanSpec());
  std::string default_cam_tap() const override { return "conv4"; }
  std::string arch() const override { return "vaegan_conv"; }
  const VaeGanSpec& spec() const { return spec_; }

  // {mu, logvar} [N,L] of images [N,C,S,S] in [0,1]; an error names other shapes.
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x);
  // Decoder logits [N,C,S,S] of codes [N,L].
  torch::Tensor decode_logits(const torch::Tensor& z);

  struct TrainOutput {
    torch::Tensor mu, logvar;  // [N,L]; logvar is zeros for kAe
    torch::Tensor z;           // mu + exp(logvar/2)·eps (the global generator); mu for kAe
    torch::Tensor logits;      // decoder logits of z [N,C,S,S]
  };
  // The training pass: encode, sample (not for kAe), decode.
  TrainOutput forward_train(const torch::Tensor& x);

  std::vector<torch::nn::Sequential> encoder_blocks, decoder_blocks;
  torch::nn::Linear fc{nullptr}, mu{nullptr}, logvar{nullptr}, dense{nullptr};
  torch::nn::ConvTranspose2d out_conv{nullptr};

 private:
  torch::Tensor decode_from_dense(const torch::Tensor& h);
  VaeGanSpec spec_;
};
TORCH_MODULE(VaeGan);

// The discriminator: images [N,C,S,S] in [0,1] -> logits [N] (real = 0, reconstruction
// = 1 in the reference's labelling; see train/vaegan_objective.h).
class VaeGanDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit VaeGanDiscriminatorImpl(const VaeGanSpec& spec = VaeGanSpec());
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Sequential features{nullptr}, head{nullptr};

 private:
  VaeGanSpec spec_;
};
TORCH_MODULE(VaeGanDiscriminator);

}  // namespace loupe
