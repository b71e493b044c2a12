#include "loupe/models/vaegan.h"

#include <torch/torch.h>

#include <sstream>

#include "loupe/core/choices.h"
#include "loupe/core/error.h"

namespace loupe {

namespace nn = torch::nn;

namespace {

constexpr int64_t kEncoderChannels[] = {32, 64, 128, 256};
constexpr int64_t kDecoderChannels[] = {256, 128, 64, 32};
constexpr int64_t kHidden = 160, kDenseChannels = 64;

void check_images(const torch::Tensor& x, const VaeGanSpec& spec, const char* who) {
  LOUPE_CHECK(
      x.defined() && x.dim() == 4 && x.size(1) == spec.channels && x.size(2) == spec.size && x.size(3) == spec.size,
      who, " input images: expected [N,", spec.channels, ",", spec.size, ",", spec.size, "], got ",
      x.defined() ? x.sizes() : torch::IntArrayRef{});
}

// conv 3x3 stride 2, ReLU, batch norm: halves the side.
nn::Sequential encoder_block(int64_t in, int64_t out) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(2).padding(1)), nn::ReLU(),
                        nn::BatchNorm2d(out));
}

// transposed conv 2x2 stride 2, ReLU, conv 3x3, ReLU, batch norm: doubles the side.
nn::Sequential decoder_block(int64_t in, int64_t out) {
  return nn::Sequential(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 2).stride(2)), nn::ReLU(),
                        nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1)), nn::ReLU(), nn::BatchNorm2d(out));
}

}  // namespace

std::vector<std::string> reconstruction_kind_names() { return {"vaegan", "vae", "ae"}; }

std::string reconstruction_kind_name(ReconstructionKind kind) {
  return reconstruction_kind_names().at(static_cast<size_t>(kind));
}

ReconstructionKind parse_reconstruction_kind(const std::string& name) {
  return static_cast<ReconstructionKind>(choice_index(name, reconstruction_kind_names(), "reconstruction model"));
}

void check_spec(const VaeGanSpec& spec) {
  LOUPE_CHECK(spec.channels == 1 || spec.channels == 3, "reconstruction model channels ", spec.channels,
              ": expected 1 or 3");
  LOUPE_CHECK(spec.size >= 32 && spec.size <= 512 && spec.size % 32 == 0, "reconstruction model image side ", spec.size,
              ": expected a multiple of 32 from 32 to 512");
  LOUPE_CHECK(spec.latents >= 1 && spec.latents <= 4096, "reconstruction model latents ", spec.latents,
              ": expected 1 to 4096");
}

bool operator==(const VaeGanSpec& a, const VaeGanSpec& b) {
  return a.kind == b.kind && a.channels == b.channels && a.size == b.size && a.latents == b.latents;
}

std::string describe(const VaeGanSpec& spec) {
  std::ostringstream os;
  os << reconstruction_kind_name(spec.kind) << "_conv (" << spec.channels
     << (spec.channels == 1 ? " channel, " : " channels, ") << spec.size << "x" << spec.size << ", " << spec.latents
     << " latents)";
  return os.str();
}

VaeGanImpl::VaeGanImpl(const VaeGanSpec& spec) : spec_(spec) {
  check_spec(spec);
  const int64_t side = spec.size / 16;  // after four stride-2 blocks
  int64_t in = spec.channels;
  for (int i = 0; i < 4; ++i) {
    encoder_blocks.push_back(register_module("conv" + std::to_string(i + 1), encoder_block(in, kEncoderChannels[i])));
    in = kEncoderChannels[i];
  }
  fc = register_module("fc", nn::Linear(in * side * side, kHidden));
  mu = register_module("mu", nn::Linear(kHidden, spec.latents));
  logvar = register_module("logvar", nn::Linear(kHidden, spec.latents));
  dense = register_module("dense", nn::Linear(spec.latents, kDenseChannels * side * side));
  in = kDenseChannels;
  for (int i = 0; i < 4; ++i) {
    decoder_blocks.push_back(register_module("up" + std::to_string(i + 1), decoder_block(in, kDecoderChannels[i])));
    in = kDecoderChannels[i];
  }
  out_conv = register_module("out", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, spec.channels, 3).padding(1)));

  for (int i = 0; i < 4; ++i)
    add_stage("conv" + std::to_string(i + 1), [this, i](const torch::Tensor& x) {
      if (i == 0) check_images(x, spec_, "reconstruction model");
      return encoder_blocks[i]->forward(x);
    });
  add_stage("fc", [this](const torch::Tensor& x) { return torch::tanh(fc(x.flatten(1))); });
  add_stage("mu", [this](const torch::Tensor& h) { return mu(h); });
  add_stage("dense", [this, side](const torch::Tensor& z) {
    return torch::relu(dense(z)).view({-1, kDenseChannels, side, side});
  });
  for (int i = 0; i < 4; ++i)
    add_stage("up" + std::to_string(i + 1),
              [this, i](const torch::Tensor& h) { return decoder_blocks[i]->forward(h); });
  add_stage("reconstruction", [this](const torch::Tensor& h) { return torch::sigmoid(out_conv(h)); });
}

std::pair<torch::Tensor, torch::Tensor> VaeGanImpl::encode(const torch::Tensor& x) {
  check_images(x, spec_, "reconstruction model");
  torch::Tensor h = x;
  for (auto& block : encoder_blocks) h = block->forward(h);
  h = torch::tanh(fc(h.flatten(1)));
  return {mu(h), logvar(h)};
}

torch::Tensor VaeGanImpl::decode_logits(const torch::Tensor& z) {
  LOUPE_CHECK(z.defined() && z.dim() == 2 && z.size(1) == spec_.latents, "reconstruction model codes: expected [N,",
              spec_.latents, "], got ", z.defined() ? z.sizes() : torch::IntArrayRef{});
  const int64_t side = spec_.size / 16;
  auto h = torch::relu(dense(z)).view({-1, kDenseChannels, side, side});
  for (auto& block : decoder_blocks) h = block->forward(h);
  return out_conv(h);
}

VaeGanImpl::TrainOutput VaeGanImpl::forward_train(const torch::Tensor& x) {
  TrainOutput out;
  std::tie(out.mu, out.logvar) = encode(x);
  if (spec_.kind == ReconstructionKind::kAe) {
    out.logvar = torch::zeros_like(out.mu);
    out.z = out.mu;
  } else {
    out.z = out.mu + torch::exp(0.5 * out.logvar) * torch::randn_like(out.mu);
  }
  out.logits = decode_logits(out.z);
  return out;
}

VaeGanDiscriminatorImpl::VaeGanDiscriminatorImpl(const VaeGanSpec& spec) : spec_(spec) {
  check_spec(spec);
  const int64_t side = spec.size / 32;  // 2 x (conv s2 + pool 2) then conv s2
  features = register_module(
      "features",
      nn::Sequential(nn::Conv2d(nn::Conv2dOptions(spec.channels, 128, 8).stride(2).padding(3)), nn::ReLU(),
                     nn::MaxPool2d(2), nn::BatchNorm2d(128),
                     nn::Conv2d(nn::Conv2dOptions(128, 64, 5).stride(2).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                     nn::BatchNorm2d(64), nn::Conv2d(nn::Conv2dOptions(64, 32, 4).stride(2).padding(1)), nn::ReLU()));
  head = register_module("head", nn::Sequential(nn::Linear(32 * side * side, 128), nn::ReLU(), nn::Linear(128, 1)));
}

torch::Tensor VaeGanDiscriminatorImpl::forward(const torch::Tensor& x) {
  check_images(x, spec_, "discriminator");
  return head->forward(features->forward(x).flatten(1)).squeeze(1);
}

}  // namespace loupe
