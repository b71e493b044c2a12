#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/attack/attack.h"

namespace loupe {
namespace {

// Two classes on 1x4x4 images: logit_1 − logit_0 = Δw·x + Δb with Δw = w1 − w0. Under an
// L∞ budget ε (no clipping: inputs at 0.5, ε < 0.5) the best a perturbation can do is
// ε·sign(Δw), which raises the difference by ε‖Δw‖₁; p(1) >= goal needs a difference of
// log(goal/(1−goal)), so the minimal ε has a closed form.
struct TwoClassLinear {
  torch::Tensor w, delta_w;
  double delta_b = 0;
  TwoClassLinear() {
    delta_w = 10 * torch::tensor({0.9, -0.4, 0.2, -1.1, 0.5, 0.3, -0.7, 0.6, -0.2, 0.8, 0.1, -0.3, 0.4, -0.6, 0.9, -0.5})
                       .view({1, 4, 4})
                       .to(torch::kFloat);
    w = torch::stack({torch::zeros_like(delta_w), delta_w});
    delta_b = -0.5 * delta_w.sum().item<double>() - 0.5;  // the difference is −0.5 at the grey image
  }
  testing::LinearNet net() const { return testing::LinearNet(w, torch::tensor({0.0f, static_cast<float>(delta_b)})); }
  // Logit difference at x = 0.5 everywhere.
  double start() const { return 0.5 * delta_w.sum().item<double>() + delta_b; }
  double minimal_linf(double goal) const {
    return (std::log(goal / (1 - goal)) - start()) / delta_w.abs().sum().item<double>();
  }
};

torch::Tensor grey(int64_t n) { return torch::full({n, 1, 4, 4}, 0.5f); }

}  // namespace

TEST(Attack, LinfPerturbationOnALinearModelIsEpsilonTimesTheSignOfTheWeights) {
  TwoClassLinear lin;
  auto net = lin.net();
  for (const auto method : {AttackMethod::kIfgsm, AttackMethod::kPgd}) {
    // A goal it cannot reach within ε = 0.03: every step is taken, and both methods end on
    // the optimal corner of the L∞ ball.
    const auto o = AttackOptions().set_method(method).set_epsilon(0.03).set_goal(1.0).set_steps(12).set_step_size(0.01);
    const auto r = attack(net, grey(1), torch::tensor({int64_t{1}}), true, o);
    const auto delta = r.adversarial[0] - 0.5f;
    EXPECT_TRUE(torch::allclose(delta, 0.03f * lin.delta_w.sign(), 1e-6, 1e-6)) << static_cast<int>(method);
    EXPECT_EQ(r.steps[0].item<int64_t>(), 12);
    EXPECT_FALSE(r.success[0].item<bool>());
  }
}

TEST(Attack, L2PerturbationOnALinearModelIsAlongTheWeights) {
  TwoClassLinear lin;
  auto net = lin.net();
  const auto o = AttackOptions()
                     .set_method(AttackMethod::kPgd)
                     .set_norm(AttackNorm::kL2)
                     .set_random_start(false)
                     .set_epsilon(0.2)
                     .set_goal(1.0)
                     .set_steps(10)
                     .set_step_size(0.05);
  const auto r = attack(net, grey(1), torch::tensor({int64_t{1}}), true, o);
  const auto expected = 0.2f * lin.delta_w / lin.delta_w.norm();
  EXPECT_TRUE(torch::allclose(r.adversarial[0] - 0.5f, expected, 1e-5, 1e-6));
  // Untargeted away from the predicted class 0: the same direction, and it stops after the
  // one step that flips the prediction (the difference rises by 0.05·‖Δw‖₂ ≈ 1.2 > 0.5).
  const auto u = attack(net, grey(1), torch::tensor({int64_t{0}}), false, o);
  EXPECT_EQ(u.steps[0].item<int64_t>(), 1);
  EXPECT_TRUE(u.success[0].item<bool>());
  EXPECT_TRUE(torch::allclose(u.adversarial[0] - 0.5f, 0.25f * expected, 1e-5, 1e-6));
}

TEST(Attack, MinimalEpsilonMatchesTheClosedFormOnALinearModel) {
  TwoClassLinear lin;
  auto net = lin.net();
  const double exact = lin.minimal_linf(0.9);
  ASSERT_GT(exact, 0.005);
  ASSERT_LT(exact, 0.05);
  const auto m = minimal_epsilon(net, grey(1), torch::tensor({int64_t{1}}), true, AttackOptions(),
                                 MinimalEpsilonOptions().set_max_epsilon(0.05).set_tolerance(1e-4));
  ASSERT_TRUE(m.reached[0].item<bool>());
  const double found = m.epsilon[0].item<double>();
  EXPECT_GE(found, exact - 1e-6);  // an upper end of the bracket: never below the true minimum
  EXPECT_LE(found, exact + 1e-4);
  EXPECT_GE(m.at_epsilon.probability[0].item<double>(), 0.9);
  // A budget below the closed form cannot succeed: not reached, reported as +inf.
  const auto small = minimal_epsilon(net, grey(1), torch::tensor({int64_t{1}}), true, AttackOptions(),
                                     MinimalEpsilonOptions().set_max_epsilon(0.9 * exact));
  EXPECT_FALSE(small.reached[0].item<bool>());
  EXPECT_TRUE(std::isinf(small.epsilon[0].item<double>()));
  // An image already classified as the target needs no perturbation.
  const auto none = minimal_epsilon(net, torch::zeros({1, 1, 4, 4}), torch::tensor({int64_t{0}}), true, AttackOptions());
  EXPECT_EQ(none.epsilon[0].item<double>(), 0.0);
  EXPECT_EQ(none.rounds, 1);
}

TEST(Attack, StopsEachRowAtTheConfidenceGoal) {
  TwoClassLinear lin;
  auto net = lin.net();
  const auto o = AttackOptions().set_epsilon(0.05).set_step_size(0.002).set_steps(40);
  const auto r = attack(net, grey(1), torch::tensor({int64_t{1}}), true, o);
  ASSERT_TRUE(r.success[0].item<bool>());
  const int64_t steps = r.steps[0].item<int64_t>();
  ASSERT_GT(steps, 1);
  ASSERT_LT(steps, 40);
  EXPECT_GE(r.probability[0].item<double>(), 0.9);
  // One step fewer (no goal to stop at) falls short of it.
  const auto before = attack(net, grey(1), torch::tensor({int64_t{1}}), true,
                             AttackOptions(o).set_steps(steps - 1).set_goal(1.0));
  EXPECT_LT(before.probability[0].item<double>(), 0.9);
}

TEST(Attack, StaysInTheBallAndInsideTheImageRange) {
  torch::manual_seed(3);
  testing::LinearNet net(torch::randn({5, 3, 6, 6}), torch::randn({5}));
  const auto images = torch::rand({8, 3, 6, 6}).pow(4);  // many pixels near 0
  const auto eps = torch::linspace(0.0, 0.3, 8, torch::kDouble);
  for (const auto norm : {AttackNorm::kLinf, AttackNorm::kL2}) {
    const auto o = AttackOptions().set_method(AttackMethod::kPgd).set_norm(norm).set_seed(5).set_goal(1.0);
    const auto r = attack(net, images, torch::arange(8, torch::kLong) % 5, true, o, eps);
    EXPECT_GE(r.adversarial.min().item<double>(), 0.0);
    EXPECT_LE(r.adversarial.max().item<double>(), 1.0);
    const auto d = (r.adversarial - images).flatten(1);
    const auto size = norm == AttackNorm::kLinf ? d.abs().amax(1) : d.norm(2, 1);
    EXPECT_TRUE(size.to(torch::kDouble).le(eps + 1e-5).all().item<bool>()) << static_cast<int>(norm);
  }
}

TEST(Attack, AGridOfImagesTimesTargetsEqualsOneRowAtATime) {
  torch::manual_seed(4);
  testing::LinearNet net(torch::randn({4, 2, 5, 5}) * 0.3, torch::randn({4}));
  const auto images = torch::rand({3, 2, 5, 5});
  const auto labels = torch::tensor({int64_t{0}, int64_t{2}, int64_t{3}});
  const auto grid = target_grid(labels, 4);
  ASSERT_EQ(grid.image.size(0), 9);
  EXPECT_EQ(grid.image[3].item<int64_t>(), 1);
  EXPECT_EQ(grid.target[3].item<int64_t>(), 0);
  EXPECT_EQ(grid.target[4].item<int64_t>(), 1);
  const auto rows = images.index_select(0, grid.image);
  for (const auto method : {AttackMethod::kIfgsm, AttackMethod::kPgd}) {
    const auto o = AttackOptions().set_method(method).set_epsilon(0.04).set_batch_size(4).set_seed(9);
    const auto all = attack(net, rows, grid.target, true, o);
    for (int64_t i = 0; i < rows.size(0); ++i) {
      const auto one = attack(net, rows.slice(0, i, i + 1), grid.target.slice(0, i, i + 1), true, o);
      EXPECT_TRUE(torch::allclose(all.adversarial[i], one.adversarial[0], 1e-6, 1e-6)) << i;
      EXPECT_EQ(all.steps[i].item<int64_t>(), one.steps[0].item<int64_t>()) << i;
      EXPECT_EQ(all.success[i].item<bool>(), one.success[0].item<bool>()) << i;
    }
  }
}

TEST(Attack, KurakinDefaultsAndBadInput) {
  const AttackOptions ifgsm;
  EXPECT_EQ(attack_steps(ifgsm, 0.05), 16);  // ε = 12.75/255: min(16.75, 15.94) → 16
  EXPECT_EQ(attack_steps(ifgsm, 0.3), 81);   // min(80.5, 95.6) → 81
  EXPECT_DOUBLE_EQ(attack_step_size(ifgsm, 0.05), 1.0 / 255.0);
  const auto pgd = AttackOptions().set_method(AttackMethod::kPgd);
  EXPECT_EQ(attack_steps(pgd, 0.05), 40);
  EXPECT_DOUBLE_EQ(attack_step_size(pgd, 0.04), 0.0025);

  TwoClassLinear lin;
  auto net = lin.net();
  const auto one = torch::tensor({int64_t{1}});
  EXPECT_LOUPE_ERROR(attack(net, grey(1), one, true, AttackOptions().set_epsilon(-0.1)), "epsilon -0.1");
  EXPECT_LOUPE_ERROR(attack(net, grey(1), torch::tensor({int64_t{2}}), true, AttackOptions()), "[0, 2)");
  EXPECT_LOUPE_ERROR(attack(net, grey(1), one, true, AttackOptions().set_norm(AttackNorm::kL2)), "use pgd for l2");
  EXPECT_LOUPE_ERROR(attack(net, grey(1), one, true, AttackOptions().set_goal(0)), "goal");
  EXPECT_LOUPE_ERROR(attack(net, grey(2), one, true, AttackOptions()), "one per image");
  EXPECT_LOUPE_ERROR(attack(net, grey(1) * 3, one, true, AttackOptions()), "[0,1]");
  EXPECT_LOUPE_ERROR(parse_attack_method("fgsm", "--method"), "--method 'fgsm': expected one of ifgsm, pgd");
}

}  // namespace loupe
