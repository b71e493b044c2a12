#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "loupe/studies/disentangle.h"
#include "test_util.h"

namespace loupe {
namespace {

using report::json;

DisentangleStudyOptions tiny_disentangle(const fs::path& out) {
  DisentangleStudyOptions o;
  o.common.out = out;
  o.latents = 4;
  o.steps = 4;
  o.pool = 64;
  o.eval_images = 100;
  o.traversal_steps = 3;
  return o;
}

json read_metrics(const fs::path& dir) {
  std::ifstream in(dir / "metrics.json");
  return json::parse(in);
}

TEST(DisentangleStudy, TinyRunWritesScoresInRangeAndReloadsItsModel) {
  test::TempDir tmp;
  const auto out = tmp.path() / "trained";
  run_disentangle_study(tiny_disentangle(out));
  ASSERT_TRUE(fs::exists(out / "report.html"));
  ASSERT_TRUE(fs::exists(out / "models" / "vae.pt"));
  const auto m = read_metrics(out);
  const double mig = m["mig"]["mean"].get<double>();
  EXPECT_GE(mig, 0.0);
  EXPECT_LE(mig, 1.0);
  // The mean is the mean of the six per-factor gaps.
  double sum = 0;
  ASSERT_EQ(m["mig"]["per_factor"].size(), 6u);
  for (const auto& [name, v] : m["mig"]["per_factor"].items()) sum += v.get<double>();
  EXPECT_NEAR(mig, sum / 6.0, 1e-9);
  const double ssim = m["ssim"]["mean"].get<double>();
  EXPECT_GE(ssim, -1.0);
  EXPECT_LE(ssim, 1.0);
  ASSERT_EQ(m["mig"]["mutual_information"].size(), 4u);
  EXPECT_EQ(m["mig"]["mutual_information"][0].size(), 6u);
  // Dead dimensions are exactly those below 0.01 nats, and the order is by KL, largest first.
  const auto kl = m["latents"]["kl"].get<std::vector<double>>();
  const auto order = m["latents"]["order"].get<std::vector<int64_t>>();
  ASSERT_EQ(kl.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(m["latents"]["dead"][i].get<bool>(), kl[i] < 0.01);
  for (size_t i = 1; i < 4; ++i) EXPECT_GE(kl[order[i - 1]], kl[order[i]]);
  EXPECT_EQ(m["settings"]["steps"].get<int64_t>(), 4);
  EXPECT_EQ(m["history"].back()["step"].get<int64_t>(), 4);
  EXPECT_EQ(m["assignment"].size(), 6u);

  // The checkpoint, studied on the same held-out images, gives the same numbers and history.
  auto again = tiny_disentangle(tmp.path() / "loaded");
  again.model = out / "models" / "vae.pt";
  run_disentangle_study(again);
  const auto m2 = read_metrics(tmp.path() / "loaded");
  EXPECT_DOUBLE_EQ(m2["mig"]["mean"].get<double>(), mig);
  EXPECT_DOUBLE_EQ(m2["ssim"]["mean"].get<double>(), ssim);
  EXPECT_EQ(m2["history"].size(), m["history"].size());
  EXPECT_EQ(m2["settings"]["steps"].get<int64_t>(), 4);

  // --resume continues the checkpoint up to the new step count and keeps its history.
  auto more = tiny_disentangle(out);
  more.steps = 6;
  more.resume = true;
  run_disentangle_study(more);
  const auto m3 = read_metrics(out);
  EXPECT_EQ(m3["history"].back()["step"].get<int64_t>(), 6);
  EXPECT_EQ(m3["history"][0], m["history"][0]);
}

TEST(DisentangleStudy, ExplicitStepsOutlastThePresetEpochs) {
  // The paper preset trains 50 epochs; a pool of one batch makes that 50 steps, and an
  // explicit --steps 52 must still train 52 (it stopped at 50 before).
  test::TempDir dir;
  auto o = tiny_disentangle(dir.path());
  o.common.preset = Preset::kPaper;
  o.eval_images = 20;
  o.steps = 52;
  run_disentangle_study(o);
  EXPECT_EQ(read_metrics(dir.path())["settings"]["steps"].get<int64_t>(), 52);
}

TEST(DisentangleStudy, BadInputIsAClearError) {
  test::TempDir tmp;
  auto o = tiny_disentangle(tmp.path());
  auto message = [&](auto edit) {
    auto bad = o;
    edit(bad);
    return test::error_of([&] { run_disentangle_study(bad); });
  };
  EXPECT_TRUE(test::contains(message([](auto& b) { b.objective = "vea"; }), "vea"));
  EXPECT_TRUE(test::contains(message([](auto& b) { b.latents = 1; }), "--latents 1"));
  EXPECT_TRUE(test::contains(message([](auto& b) { b.pool = 1; }), "--pool 1"));
  EXPECT_TRUE(test::contains(message([](auto& b) { b.model = "/nonexistent/vae.pt"; }), "/nonexistent/vae.pt"));
  EXPECT_TRUE(test::contains(test::error_of([] { parse_preset("fast", "--preset"); }), "--preset 'fast'"));
  EXPECT_TRUE(test::contains(message([](auto& b) {
                               b.model = "/nonexistent/vae.pt";
                               b.resume = true;
                             }),
                             "give one of them"));
  EXPECT_FALSE(fs::exists(tmp.path() / "report.html"));
}

}  // namespace
}  // namespace loupe
