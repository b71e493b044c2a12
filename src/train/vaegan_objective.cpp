#include "loupe/train/vaegan_objective.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/vae_objectives.h"

namespace loupe {

namespace F = torch::nn::functional;

namespace {

constexpr double kGeneratorFloor = 1e-4;  // the reference's max(., 1e-4)

// Batch-mean BCE of discriminator logits against one label for every image.
torch::Tensor bce_to(const torch::Tensor& logits, double label) {
  return F::binary_cross_entropy_with_logits(logits, torch::full_like(logits, label));
}

// Logs batch means as per-image sums over n images, with one device-to-host copy for all.
void log_batch_means(StepLog& log, const std::vector<std::pair<const char*, torch::Tensor>>& terms, double n) {
  std::vector<torch::Tensor> values;
  for (const auto& term : terms) values.push_back(term.second.detach().to(torch::kDouble));
  const auto host = torch::stack(values).cpu();
  const auto* v = host.data_ptr<double>();
  for (size_t i = 0; i < terms.size(); ++i) log.add(terms[i].first, v[i] * n, n);
}

}  // namespace

VaeGanObjective::VaeGanObjective(VaeGanImpl& model, VaeGanDiscriminatorImpl* discriminator)
    : model_(model), discriminator_(discriminator) {
  LOUPE_CHECK(model.spec().kind != ReconstructionKind::kVaeGan || discriminator != nullptr,
              "VAE-GAN training: a discriminator is required");
}

void VaeGanObjective::step(const Batch& batch, const TrainContext& /*ctx*/, const Optimizers& optimizers,
                           StepLog& log) {
  const auto& x = batch.images;
  const double n = static_cast<double>(x.size(0));
  const bool gan = model_.spec().kind == ReconstructionKind::kVaeGan;
  const auto out = model_.forward_train(x);
  const auto reconstruction = reconstruction_loss(out.logits, x, Likelihood::kBernoulli).mean();
  auto loss = reconstruction;
  std::vector<std::pair<const char*, torch::Tensor>> terms = {{"reconstruction", reconstruction}};
  if (model_.spec().kind != ReconstructionKind::kAe) {
    const auto kl = kl_per_dimension(out.mu, out.logvar).sum();
    loss = loss + kl;
    terms.emplace_back("kl", kl);
  }
  torch::Tensor recon_images, d_real;
  if (gan) {
    recon_images = torch::sigmoid(out.logits);
    d_real = discriminator_->forward(x);
    const auto d_fake = discriminator_->forward(recon_images);
    const auto disc_loss = (bce_to(d_real, 0) + bce_to(d_fake, 1)).detach();
    const auto generator = (bce_to(d_fake, 0) - disc_loss).clamp_min(kGeneratorFloor);
    loss = loss + generator;
    terms.emplace_back("generator", generator);
  }
  terms.emplace_back("loss", loss);
  log_batch_means(log, terms, n);
  // A diverged loss is reported by the trainer, before anything is stepped.
  if (!std::isfinite(log.value("loss"))) return;

  optimizers.get(kAutoencoderModule).zero_grad();
  loss.backward();
  optimizers.step(kAutoencoderModule);
  if (!gan) return;

  // The discriminator on the same images, the reconstruction detached. D(x) is reused:
  // the autoencoder's loss holds L_D detached, so its graph is untouched.
  optimizers.get(kDiscriminatorModule).zero_grad();
  const auto& real = d_real;
  const auto fake = discriminator_->forward(recon_images.detach());
  const auto d_loss = bce_to(real, 0) + bce_to(fake, 1);
  d_loss.backward();
  optimizers.step(kDiscriminatorModule);
  // D's output is P(reconstruction): its mean on real images and on reconstructions.
  log_batch_means(
      log,
      {{"discriminator", d_loss}, {"d_real", torch::sigmoid(real).mean()}, {"d_fake", torch::sigmoid(fake).mean()}}, n);
}

std::string VaeGanObjective::progress(const RecordAccumulator& record) const {
  char buf[128];
  if (model_.spec().kind == ReconstructionKind::kVaeGan)
    std::snprintf(buf, sizeof buf, "loss %.1f recon %.1f kl %.1f D %.3f", record.mean("loss"),
                  record.mean("reconstruction"), record.mean("kl"), record.mean("discriminator"));
  else
    std::snprintf(buf, sizeof buf, "loss %.1f recon %.1f", record.mean("loss"), record.mean("reconstruction"));
  return buf;
}

ReconstructionPreset reconstruction_preset(Preset preset, ReconstructionKind kind) {
  ReconstructionPreset p;
  p.spec = VaeGanSpec().set_kind(kind).set_latents(32);
  p.autoencoder = OptimizerOptions().set_kind(OptimizerKind::kAdam).set_lr(1e-3);
  p.discriminator = p.autoencoder;
  p.train.set_epoch_seed_offset(0).set_min_batch(2);
  if (preset == Preset::kPaper) {
    p.spec.set_size(128);
    p.train.set_max_steps(30000).set_batch_size(64).set_log_every(100);
  } else {
    p.spec.set_size(64);
    p.train.set_max_steps(400).set_batch_size(16).set_log_every(10);
  }
  p.train.label = reconstruction_kind_name(kind) + " " + preset_name(preset);
  return p;
}

TrainResult train_reconstruction_model(VaeGanImpl& model, VaeGanDiscriminatorImpl* discriminator, const Dataset& data,
                                       const ReconstructionPreset& preset, torch::Device device) {
  const auto& spec = model.spec();
  const bool gan = spec.kind == ReconstructionKind::kVaeGan;
  LOUPE_CHECK(!gan || discriminator, "VAE-GAN training: a discriminator is required");
  const auto shape = data.image_shape();
  LOUPE_CHECK(shape[0] == spec.channels && shape[1] == spec.size && shape[2] == spec.size,
              "reconstruction training images are [", shape[0], ",", shape[1], ",", shape[2], "]; the ", describe(spec),
              " expects [", spec.channels, ",", spec.size, ",", spec.size, "]");
  LOUPE_CHECK(data.size() >= 2, "reconstruction training data has ", data.size(), " image(s); expected at least 2");
  model.to(device);
  auto autoencoder_opt = make_optimizer(model.parameters(), preset.autoencoder);
  TrainSetup setup;
  setup.modules.push_back({kAutoencoderModule, &model, spec_json(spec)});
  setup.optimizers.push_back({kAutoencoderModule, autoencoder_opt.get()});
  std::unique_ptr<torch::optim::Optimizer> discriminator_opt;
  if (gan) {
    discriminator->to(device);
    discriminator_opt = make_optimizer(discriminator->parameters(), preset.discriminator);
    setup.modules.push_back({kDiscriminatorModule, discriminator, discriminator_spec_json(spec)});
    setup.optimizers.push_back({kDiscriminatorModule, discriminator_opt.get()});
  }
  const AugmentedDataset augmented(data, preset.augment);
  VaeGanObjective objective(model, gan ? discriminator : nullptr);
  return train(setup, augmented, objective, preset.train, device);
}

}  // namespace loupe
