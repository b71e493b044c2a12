#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/models/vae_checkpoint.h"

namespace loupe {
namespace {

fs::path temp_path(const std::string& name) { return fs::temp_directory_path() / ("loupe_test_vae_" + name); }

}  // namespace

TEST(VaeCheckpoint, RoundTripRebuildsTheSameVae) {
  torch::manual_seed(3);
  const auto spec = VaeSpec().set_channels(1).set_latents(4).set_likelihood(Likelihood::kGaussian);
  Vae vae(spec);
  const auto path = temp_path("roundtrip.pt");
  save_vae_checkpoint(path, *vae, nullptr, 17, R"({"note":1})");
  VaeCheckpointInfo info;
  Vae loaded = load_vae(path, &info);
  EXPECT_EQ(info.step, 17);
  EXPECT_EQ(info.extra_json, R"({"note":1})");
  EXPECT_TRUE(info.spec == spec);
  const auto x = torch::rand({2, 1, 64, 64});
  EXPECT_TRUE(torch::equal(vae->reconstruct(x), loaded->reconstruct(x)));
  fs::remove(path);
}

TEST(VaeCheckpoint, RefusesAnotherLatentCountAndLoadsNothing) {
  torch::manual_seed(4);
  Vae four(VaeSpec().set_channels(3).set_latents(4));
  const auto path = temp_path("four.pt");
  save_vae_checkpoint(path, *four, nullptr, 1);
  Vae five(VaeSpec().set_channels(3).set_latents(5));
  const auto before = five->encoder->conv1->weight.clone();
  try {
    load_vae_checkpoint(path, *five);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("4 latents"), std::string::npos) << msg;
    EXPECT_NE(msg.find("5 latents"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  }
  EXPECT_TRUE(torch::equal(before, five->encoder->conv1->weight));
  fs::remove(path);
}

TEST(VaeCheckpoint, MissingOrCorruptFilesAreNamed) {
  const auto path = temp_path("corrupt.pt");
  EXPECT_THROW(read_vae_checkpoint_info(path), Error);
  write_file_atomic(path, "not a checkpoint");
  try {
    read_vae_checkpoint_info(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  fs::remove(path);
}

}  // namespace loupe
