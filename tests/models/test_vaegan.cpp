// The reconstruction models of workflow 4: the reference's layer sizes (parameter counts
// by hand), tap shapes at 128 and 64 pixels, the autoencoder's deterministic z, spec
// round trips through a checkpoint, and shape errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/vaegan.h"
#include "models/module_checks.h"
#include "test_util.h"

namespace loupe {
using test::parameter_count;
using test::TempDir;

TEST(VaeGan, LayerSizesAreTheReferences) {
  // Parameters of a conv k x k (weights + bias), a dense layer and a batch norm (scale + shift).
  auto conv = [](int64_t in, int64_t out, int64_t k) { return in * out * k * k + out; };
  auto dense = [](int64_t in, int64_t out) { return in * out + out; };
  auto bn = [](int64_t c) { return 2 * c; };
  // 128x128 RGB, latent 32: the encoder ends at 256 x 8 x 8, the decoder starts at 64 x 8 x 8.
  VaeGan model(VaeGanSpec{});
  const int64_t encoder = conv(3, 32, 3) + bn(32) + conv(32, 64, 3) + bn(64) + conv(64, 128, 3) + bn(128) +
                          conv(128, 256, 3) + bn(256) + dense(256 * 8 * 8, 160) + 2 * dense(160, 32);
  auto up = [&](int64_t in, int64_t out) { return conv(in, out, 2) + conv(out, out, 3) + bn(out); };
  const int64_t decoder =
      dense(32, 64 * 8 * 8) + up(64, 256) + up(256, 128) + up(128, 64) + up(64, 32) + conv(32, 3, 3);
  EXPECT_EQ(parameter_count(*model), encoder + decoder);
  VaeGanDiscriminator d(VaeGanSpec{});
  const int64_t disc =
      conv(3, 128, 8) + bn(128) + conv(128, 64, 5) + bn(64) + conv(64, 32, 4) + dense(32 * 4 * 4, 128) + dense(128, 1);
  EXPECT_EQ(parameter_count(*d), disc);
}

TEST(VaeGan, TapShapesAndOutputRange) {
  torch::manual_seed(0);
  for (const int64_t side : {128, 64}) {
    VaeGan model(VaeGanSpec().set_size(side));
    model->eval();
    const auto x = torch::rand({2, 3, side, side});
    Taps taps;
    for (const auto& name : model->tap_names()) taps.record(name);
    const auto y = model->forward(x, &taps);
    EXPECT_EQ(y.sizes(), x.sizes());
    EXPECT_TRUE(y.gt(0).all().item<bool>() && y.lt(1).all().item<bool>());
    EXPECT_EQ(taps.recorded("conv4").sizes(), (std::vector<int64_t>{2, 256, side / 16, side / 16}));
    EXPECT_EQ(taps.recorded("mu").sizes(), (std::vector<int64_t>{2, 32}));
    EXPECT_EQ(taps.recorded("dense").sizes(), (std::vector<int64_t>{2, 64, side / 16, side / 16}));
    EXPECT_EQ(taps.recorded("up4").sizes(), (std::vector<int64_t>{2, 32, side, side}));
    // The tapped forward is the deterministic reconstruction sigmoid(decode(mu)).
    EXPECT_TRUE(torch::allclose(y, torch::sigmoid(model->decode_logits(model->encode(x).first)), 1e-6, 1e-6));
    VaeGanDiscriminator d(VaeGanSpec().set_size(side));
    EXPECT_EQ(d->forward(x).sizes(), (std::vector<int64_t>{2}));
  }
}

TEST(VaeGan, AutoencoderCodeIsTheMeanAndVaeSamples) {
  torch::manual_seed(1);
  const auto x = torch::rand({3, 3, 32, 32});
  VaeGan ae(VaeGanSpec().set_kind(ReconstructionKind::kAe).set_size(32));
  const auto a = ae->forward_train(x);
  EXPECT_TRUE(torch::equal(a.z, a.mu));
  EXPECT_TRUE(torch::equal(a.logvar, torch::zeros_like(a.mu)));
  VaeGan vae(VaeGanSpec().set_kind(ReconstructionKind::kVae).set_size(32));
  torch::manual_seed(7);
  const auto v = vae->forward_train(x);
  torch::manual_seed(7);
  const auto eps = torch::randn_like(v.mu);
  EXPECT_TRUE(torch::allclose(v.z, v.mu + torch::exp(0.5 * v.logvar) * eps, 1e-6, 1e-6));
}

TEST(VaeGan, CheckpointRoundTripAndRefusals) {
  TempDir dir;
  torch::manual_seed(2);
  const auto spec = VaeGanSpec().set_kind(ReconstructionKind::kVae).set_size(32).set_latents(5);
  VaeGan model(spec);
  model->eval();
  const auto path = dir.path() / "ae.pt";
  save_checkpoint(path, {{kAutoencoderModule, model.get(), spec_json(spec)}}, {}, {});
  auto loaded = load_vaegan(path);
  EXPECT_EQ(loaded->spec(), spec);
  const auto x = torch::rand({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(loaded->forward(x), model->forward(x)));
  EXPECT_EQ(vaegan_spec_from_json(spec_json(spec), "test"), spec);
  // The file holds no classifier and no vae_conv64 VAE: both loaders say what it holds.
  EXPECT_LOUPE_ERROR(load_model(path), "holds vaegan_conv (channels 3, kind vae, latents 5, size 32)");
  EXPECT_LOUPE_ERROR(load_vae(path), "expected a vae_conv64 VAE");
  EXPECT_LOUPE_ERROR(
      vaegan_spec_from_json(R"({"arch":"vaegan_conv","kind":"gan","channels":3,"size":64,"latents":8})", "file y"),
      "reconstruction model 'gan': expected one of vaegan, vae, ae");
  EXPECT_LOUPE_ERROR(
      vaegan_spec_from_json(R"({"arch":"vaegan_conv","kind":"ae","channels":3,"size":100,"latents":8})", "file z"),
      "multiple of 32");
}

TEST(VaeGan, BadInputIsAnError) {
  VaeGan model(VaeGanSpec().set_size(64));
  EXPECT_LOUPE_ERROR(model->forward(torch::rand({1, 3, 32, 32})), "expected [N,3,64,64]");
  EXPECT_LOUPE_ERROR(model->decode_logits(torch::rand({1, 5})), "expected [N,32]");
  VaeGanDiscriminator d(VaeGanSpec().set_size(64));
  EXPECT_LOUPE_ERROR(d->forward(torch::rand({1, 1, 64, 64})), "discriminator input images");
  EXPECT_LOUPE_ERROR(check_spec(VaeGanSpec().set_channels(2)), "channels 2");
  EXPECT_LOUPE_ERROR(check_spec(VaeGanSpec().set_latents(0)), "latents 0");
  EXPECT_LOUPE_ERROR(parse_reconstruction_kind("gan"), "expected one of vaegan, vae, ae");
}

}  // namespace loupe
