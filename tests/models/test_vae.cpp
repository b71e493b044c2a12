#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/models/vae.h"

namespace loupe {

TEST(Vae, ShapesAndTaps) {
  torch::manual_seed(0);
  Vae vae(VaeSpec().set_channels(3).set_latents(5));
  const auto x = torch::rand({2, 3, 64, 64});
  const auto [mu, logvar] = vae->encode(x);
  EXPECT_EQ(mu.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(logvar.sizes(), (std::vector<int64_t>{2, 5}));
  const auto out = vae->forward(x);
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 3, 64, 64}));
  const auto rec = vae->reconstruct(x);
  EXPECT_GE(rec.min().item<float>(), 0.f);
  EXPECT_LE(rec.max().item<float>(), 1.f);

  EXPECT_EQ(vae->encoder->tap_names(), (std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "fc", "mu"}));
  Taps taps;
  taps.record("conv1").record("conv4").record("fc");
  const auto means = vae->encoder->forward(x, &taps);
  EXPECT_TRUE(torch::allclose(means, mu));
  EXPECT_EQ(taps.recorded("conv1").sizes(), (std::vector<int64_t>{2, 32, 32, 32}));
  EXPECT_EQ(taps.recorded("conv4").sizes(), (std::vector<int64_t>{2, 64, 4, 4}));
  // Running from a tap reproduces the output: what Grad-CAM and ablations rely on.
  EXPECT_TRUE(torch::allclose(vae->encoder->forward_from("fc", taps.recorded("fc")), mu));
}

TEST(Vae, LatentCodeHasGradientsAtAnEncoderTap) {
  torch::manual_seed(1);
  Vae vae(VaeSpec().set_channels(1).set_latents(3));
  Taps taps;
  taps.record("conv3");
  const auto mu = vae->encoder->forward(torch::rand({1, 1, 64, 64}), &taps);
  const auto grad = torch::autograd::grad({mu.select(1, 2).sum()}, {taps.recorded("conv3")})[0];
  EXPECT_EQ(grad.sizes(), (std::vector<int64_t>{1, 64, 8, 8}));
  EXPECT_GT(grad.abs().sum().item<float>(), 0.f);
}

TEST(Vae, HandSetWeightsGiveBiasOutputs) {
  // All weights zero: mu and log var are their biases, the logits the last deconv's bias.
  Vae vae(VaeSpec().set_channels(3).set_latents(2));
  torch::NoGradGuard guard;
  for (auto& p : vae->parameters()) p.zero_();
  vae->encoder->mu->bias.copy_(torch::tensor({1.5f, -2.f}));
  vae->encoder->logvar->bias.copy_(torch::tensor({0.25f, 0.5f}));
  vae->decoder->deconv4->bias.copy_(torch::tensor({0.f, 1.f, -1.f}));
  const auto [mu, logvar] = vae->encode(torch::rand({1, 3, 64, 64}));
  EXPECT_TRUE(torch::allclose(mu, torch::tensor({{1.5f, -2.f}})));
  EXPECT_TRUE(torch::allclose(logvar, torch::tensor({{0.25f, 0.5f}})));
  const auto rec = vae->reconstruct(torch::rand({1, 3, 64, 64}));
  EXPECT_NEAR(rec[0][0].mean().item<float>(), 0.5f, 1e-6);
  EXPECT_NEAR(rec[0][1].mean().item<float>(), 1.f / (1.f + std::exp(-1.f)), 1e-6);
}

TEST(Vae, BadInputIsNamed) {
  Vae vae(VaeSpec().set_channels(3).set_latents(4));
  try {
    vae->encode(torch::rand({1, 3, 32, 32}));
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected [N,3,64,64]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(vae->decode(torch::zeros({1, 5})), Error);
  EXPECT_THROW(Vae(VaeSpec().set_channels(2)), Error);
  EXPECT_THROW(parse_likelihood("poisson"), Error);
  EXPECT_EQ(parse_likelihood("gaussian"), Likelihood::kGaussian);
}

}  // namespace loupe
