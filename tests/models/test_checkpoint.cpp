#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <random>

#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/zoo.h"
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

}  // namespace

TEST(Checkpoint, RoundTripGivesIdenticalModelAndHeader) {
  TempDir dir;
  Fixture f;
  torch::manual_seed(0);
  auto model = make_model(f.spec);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  for (int i = 0; i < 3; ++i) f.step(*model, adam);
  const fs::path path = dir.path() / "sub" / "model.pt";  // the folder does not exist yet
  save_checkpoint(path, *model, f.spec, &adam, 3, R"({"note":"hello"})");
  ASSERT_TRUE(fs::exists(path));
  for (const auto& entry : fs::directory_iterator(path.parent_path()))
    EXPECT_EQ(entry.path().filename(), "model.pt") << "temporary file left behind";

  const CheckpointInfo header = read_checkpoint_info(path);
  EXPECT_EQ(header.spec.arch, "small_cnn");
  EXPECT_EQ(header.spec.in_channels, 1);
  EXPECT_EQ(header.spec.num_classes, 4);
  EXPECT_EQ(header.step, 3);
  EXPECT_EQ(header.extra_json, R"({"note":"hello"})");

  CheckpointInfo info;
  auto loaded = load_model(path, &info);
  EXPECT_EQ(loaded->arch(), "small_cnn");
  EXPECT_EQ(info.step, 3);
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
  save_checkpoint(path, *model, f.spec, &adam, 2);
  f.step(*model, adam);
  const auto uninterrupted = snapshot(*model);

  torch::manual_seed(99);  // a different initialisation, overwritten by the load
  auto resumed = make_model(f.spec);
  torch::optim::Adam adam2(resumed->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  EXPECT_EQ(load_checkpoint(path, *resumed, f.spec, &adam2).step, 2);
  f.step(*resumed, adam2);
  EXPECT_TRUE(same(snapshot(*resumed), uninterrupted));

  // Without Adam's moments the same step lands elsewhere: the comparison above has teeth.
  auto no_state = make_model(f.spec);
  torch::optim::Adam adam3(no_state->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  load_checkpoint(path, *no_state, f.spec);
  f.step(*no_state, adam3);
  EXPECT_FALSE(torch::allclose(snapshot(*no_state)[0], uninterrupted[0]));
}

TEST(Checkpoint, OtherArchitectureIsRefused) {
  TempDir dir;
  const fs::path path = dir.path() / "r.pt";
  const ModelSpec saved{"resnet18_small", 3, 10};
  auto model = make_model(saved);
  save_checkpoint(path, *model, saved, nullptr, 0);

  auto cnn = make_model({"small_cnn", 3, 10});
  const auto before = snapshot(*cnn);
  auto msg = error_of([&] { load_checkpoint(path, *cnn, {"small_cnn", 3, 10}); });
  EXPECT_EQ(msg, "checkpoint " + path.string() +
                     " holds a resnet18_small (3 channels, 10 classes); expected a small_cnn (3 channels, 10 classes)");
  EXPECT_TRUE(same(snapshot(*cnn), before));

  auto other = make_model({"resnet18_small", 1, 7});
  msg = error_of([&] { load_checkpoint(path, *other, {"resnet18_small", 1, 7}); });
  EXPECT_TRUE(contains(msg, "expected a resnet18_small (1 channel, 7 classes)")) << msg;
}

TEST(Checkpoint, OtherOptimiserIsRefused) {
  TempDir dir;
  Fixture f;
  const fs::path path = dir.path() / "o.pt";
  auto model = make_model(f.spec);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  f.step(*model, adam);
  save_checkpoint(path, *model, f.spec, &adam, 1);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const auto msg = error_of([&] { load_checkpoint(path, *model, f.spec, &sgd); });
  EXPECT_TRUE(contains(msg, path.string()) && contains(msg, "adam") && contains(msg, "sgd")) << msg;
}

TEST(Checkpoint, TruncatedFileIsRefused) {
  TempDir dir;
  Fixture f;
  const fs::path good = dir.path() / "good.pt", cut = dir.path() / "cut.pt";
  auto model = make_model(f.spec);
  save_checkpoint(good, *model, f.spec, nullptr, 1);
  const std::string bytes = read_file(good);
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t keep : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 30}) {
    write_bytes(cut, bytes.substr(0, keep));
    const auto msg = error_of([&] { load_model(cut); });
    EXPECT_TRUE(contains(msg, "checkpoint " + cut.string()) && contains(msg, "not a readable loupe checkpoint"))
        << "kept " << keep << " bytes: " << msg;
    EXPECT_TRUE(contains(error_of([&] { read_checkpoint_info(cut); }), cut.string()));
  }
}

TEST(Checkpoint, GarbageAndMissingFilesAreRefused) {
  TempDir dir;
  const fs::path garbage = dir.path() / "garbage.pt";
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  write_bytes(garbage, noise);
  auto model = make_model({"small_cnn", 1, 4});
  auto msg = error_of([&] { load_checkpoint(garbage, *model, {"small_cnn", 1, 4}); });
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
}

}  // namespace loupe
