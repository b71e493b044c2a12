#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <random>

#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/zoo.h"
#include "models/format1_checkpoint.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::message_of;
namespace {

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A fixed batch and a few Adam steps: parameters, BN statistics and Adam's moments all
// move away from their initial values.
struct Fixture {
  ModelSpec spec{"small_cnn", 1, 4};
  torch::Tensor x, y;
  Fixture() {
    auto gen = at::detail::createCPUGenerator(42);
    x = at::rand({8, 1, 12, 12}, gen);
    y = torch::tensor({0, 1, 2, 3, 0, 1, 2, 3}, torch::kLong);
  }
  void step(TappedModel& model, torch::optim::Optimizer& opt) const {
    model.train();
    opt.zero_grad();
    torch::nn::functional::cross_entropy(model.forward(x), y).backward();
    opt.step();
  }
};

std::vector<torch::Tensor> snapshot(TappedModel& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : model.buffers()) out.push_back(b.clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// The one-classifier checkpoint the typed helpers read: module and optimiser "model".
void save_classifier(const fs::path& path, TappedModel& model, const ModelSpec& spec,
                     torch::optim::Optimizer* optimizer, const TrainingState& state = {}) {
  std::vector<CheckpointOptimizer> optimizers;
  if (optimizer) optimizers.push_back({kClassifierModule, optimizer});
  save_checkpoint(path, {{kClassifierModule, &model, spec_json(spec)}}, optimizers, state);
}

CheckpointInfo load_classifier(const fs::path& path, TappedModel& model, const ModelSpec& spec,
                               torch::optim::Optimizer* optimizer = nullptr) {
  std::vector<CheckpointOptimizer> optimizers;
  if (optimizer) optimizers.push_back({kClassifierModule, optimizer});
  return load_checkpoint(path, {{kClassifierModule, &model, spec_json(spec)}}, optimizers);
}

}  // namespace

TEST(Checkpoint, RoundTripGivesIdenticalModelAndHeader) {
  TempDir dir;
  Fixture f;
  torch::manual_seed(0);
  auto model = make_model(f.spec);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  for (int i = 0; i < 3; ++i) f.step(*model, adam);
  const fs::path path = dir.path() / "sub" / "model.pt";  // the folder does not exist yet
  save_classifier(path, *model, f.spec, &adam, {3, 1, R"([{"step":3,"epoch":1,"loss":0.5}])", R"({"note":"hello"})"});
  ASSERT_TRUE(fs::exists(path));
  for (const auto& entry : fs::directory_iterator(path.parent_path()))
    EXPECT_EQ(entry.path().filename(), "model.pt") << "temporary file left behind";

  const CheckpointInfo header = read_checkpoint_info(path);
  EXPECT_EQ(header.format, 2);
  const ModelSpec spec = classifier_spec(header, path);
  EXPECT_EQ(spec.arch, "small_cnn");
  EXPECT_EQ(spec.in_channels, 1);
  EXPECT_EQ(spec.num_classes, 4);
  EXPECT_EQ(header.optimizers.at("model"), "adam");
  EXPECT_EQ(header.state.step, 3);
  EXPECT_EQ(header.state.epoch, 1);
  EXPECT_EQ(header.state.history_json, R"([{"step":3,"epoch":1,"loss":0.5}])");
  EXPECT_EQ(header.state.extra_json, R"({"note":"hello"})");
  EXPECT_TRUE(header.resumable);

  CheckpointInfo info;
  auto loaded = load_model(path, &info);
  EXPECT_EQ(loaded->arch(), "small_cnn");
  EXPECT_EQ(info.state.step, 3);
  EXPECT_TRUE(same(snapshot(*model), snapshot(*loaded)));
  model->eval();
  loaded->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->forward(f.x), loaded->forward(f.x)));
  // Sanity: a freshly built model does not give these outputs.
  auto fresh = make_model(f.spec);
  fresh->eval();
  EXPECT_FALSE(torch::allclose(model->forward(f.x), fresh->forward(f.x)));
}

TEST(Checkpoint, AdamStateIsRestored) {
  TempDir dir;
  Fixture f;
  const fs::path path = dir.path() / "a.pt";
  torch::manual_seed(1);
  auto model = make_model(f.spec);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  for (int i = 0; i < 2; ++i) f.step(*model, adam);
  save_classifier(path, *model, f.spec, &adam, {2, 0, "[]", "{}"});
  f.step(*model, adam);
  const auto uninterrupted = snapshot(*model);

  torch::manual_seed(99);  // a different initialisation, overwritten by the load
  auto resumed = make_model(f.spec);
  torch::optim::Adam adam2(resumed->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  EXPECT_EQ(load_classifier(path, *resumed, f.spec, &adam2).state.step, 2);
  f.step(*resumed, adam2);
  EXPECT_TRUE(same(snapshot(*resumed), uninterrupted));

  // Without Adam's moments the same step lands elsewhere: the comparison above has teeth.
  auto no_state = make_model(f.spec);
  torch::optim::Adam adam3(no_state->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  load_classifier(path, *no_state, f.spec);
  f.step(*no_state, adam3);
  EXPECT_FALSE(torch::allclose(snapshot(*no_state)[0], uninterrupted[0]));
}

TEST(Checkpoint, SeveralModulesAndOptimisersRoundTrip) {
  // A GAN's generator and discriminator with their own optimisers, in one file.
  TempDir dir;
  const fs::path path = dir.path() / "gan.pt";
  torch::manual_seed(2);
  torch::nn::Linear generator(3, 5), discriminator(5, 1);
  torch::optim::Adam g_opt(generator->parameters(), torch::optim::AdamOptions(1e-2));
  torch::optim::SGD d_opt(discriminator->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  auto step = [&] {
    const auto z = torch::ones({4, 3});
    g_opt.zero_grad();
    d_opt.zero_grad();
    discriminator(generator(z)).sum().backward();
    g_opt.step();
    d_opt.step();
  };
  step();
  const std::vector<CheckpointModule> modules = {{"generator", generator.get(), R"({"arch":"linear","in":3,"out":5})"},
                                                 {"discriminator", discriminator.get(), R"({"arch":"linear","in":5,"out":1})"}};
  save_checkpoint(path, modules, {{"generator", &g_opt}, {"discriminator", &d_opt}}, {1, 1, "[]", "{}"});
  step();
  const auto g_after = generator->weight.clone(), d_after = discriminator->weight.clone();

  const auto info = read_checkpoint_info(path);
  EXPECT_EQ(info.specs.size(), 2u);
  EXPECT_EQ(info.optimizers.at("generator"), "adam");
  EXPECT_EQ(info.optimizers.at("discriminator"), "sgd");

  torch::manual_seed(50);
  torch::nn::Linear g2(3, 5), d2(5, 1);
  torch::optim::Adam g2_opt(g2->parameters(), torch::optim::AdamOptions(1e-2));
  torch::optim::SGD d2_opt(d2->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  load_checkpoint(path,
                  {{"generator", g2.get(), R"({"arch":"linear","in":3,"out":5})"},
                   {"discriminator", d2.get(), R"({"arch":"linear","in":5,"out":1})"}},
                  {{"generator", &g2_opt}, {"discriminator", &d2_opt}});
  const auto z = torch::ones({4, 3});
  g2_opt.zero_grad();
  d2_opt.zero_grad();
  d2(g2(z)).sum().backward();
  g2_opt.step();
  d2_opt.step();
  EXPECT_TRUE(torch::equal(g2->weight, g_after));
  EXPECT_TRUE(torch::equal(d2->weight, d_after));

  // A module the file does not hold is named with those it does.
  torch::nn::Linear other(3, 5);
  const auto msg = error_of([&] { load_checkpoint(path, {{"encoder", other.get(), R"({"arch":"linear"})"}}); });
  EXPECT_TRUE(contains(msg, "no module 'encoder'") && contains(msg, "discriminator, generator")) << msg;
}

TEST(Checkpoint, OtherArchitectureIsRefused) {
  TempDir dir;
  const fs::path path = dir.path() / "r.pt";
  const ModelSpec saved{"resnet18_small", 3, 10};
  auto model = make_model(saved);
  save_classifier(path, *model, saved, nullptr);

  auto cnn = make_model({"small_cnn", 3, 10});
  const auto before = snapshot(*cnn);
  auto msg = error_of([&] { load_classifier(path, *cnn, {"small_cnn", 3, 10}); });
  EXPECT_EQ(msg, "checkpoint " + path.string() +
                     " holds a resnet18_small (in_channels 3, num_classes 10); expected a small_cnn (in_channels 3, "
                     "num_classes 10)");
  EXPECT_TRUE(same(snapshot(*cnn), before));

  auto other = make_model({"resnet18_small", 1, 7});
  msg = error_of([&] { load_classifier(path, *other, {"resnet18_small", 1, 7}); });
  EXPECT_TRUE(contains(msg, "expected a resnet18_small (in_channels 1, num_classes 7)")) << msg;
  // A classifier file is not a VAE.
  msg = error_of([&] { load_vae(path); });
  EXPECT_TRUE(contains(msg, "holds resnet18_small") && contains(msg, "expected a vae_conv64")) << msg;
}

TEST(Checkpoint, OtherOptimiserIsRefused) {
  TempDir dir;
  Fixture f;
  const fs::path path = dir.path() / "o.pt";
  auto model = make_model(f.spec);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  f.step(*model, adam);
  save_classifier(path, *model, f.spec, &adam);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const auto before = snapshot(*model);
  const auto msg = error_of([&] { load_classifier(path, *model, f.spec, &sgd); });
  EXPECT_TRUE(contains(msg, path.string()) && contains(msg, "adam") && contains(msg, "sgd")) << msg;
  EXPECT_TRUE(same(snapshot(*model), before));
}

TEST(Checkpoint, WeightsWithNaNAreRefusedNamingTheTensor) {
  TempDir dir;
  Fixture f;
  const fs::path path = dir.path() / "nan.pt";
  auto model = make_model(f.spec);
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["conv2.weight"].view(-1)[3] = std::numeric_limits<float>::infinity();
    model->named_parameters()["conv3.weight"].view(-1)[0] = std::nan("");
  }
  save_classifier(path, *model, f.spec, nullptr);
  auto msg = error_of([&] { load_model(path); });
  EXPECT_TRUE(contains(msg, path.string()) && contains(msg, "'conv2.weight'") && contains(msg, "NaN or infinite"))
      << msg;
  auto target = make_model(f.spec);
  const auto before = snapshot(*target);
  msg = error_of([&] { load_classifier(path, *target, f.spec); });
  EXPECT_TRUE(contains(msg, "'conv2.weight'")) << msg;
  EXPECT_TRUE(same(snapshot(*target), before)) << "a refused load must leave the model as it was";
}

// The bytes of a freshly built small_cnn saved at `path`.
std::string saved_checkpoint_bytes(const fs::path& path) {
  Fixture f;
  auto model = make_model(f.spec);
  save_classifier(path, *model, f.spec, nullptr);
  return read_file(path);
}

TEST(Checkpoint, TruncatedFileIsRefused) {
  TempDir dir;
  const fs::path cut = dir.path() / "cut.pt";
  const std::string bytes = saved_checkpoint_bytes(dir.path() / "good.pt");
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t keep : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 30}) {
    write_bytes(cut, bytes.substr(0, keep));
    const auto msg = error_of([&] { load_model(cut); });
    EXPECT_TRUE(contains(msg, "checkpoint " + cut.string()) && contains(msg, "not a readable loupe checkpoint"))
        << "kept " << keep << " bytes: " << msg;
    EXPECT_TRUE(contains(error_of([&] { read_checkpoint_info(cut); }), cut.string()));
  }
}

TEST(Checkpoint, FlippedBytesAreRefusedWithThePathAndNoRawBytes) {
  TempDir dir;
  const fs::path flipped = dir.path() / "flipped.pt";
  const std::string bytes = saved_checkpoint_bytes(dir.path() / "good.pt");
  // The archive's structure (the pickled header near the start, the zip directory at the
  // end); flips inside the weights' bytes load changed weights, as they would in PyTorch.
  std::vector<size_t> positions;
  for (size_t at = 0; at < 3000; at += 17) positions.push_back(at);
  for (size_t at = bytes.size() - 1000; at < bytes.size(); at += 9) positions.push_back(at);
  int refused = 0;
  for (const size_t at : positions) {
    std::string copy = bytes;
    copy[at] = static_cast<char>(copy[at] ^ 0x21);
    write_bytes(flipped, copy);
    try {
      load_model(flipped);  // a flip inside a weight's bytes loads (changed) weights
    } catch (const Error& e) {
      ++refused;
      const std::string msg = e.what();
      EXPECT_TRUE(contains(msg, flipped.string())) << "flip at " << at << ": " << msg;
      for (unsigned char ch : msg) ASSERT_TRUE(ch >= 0x20 && ch < 0x7f) << "flip at " << at << ": " << msg;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(Checkpoint, GarbageAndMissingFilesAreRefused) {
  TempDir dir;
  const fs::path garbage = dir.path() / "garbage.pt";
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  write_bytes(garbage, noise);
  auto model = make_model({"small_cnn", 1, 4});
  auto msg = error_of([&] { load_classifier(garbage, *model, {"small_cnn", 1, 4}); });
  EXPECT_TRUE(contains(msg, "checkpoint " + garbage.string()) && contains(msg, "not a readable loupe checkpoint"))
      << msg;

  // A valid archive that loupe did not write (torch::save of a tensor).
  const fs::path foreign = dir.path() / "foreign.pt";
  torch::save(torch::ones({3}), foreign.string());
  msg = error_of([&] { read_checkpoint_info(foreign); });
  EXPECT_TRUE(contains(msg, foreign.string()) && contains(msg, "not a")) << msg;

  const fs::path missing = dir.path() / "missing.pt";
  msg = error_of([&] { load_model(missing); });
  EXPECT_TRUE(contains(msg, missing.string()) && contains(msg, "not found")) << msg;
  msg = error_of([&] { load_model(dir.path()); });
  EXPECT_TRUE(contains(msg, "not found")) << "a folder is not a checkpoint: " << msg;
}

TEST(Checkpoint, VaeRoundTripAndOtherLatentCountRefused) {
  TempDir dir;
  torch::manual_seed(3);
  const auto spec = VaeSpec().set_channels(1).set_latents(4).set_likelihood(Likelihood::kGaussian);
  Vae vae(spec);
  const auto path = dir.path() / "vae.pt";
  save_checkpoint(path, {{kVaeModule, vae.get(), spec_json(spec)}}, {}, {17, 2, "[]", R"({"note":1})"});
  CheckpointInfo info;
  Vae loaded = load_vae(path, &info);
  EXPECT_EQ(info.state.step, 17);
  EXPECT_EQ(info.state.extra_json, R"({"note":1})");
  EXPECT_TRUE(loaded->spec() == spec);
  const auto x = torch::rand({2, 1, 64, 64});
  EXPECT_TRUE(torch::equal(vae->reconstruct(x), loaded->reconstruct(x)));

  Vae five(VaeSpec().set_channels(1).set_latents(5).set_likelihood(Likelihood::kGaussian));
  const auto before = five->encoder->conv1->weight.clone();
  const auto msg =
      error_of([&] { load_checkpoint(path, {{kVaeModule, five.get(), spec_json(five->spec())}}); });
  EXPECT_TRUE(contains(msg, "latents 4") && contains(msg, "latents 5") && contains(msg, path.string())) << msg;
  EXPECT_TRUE(torch::equal(before, five->encoder->conv1->weight));
  // A VAE file is not a classifier.
  EXPECT_TRUE(contains(error_of([&] { load_model(path); }), "expected a classifier")) << error_of([&] { load_model(path); });
}

TEST(Checkpoint, SpecsClaimingHugeModelsAreRefused) {
  // A corrupt header must not make load_model build a model of billions of classes.
  auto msg = error_of([] { model_spec_from_json(R"({"arch":"small_cnn","in_channels":3,"num_classes":5000000000})", "x.pt"); });
  EXPECT_TRUE(contains(msg, "x.pt: num_classes 5000000000")) << msg;
  msg = error_of([] {
    vae_spec_from_json(R"({"arch":"vae_conv64","channels":3,"latents":-4,"likelihood":"bernoulli"})", "v.pt");
  });
  EXPECT_TRUE(contains(msg, "v.pt: latents -4")) << msg;
  EXPECT_EQ(model_spec_from_json(R"({"arch":"small_cnn","in_channels":1,"num_classes":10})", "ok").num_classes, 10);
}

TEST(Checkpoint, Format1FilesStillLoad) {
  TempDir dir;
  Fixture f;
  auto model = make_model(f.spec);
  const fs::path classifier = dir.path() / "old_classifier.pt";
  test::save_format1(classifier, *model, test::format1_classifier_header("small_cnn", 1, 4, 3));
  CheckpointInfo info;
  auto loaded = load_model(classifier, &info);
  EXPECT_EQ(info.format, 1);
  EXPECT_EQ(info.state.epoch, 3);
  EXPECT_FALSE(info.resumable);
  EXPECT_TRUE(same(snapshot(*model), snapshot(*loaded)));

  torch::manual_seed(8);
  Vae vae(VaeSpec().set_channels(3).set_latents(6));
  const fs::path old_vae = dir.path() / "old_vae.pt";
  test::save_format1(old_vae, *vae,
               {{"arch", c10::IValue(std::string("vae_conv64"))},
                {"in_channels", c10::IValue(int64_t{3})},
                {"latents", c10::IValue(int64_t{6})},
                {"likelihood", c10::IValue(std::string("bernoulli"))},
                {"step", c10::IValue(int64_t{40})},
                {"extra_json", c10::IValue(std::string(R"([{"step":40,"epoch":2,"loss":12.5}])"))}});
  Vae loaded_vae = load_vae(old_vae, &info);
  EXPECT_EQ(info.state.step, 40);
  EXPECT_TRUE(info.resumable);
  EXPECT_EQ(loaded_vae->spec().latents, 6);
  EXPECT_TRUE(torch::equal(loaded_vae->encoder->conv1->weight, vae->encoder->conv1->weight));
  EXPECT_EQ(info.state.history_json, R"([{"step":40,"epoch":2,"loss":12.5}])");
}

}  // namespace loupe
