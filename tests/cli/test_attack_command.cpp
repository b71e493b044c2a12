// `loupe attack` end to end on an untrained small CNN: adversarial and perturbation PNGs,
// metrics consistent with the attack; bad input fails with one line and no output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_helpers.h"
#include "loupe/cli.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/vae.h"
#include "loupe/models/zoo.h"
#include "test_util.h"

namespace loupe {
namespace {

test::CliRun run_attack_command(std::vector<std::string> args) { return test::run_command("attack", std::move(args)); }

}  // namespace

TEST(CliAttack, EveryTargetWritesImagesAndConsistentMetrics) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto out = dir.path() / "out";
  const auto r = run_attack_command({"--checkpoint", (dir.path() / "m.pt").string(), "--images",
                                     (dir.path() / "imgs").string(), "--target", "all", "--eps", "0.1", "--goal",
                                     "0.5", "--min-eps", "--max-eps", "0.2", "--device", "cpu", "--out", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = test::read_metrics(out);
  // Two images × nine other classes.
  const auto names = m["rows"]["name"].get<std::vector<std::string>>();
  ASSERT_EQ(names.size(), 18u);
  for (const auto& name : names) {
    EXPECT_TRUE(fs::exists(out / "adversarial" / (name + ".png"))) << name;
    EXPECT_TRUE(fs::exists(out / "perturbation" / (name + ".png"))) << name;
  }
  const auto predicted = m["predicted"].get<std::vector<int64_t>>();
  const auto image = m["rows"]["image"].get<std::vector<int64_t>>();
  const auto target = m["rows"]["target"].get<std::vector<int64_t>>();
  const auto success = m["rows"]["success"].get<std::vector<int64_t>>();
  const auto p = m["rows"]["probability"].get<std::vector<double>>();
  const auto linf = m["rows"]["linf"].get<std::vector<double>>();
  const auto& eps = m["rows"]["minimal_epsilon"];
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_NE(target[i], predicted[static_cast<size_t>(image[i])]) << i;
    EXPECT_EQ(success[i], p[i] >= 0.5 ? 1 : 0) << i;
    // A reached row's perturbation stays within its minimal ε; an unreached one is null.
    EXPECT_EQ(eps[i].is_null(), success[i] == 0) << i;
    if (!eps[i].is_null()) {
      EXPECT_LE(linf[i], eps[i].get<double>() + 1e-6) << i;
    }
  }
}

TEST(CliAttack, BadInputFailsWithOneLineAndNoOutput) {
  test::TempDir dir;
  test::write_small_cnn_and_images(dir.path());
  const auto ckpt = (dir.path() / "m.pt").string();
  const auto imgs = (dir.path() / "imgs").string();
  const auto out = dir.path() / "out";
  const auto vae_ckpt = dir.path() / "vae.pt";
  Vae vae{VaeSpec()};
  save_checkpoint(vae_ckpt, {{kVaeModule, vae.get(), spec_json(VaeSpec())}}, {}, {});
  struct Case {
    std::vector<std::string> args;
    std::string part;
    int code = 1;
  };
  const std::vector<Case> cases = {
      {{"--checkpoint", ckpt, "--images", imgs, "--target", "10"}, "--target '10'"},
      {{"--checkpoint", ckpt, "--images", imgs, "--eps", "-0.1"}, "--eps -0.1"},
      {{"--checkpoint", ckpt, "--images", imgs, "--norm", "l2"}, "use pgd for l2"},
      {{"--checkpoint", ckpt, "--images", imgs, "--method", "fgsm"}, "fgsm", 2},
      {{"--checkpoint", vae_ckpt.string(), "--images", imgs}, vae_ckpt.string()},
  };
  for (auto c : cases) {
    c.args.insert(c.args.end(), {"--device", "cpu", "--out", out.string()});
    const auto r = run_attack_command(c.args);
    EXPECT_EQ(r.code, c.code) << c.part;
    EXPECT_TRUE(test::contains(r.err, c.part)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.part;
  }
}

}  // namespace loupe
