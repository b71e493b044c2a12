#include "loupe/train/vae_trainer.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {

TrainOptions vae_train_options() {
  return TrainOptions()
      .set_optimizer(OptimizerOptions().set_kind(OptimizerKind::kAdam).set_lr(5e-4))
      .set_batch_size(64)
      .set_log_every(1)
      .set_epoch_seed_offset(0)
      .set_label("vae");
}

VaePreset vae_preset(Preset preset, int64_t channels) {
  VaePreset p;
  p.spec = VaeSpec().set_channels(channels).set_latents(12);
  p.objective = VaeObjectiveOptions().set_kind(VaeObjectiveKind::kBetaTcVae).set_beta(6).set_gamma_max(1);
  p.train = vae_train_options();
  if (preset == Preset::kPaper) {
    p.objective.set_anneal_steps(5000);
    p.train.set_epochs(50).set_batch_size(64).set_log_every(50);
  } else {
    p.objective.set_anneal_steps(400);
    p.train.set_max_steps(1200).set_batch_size(32).set_log_every(5);
  }
  p.train.label = "vae " + preset_name(preset);
  return p;
}

TrainResult train_vae(VaeImpl& vae, const Dataset& data, const VaeObjectiveOptions& objective,
                      const TrainOptions& options, torch::Device device) {
  check_objective_options(objective);
  // The TC estimate compares samples within a batch.
  LOUPE_CHECK(options.batch_size >= 2, "VAE training batch size ", options.batch_size,
              ": expected at least 2 (the TC estimate compares samples within a batch)");
  const int64_t n = data.size();
  LOUPE_CHECK(n >= 2, "VAE training data has ", n, " image(s); expected at least 2");
  const auto shape = data.image_shape();
  LOUPE_CHECK(shape[0] == vae.spec().channels && shape[1] == 64 && shape[2] == 64, "VAE training images are [",
              shape[0], ",", shape[1], ",", shape[2], "]; the ", describe(vae.spec()), " expects [",
              vae.spec().channels, ",64,64]");
  VaeObjectiveOptions o = objective;
  o.likelihood = vae.spec().likelihood;
  if (o.dataset_size == 0) o.dataset_size = n;
  vae.to(device);
  const auto optimizer = make_optimizer(vae.parameters(), options.optimizer);
  VaeObjective loss(vae, o);
  return train({{{kVaeModule, &vae, spec_json(vae.spec())}}, {{kVaeModule, optimizer.get()}}}, data, loss,
               TrainOptions(options).set_min_batch(2), device);
}

}  // namespace loupe
