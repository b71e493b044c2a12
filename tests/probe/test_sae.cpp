#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/core/device.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/zoo.h"
#include "loupe/probe/sae.h"
#include "test_util.h"

namespace loupe {
namespace {

// Float vectors as 1x1 "images" [N,d,1,1] (an identity tap then yields the vectors).
class Vectors : public Dataset {
 public:
  explicit Vectors(torch::Tensor x) : x_(std::move(x)) {}
  int64_t size() const override { return x_.size(0); }
  Batch get(const torch::Tensor& i) const override {
    return {x_.index_select(0, i).unsqueeze(-1).unsqueeze(-1), torch::zeros({i.size(0)}, torch::kLong)};
  }
  std::vector<std::string> class_names() const override { return {"x"}; }
  std::array<int64_t, 3> image_shape() const override { return {x_.size(1), 1, 1}; }

 private:
  torch::Tensor x_;
};

// Samples that are sums of 3 of 32 unit atoms in 16 dimensions with coefficients in [0.5, 1.5].
struct Planted {
  torch::Tensor atoms, x;
};
Planted planted(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  auto atoms = torch::randn({32, 16}, gen);
  atoms = atoms / atoms.norm(2, 1, true);
  auto codes = torch::zeros({n, 32});
  for (int64_t i = 0; i < n; ++i) {
    const auto pick = torch::randperm(32, gen, torch::kLong).narrow(0, 0, 3);
    codes[i].index_put_({pick}, torch::rand({3}, gen) + 0.5);
  }
  return {atoms, torch::matmul(codes, atoms)};
}

// The fraction of atoms some decoder row matches with cosine > 0.9.
double atoms_found(const torch::Tensor& atoms, SparseAutoencoderImpl& sae) {
  const auto dec = sae.w_dec.detach() / sae.w_dec.detach().norm(2, 1, true);
  const auto cos = torch::matmul(atoms, dec.t());  // [32,F]
  return std::get<0>(cos.max(1)).gt(0.9).to(torch::kDouble).mean().item<double>();
}

}  // namespace

TEST(Sae, ReluSaeRecoversAPlantedSparseDictionary) {
  const auto p = planted(4096, 1);
  const Vectors data(p.x);
  testing::LambdaNet identity([](const torch::Tensor& x) { return x * 1.0; });
  SaeTrainOptions o;
  o.spec.features = 64;
  o.l1 = 1.0;
  o.lr = 4e-3;
  o.steps = 1500;
  o.batch_size = 256;
  o.resample_every = 300;
  auto r = train_sae(identity, "out", data, o, torch::kCPU);
  EXPECT_GE(atoms_found(p.atoms, *r.sae), 0.8);
  // Decoder rows stay at unit norm.
  EXPECT_TRUE(torch::allclose(r.sae->w_dec.norm(2, 1), torch::ones({64}), 1e-5, 1e-5));
  const auto m = evaluate_sae(identity, "out", *r.sae, data, ActivationSampling::kPositions, torch::kCPU);
  EXPECT_GT(m.explained_variance, 0.8);
  EXPECT_LT(m.l0, 12.0);  // sparse: 3 atoms per sample
}

TEST(Sae, SilentFeaturesAreResampled) {
  // A dictionary 16 times larger than the 32 atoms under a strong L1: many features never
  // fire, and are re-initialised every 100 steps; the decoder stays unit-norm.
  const auto p = planted(1024, 4);
  const Vectors data(p.x);
  testing::LambdaNet identity([](const torch::Tensor& x) { return x * 1.0; });
  SaeTrainOptions o;
  o.spec.features = 512;
  o.l1 = 3.0;
  o.lr = 4e-3;
  o.steps = 200;
  o.batch_size = 256;
  o.resample_every = 100;
  auto r = train_sae(identity, "out", data, o, torch::kCPU);
  EXPECT_GT(r.resampled, 0);
  EXPECT_TRUE(torch::allclose(r.sae->w_dec.norm(2, 1), torch::ones({512}), 1e-5, 1e-5));
  o.resample_every = 0;
  o.steps = 100;
  EXPECT_EQ(train_sae(identity, "out", data, o, torch::kCPU).resampled, 0);
}

TEST(Sae, TopKSaeKeepsAtMostKFeaturesAndFindsTheAtoms) {
  const auto p = planted(4096, 2);
  const Vectors data(p.x);
  testing::LambdaNet identity([](const torch::Tensor& x) { return x * 1.0; });
  SaeTrainOptions o;
  o.spec.features = 64;
  o.spec.kind = SaeKind::kTopK;
  o.spec.k = 3;
  o.steps = 1500;
  o.batch_size = 256;
  auto r = train_sae(identity, "out", data, o, torch::kCPU);
  const auto f = r.sae->encode(p.x);
  EXPECT_LE(f.gt(0).sum(1).max().item<int64_t>(), 3);
  EXPECT_GE(atoms_found(p.atoms, *r.sae), 0.8);
}

TEST(Sae, AnIdentitySaeSplicedInLeavesTheClassifierUnchanged) {
  torch::manual_seed(0);
  const ModelSpec spec{"small_cnn", 3, 10};
  auto model = make_model(spec);
  model->eval();
  auto gen = make_generator(3);
  const TensorDataset data(torch::randint(0, 256, {24, 3, 28, 28}, gen, torch::kLong).to(torch::kUInt8),
                           torch::randint(0, 10, {24}, gen, torch::kLong), std::vector<std::string>(10, "c"));
  // conv2's activations are ReLU outputs (>= 0): ReLU(I·x) = x.
  const int64_t d = 64;
  SparseAutoencoder sae(SaeSpec{d, d, SaeKind::kRelu, 1});
  {
    torch::NoGradGuard no_grad;
    sae->w_enc.copy_(torch::eye(d));
    sae->w_dec.copy_(torch::eye(d));
  }
  for (const auto sampling : {ActivationSampling::kPositions, ActivationSampling::kPooled}) {
    const auto m = evaluate_sae(*model, "conv2", *sae, data, sampling, torch::kCPU, 10);
    EXPECT_EQ(m.accuracy_spliced, m.accuracy);
    EXPECT_NEAR(m.loss_spliced, m.loss, 1e-5);
    EXPECT_NEAR(m.loss_recovered, 1.0, 1e-4);
    EXPECT_NEAR(m.explained_variance, 1.0, 1e-9);
    EXPECT_NEAR(m.mse, 0.0, 1e-12);
  }
}

TEST(Sae, SteeringAddsTheFeatureDirectionAtTheTap) {
  // One channel of a 1x1 image; logits w_k · a with w = (2, -1): adding α to a moves
  // the logits by (2α, -α).
  testing::LinearNet net(torch::tensor({2.0f, -1.0f}).view({2, 1, 1, 1}));
  SparseAutoencoder sae(SaeSpec{1, 1, SaeKind::kRelu, 1});
  {
    torch::NoGradGuard no_grad;
    sae->w_dec.fill_(1.0f);
  }
  const auto images = torch::full({1, 1, 1, 1}, 0.5f);
  const auto p = steer(net, "features", *sae, 0, {0.0, 1.0}, images);
  for (int i = 0; i < 2; ++i) {
    const double a = 0.5 + i;
    const double p0 = 1.0 / (1.0 + std::exp(-3.0 * a));  // softmax of (2a, -a)
    EXPECT_NEAR(p[i][0].item<double>(), p0, 1e-6);
  }
  EXPECT_LOUPE_ERROR(steer(net, "features", *sae, 1, {1.0}, images), "SAE feature 1");
}

TEST(Sae, CheckpointRoundTripAndBadInput) {
  test::TempDir dir;
  const auto p = planted(256, 3);
  const Vectors data(p.x);
  testing::LambdaNet identity([](const torch::Tensor& x) { return x * 1.0; });
  SaeTrainOptions o;
  o.spec.features = 32;
  o.steps = 20;
  o.checkpoint = dir.path() / "sae.pt";
  auto r = train_sae(identity, "out", data, o, torch::kCPU);
  const auto back = load_sae(dir.path() / "sae.pt");
  EXPECT_EQ(back->spec().inputs, 16);
  EXPECT_TRUE(torch::equal(back->w_dec, r.sae->w_dec));
  EXPECT_TRUE(torch::equal(back->input_scale, r.sae->input_scale));
  EXPECT_TRUE(torch::allclose(back->encode(p.x), r.sae->encode(p.x)));
  EXPECT_EQ(sae_spec_from_json(sae_spec_json(back->spec()), "x").features, 32);
  // k larger than the dictionary, a classifier checkpoint, an unknown tap.
  EXPECT_LOUPE_ERROR(check_sae_spec(SaeSpec{16, 8, SaeKind::kTopK, 9}), "SAE k 9");
  const ModelSpec spec{"small_cnn", 3, 10};
  auto model = make_model(spec);
  save_checkpoint(dir.path() / "m.pt", {{kClassifierModule, model.get(), spec_json(spec)}}, {}, {});
  EXPECT_LOUPE_ERROR(load_sae(dir.path() / "m.pt"), "holds no sparse autoencoder");
  EXPECT_LOUPE_ERROR(train_sae(identity, "layer9", data, o, torch::kCPU), "tap 'layer9'");
}

}  // namespace loupe
