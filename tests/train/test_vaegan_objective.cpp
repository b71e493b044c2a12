// VAE-GAN training on the one loop: the logged terms equal the reference's formulas
// recomputed by hand on the same draws, each optimiser moves only its module, a short
// run lowers the reconstruction loss, and a resumed run (augmentation included) equals an
// uninterrupted one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/vaegan_objective.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
namespace {

namespace F = torch::nn::functional;

// n 32x32 RGB images: smooth colour gradients, one per image.
TensorDataset gradient_images(int64_t n) {
  const auto ramp = torch::linspace(0, 1, 32);
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(i) / n;
    const auto r = ramp.view({1, 32}).expand({32, 32}) * a, g = ramp.view({32, 1}).expand({32, 32}) * (1 - a);
    images.push_back(torch::stack({r, g, torch::full({32, 32}, 0.5)}));
  }
  return TensorDataset(torch::stack(images).mul(255).round().to(torch::kUInt8), torch::zeros({n}, torch::kLong),
                       {"good"});
}

std::vector<torch::Tensor> parameters_of(const torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool moved(const std::vector<torch::Tensor>& before, const torch::nn::Module& m) {
  const auto now = m.parameters();
  for (size_t i = 0; i < now.size(); ++i)
    if (!torch::equal(before[i], now[i])) return true;
  return false;
}

ReconstructionPreset tiny_reconstruction_preset(ReconstructionKind kind, int64_t steps) {
  auto p = reconstruction_preset(Preset::kQuick, kind);
  p.spec.set_size(32).set_latents(4);
  p.train.set_max_steps(steps).set_batch_size(4).set_log_every(1).set_seed(3);
  return p;
}

}  // namespace

TEST(VaeGanObjective, LoggedTermsAreTheReferenceFormulas) {
  const auto spec = VaeGanSpec().set_size(32).set_latents(4);
  torch::manual_seed(0);
  VaeGan model(spec), twin(spec);
  VaeGanDiscriminator d(spec), d_twin(spec);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < model->parameters().size(); ++i) twin->parameters()[i].copy_(model->parameters()[i]);
    for (size_t i = 0; i < d->parameters().size(); ++i) d_twin->parameters()[i].copy_(d->parameters()[i]);
  }
  const auto x = gradient_images(4).all().images;

  // By hand on the twin, with the same noise draw.
  torch::manual_seed(11);
  const auto out = twin->forward_train(x);
  const double rec = F::binary_cross_entropy_with_logits(
                         out.logits, x, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum))
                         .item<double>() /
                     4;
  const double kl = (0.5 * (out.mu.pow(2) + out.logvar.exp() - 1 - out.logvar)).sum().item<double>() / 4;
  const auto real = d_twin->forward(x), fake = d_twin->forward(torch::sigmoid(out.logits));
  auto bce = [](const torch::Tensor& logits, double label) {
    return F::binary_cross_entropy_with_logits(logits, torch::full_like(logits, label)).item<double>();
  };
  const double l_d = bce(real, 0) + bce(fake, 1);
  const double generator = std::max(bce(fake, 0) - l_d, 1e-4);

  auto ae_opt = make_optimizer(model->parameters(), OptimizerOptions().set_lr(1e-3));
  auto d_opt = make_optimizer(d->parameters(), OptimizerOptions().set_lr(1e-3));
  Optimizers optimizers;
  optimizers.add(kAutoencoderModule, ae_opt.get());
  optimizers.add(kDiscriminatorModule, d_opt.get());
  VaeGanObjective objective(*model, d.get());
  StepLog log;
  const auto d_before = parameters_of(*d), ae_before = parameters_of(*model);
  torch::manual_seed(11);
  objective.step({x, torch::zeros({4}, torch::kLong)}, TrainContext{}, optimizers, log);
  EXPECT_NEAR(log.value("reconstruction"), rec, 1e-3 * rec);
  EXPECT_NEAR(log.value("kl"), kl, 1e-4 * std::max(1.0, kl));
  EXPECT_NEAR(log.value("generator"), generator, 1e-5);
  EXPECT_NEAR(log.value("loss"), rec + kl + generator, 1e-3 * rec);
  EXPECT_NEAR(log.value("discriminator"), l_d, 1e-5);
  EXPECT_TRUE(moved(ae_before, *model));
  EXPECT_TRUE(moved(d_before, *d));
}

TEST(VaeGanObjective, EachOptimiserMovesOnlyItsModule) {
  // The autoencoder's step back-propagates through D (into D's gradients) but must leave
  // D's weights alone: only D's own step, after zeroing them, moves D.
  const auto spec = VaeGanSpec().set_size(32).set_latents(4);
  torch::manual_seed(1);
  VaeGan model(spec);
  VaeGanDiscriminator d(spec);
  const auto x = gradient_images(4).all().images;
  auto ae_opt = make_optimizer(model->parameters(), OptimizerOptions().set_lr(1e-3));
  Optimizers only_ae;
  only_ae.add(kAutoencoderModule, ae_opt.get());
  const auto d_before = parameters_of(*d);
  VaeGanObjective ae_objective(*model, d.get());
  StepLog log;
  // Without a discriminator optimiser the step names the missing one (after the AE step).
  EXPECT_LOUPE_ERROR(ae_objective.step({x, torch::zeros({4}, torch::kLong)}, TrainContext{}, only_ae, log),
                     "discriminator");
  EXPECT_FALSE(moved(d_before, *d));
  // A plain VAE and an AE need no discriminator and log no GAN terms.
  for (auto kind : {ReconstructionKind::kVae, ReconstructionKind::kAe}) {
    VaeGan m(VaeGanSpec(spec).set_kind(kind));
    auto opt = make_optimizer(m->parameters(), OptimizerOptions().set_lr(1e-3));
    Optimizers one;
    one.add(kAutoencoderModule, opt.get());
    VaeGanObjective o(*m, nullptr);
    StepLog l;
    o.step({x, torch::zeros({4}, torch::kLong)}, TrainContext{}, one, l);
    EXPECT_TRUE(std::isnan(l.value("generator")));
    EXPECT_EQ(std::isnan(l.value("kl")), kind == ReconstructionKind::kAe);
  }
  EXPECT_LOUPE_ERROR(VaeGanObjective(*model, nullptr), "a discriminator is required");
}

TEST(VaeGanObjective, ShortRunLowersTheReconstructionLoss) {
  const auto data = gradient_images(8);
  const auto p = tiny_reconstruction_preset(ReconstructionKind::kAe, 60);
  torch::manual_seed(0);
  VaeGan model(p.spec);
  const auto result = train_reconstruction_model(*model, nullptr, data, p, torch::kCPU);
  ASSERT_EQ(result.history.size(), 60u);
  const double first = result.history.front().value("reconstruction"),
               last = result.history.back().value("reconstruction");
  EXPECT_LT(last, 0.97 * first) << first << " -> " << last;
  EXPECT_FALSE(model->is_training());
}

TEST(VaeGanObjective, ResumedRunEqualsAnUninterruptedOne) {
  TempDir dir;
  const auto data = gradient_images(6);
  auto whole = tiny_reconstruction_preset(ReconstructionKind::kVaeGan, 6);
  whole.augment.set_horizontal_flip(true);
  whole.train.set_checkpoint(dir.path() / "whole.pt");
  torch::manual_seed(0);
  VaeGan a(whole.spec);
  VaeGanDiscriminator da(whole.spec);
  train_reconstruction_model(*a, da.get(), data, whole, torch::kCPU);

  auto part = whole;
  // 6 images in batches of 4: 2 steps per epoch; the cut falls at an epoch boundary, where
  // the loop reseeds (augmentation and noise draws included).
  part.train.set_checkpoint(dir.path() / "part.pt").set_max_steps(4);
  torch::manual_seed(0);
  VaeGan b(whole.spec);
  VaeGanDiscriminator db(whole.spec);
  train_reconstruction_model(*b, db.get(), data, part, torch::kCPU);
  part.train.set_max_steps(6).set_resume(true);
  VaeGan c(whole.spec);
  VaeGanDiscriminator dc(whole.spec);
  const auto resumed = train_reconstruction_model(*c, dc.get(), data, part, torch::kCPU);
  EXPECT_EQ(resumed.step, 6);
  for (size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(torch::allclose(a->parameters()[i], c->parameters()[i], 1e-5, 1e-6)) << i;
  for (size_t i = 0; i < da->parameters().size(); ++i)
    EXPECT_TRUE(torch::allclose(da->parameters()[i], dc->parameters()[i], 1e-5, 1e-6)) << i;
  const auto info = read_checkpoint_info(dir.path() / "part.pt");
  EXPECT_EQ(info.specs.count(kDiscriminatorModule), 1u);
  EXPECT_EQ(info.optimizers.count(kDiscriminatorModule), 1u);
}

TEST(VaeGanObjective, WrongImageSizeIsAnError) {
  const auto p = tiny_reconstruction_preset(ReconstructionKind::kAe, 2);
  VaeGan model(VaeGanSpec(p.spec).set_size(64));
  EXPECT_LOUPE_ERROR(train_reconstruction_model(*model, nullptr, gradient_images(4), p, torch::kCPU),
                     "images are [3,32,32]; the ae_conv (3 channels, 64x64, 4 latents) expects [3,64,64]");
}

}  // namespace loupe
