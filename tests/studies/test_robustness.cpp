// The robustness study's steps on hand-set numbers: medians with unreachable pairs, the
// choice of the best debiased model, the answer in words, and option checks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "loupe/studies/robustness.h"
#include "studies/robustness_steps.h"
#include "test_util.h"

namespace loupe {
namespace {

using namespace robustness_study;
using test::contains;
using test::error_of;

constexpr double kInf = std::numeric_limits<double>::infinity();

// A Results with one model per (name, inverted accuracy, minimal ε of its pairs, success at ε).
struct Row {
  std::string name;
  double inverted;
  std::vector<double> epsilons;
  double success;
};
Results results_of(const std::vector<Row>& rows) {
  Results r;
  for (const auto& row : rows) {
    TrainedModel m;
    m.plan.name = row.name;
    m.plan.objective = row.name == "adversarial" ? TrainObjective::kAdversarial : TrainObjective::kCrossEntropy;
    m.plan.gray = row.name == "control";
    r.models.push_back(m);
    Scores s;
    s.inverted.accuracy = row.inverted;
    r.scores.push_back(s);
    AttackScores a;
    a.minimal.epsilon = torch::tensor(row.epsilons, torch::kDouble);
    a.minimal.reached = a.minimal.epsilon.isfinite();
    a.median_epsilon = median_with_unreached(row.epsilons);
    a.success_rate = row.success;
    r.attacks.push_back(a);
  }
  r.best = best_debiased(r);
  return r;
}

RobustnessStudySettings quick_settings() {
  RobustnessStudyOptions o;
  return resolve(o);
}

}  // namespace

TEST(RobustnessStudy, MedianCountsUnreachedPairsAsLargest) {
  EXPECT_DOUBLE_EQ(median_with_unreached({0.3, kInf, 0.1}), 0.3);
  EXPECT_DOUBLE_EQ(median_with_unreached({0.2, 0.1}), 0.15);
  EXPECT_TRUE(std::isinf(median_with_unreached({kInf, 0.1, kInf})));
  // Half reached, half not: the mean of the largest reached and +inf.
  EXPECT_TRUE(std::isinf(median_with_unreached({0.1, kInf})));
  EXPECT_TRUE(std::isnan(median_with_unreached({})));
}

TEST(RobustnessStudy, CurveEpsilonsSpanZeroToTheCeilingEvenly) {
  const auto e = curve_epsilons(0.25);
  ASSERT_EQ(e.size(), 26u);
  EXPECT_DOUBLE_EQ(e.front(), 0.0);
  EXPECT_DOUBLE_EQ(e.back(), 0.25);
  EXPECT_DOUBLE_EQ(e[1], 0.01);
}

TEST(RobustnessStudy, BestDebiasedIsTheObjectiveWithTheBestInvertedAccuracyNeverLazyOrControl) {
  auto r = results_of({{"lazy", 0.9, {0.1}, 0},
                       {"control", 0.95, {0.1}, 0},
                       {"focal", 0.3, {0.1}, 0},
                       {"jtt", 0.7, {0.1}, 0},
                       {"lff", 0.6, {0.1}, 0}});
  EXPECT_EQ(r.best, 3);
  EXPECT_EQ(results_of({{"lazy", 0.2, {0.1}, 0}, {"control", 0.8, {0.1}, 0}}).best, -1);
}

TEST(RobustnessStudy, AnswerFollowsTheMedianMinimalEpsilon) {
  RobustnessStudyOptions o;
  const auto s = quick_settings();
  // The shape model needs twice the ε: harder to fool.
  auto harder = results_of({{"lazy", 0.25, {0.05, 0.05, 0.06}, 0.2},
                            {"control", 0.8, {0.1, 0.1, 0.1}, 0},
                            {"jtt", 0.7, {0.1, 0.12, 0.15}, 0.2}});
  auto text = harder_to_fool_answer(o, s, harder);
  EXPECT_TRUE(contains(text, "harder to fool? Yes.")) << text;
  EXPECT_TRUE(contains(text, "median ε of 0.1200 on jtt")) << text;
  EXPECT_TRUE(contains(text, "against 0.0500 on the lazy model")) << text;
  // The lazy model's pairs are mostly out of reach, the shape model's are not: easier.
  auto easier = results_of({{"lazy", 0.25, {kInf, kInf, 0.15}, 0},
                            {"control", 0.8, {0.1, 0.1, 0.1}, 0},
                            {"jtt", 0.7, {0.1, 0.12, 0.15}, 0}});
  text = harder_to_fool_answer(o, s, easier);
  EXPECT_TRUE(contains(text, "No, it is easier.")) << text;
  EXPECT_TRUE(contains(text, "against > 0.200 on the lazy model")) << text;
  // Within 20% and the same success rate: no measurable difference.
  auto same = results_of({{"lazy", 0.25, {0.1, 0.1, 0.1}, 0.3},
                          {"control", 0.8, {0.1, 0.1, 0.1}, 0},
                          {"jtt", 0.7, {0.11, 0.11, 0.11}, 0.3}});
  EXPECT_TRUE(contains(harder_to_fool_answer(o, s, same), "No, not measurably.")) << harder_to_fool_answer(o, s, same);
  // A clearly lower success rate at ε alone is enough to call it harder.
  auto fewer = results_of(
      {{"lazy", 0.25, {0.1, 0.1, 0.1}, 0.5}, {"control", 0.8, {0.1, 0.1, 0.1}, 0}, {"jtt", 0.7, {0.1, 0.1, 0.1}, 0.2}});
  EXPECT_TRUE(contains(harder_to_fool_answer(o, s, fewer), "Yes."));
  // Both mostly out of reach: the fraction reached decides.
  auto both = results_of({{"lazy", 0.25, {kInf, kInf, 0.1, 0.1}, 0},
                          {"control", 0.8, {0.1}, 0},
                          {"jtt", 0.7, {kInf, kInf, kInf, 0.1}, 0}});
  EXPECT_TRUE(contains(harder_to_fool_answer(o, s, both), "Yes."));
  // No objective gained shape: the answer says the comparison is between colour readers.
  auto none = results_of({{"lazy", 0.25, {0.1}, 0}, {"control", 0.8, {0.1}, 0}, {"focal", 0.27, {0.1}, 0}});
  EXPECT_TRUE(contains(harder_to_fool_answer(o, s, none), "no objective learned much shape"));
  // A lazy model that already reads shape (trained long): the comparison is between shape readers.
  auto long_trained = results_of({{"lazy", 0.76, {0.1}, 0}, {"control", 0.9, {0.1}, 0}, {"jtt", 0.79, {0.03}, 0.9}});
  const auto text2 = harder_to_fool_answer(o, s, long_trained);
  EXPECT_TRUE(contains(text2, "the lazy model already reads shape (76.0%")) << text2;
  EXPECT_TRUE(contains(text2, "No, it is easier.")) << text2;
  EXPECT_FALSE(contains(text2, "colour reader")) << text2;
  // And with no objective at all it says it cannot compare.
  auto alone = results_of({{"lazy", 0.25, {0.1}, 0}, {"control", 0.8, {0.1}, 0}});
  EXPECT_TRUE(contains(harder_to_fool_answer(o, s, alone), "cannot compare"));
}

TEST(RobustnessStudy, AnswerMentionsAdversarialTrainingAndTheControl) {
  RobustnessStudyOptions o;
  const auto s = quick_settings();
  auto r = results_of({{"lazy", 0.25, {0.05}, 0.2},
                       {"control", 0.8, {0.08}, 0.1},
                       {"jtt", 0.7, {0.04}, 0.3},
                       {"adversarial", 0.5, {kInf}, 0.0}});
  const auto text = harder_to_fool_answer(o, s, r);
  EXPECT_TRUE(contains(text, "Adversarial training, which aims at this directly: median ε > 0.200")) << text;
  EXPECT_TRUE(contains(text, "The grayscale control, which never saw colour: median ε 0.0800")) << text;
}

TEST(RobustnessStudy, PresetsAndTheirObjectives) {
  RobustnessStudyOptions o;
  auto s = resolve(o);
  EXPECT_EQ(s.arch, "small_cnn");
  EXPECT_EQ(s.epochs, 1);
  EXPECT_EQ(s.train_images, 12000);
  EXPECT_EQ(s.objectives, (std::vector<TrainObjective>{TrainObjective::kFocal, TrainObjective::kJtt}));
  o.common.preset = Preset::kPaper;
  s = resolve(o);
  EXPECT_EQ(s.arch, "resnet18_small");
  EXPECT_EQ(s.epochs, 15);
  EXPECT_EQ(s.train_images, 0);
  EXPECT_EQ(s.objectives.size(), 7u);  // every objective but ce (the lazy model)
  const auto names = robustness_model_names();
  EXPECT_EQ(names.size(), 9u);
  EXPECT_EQ(names[0], "lazy");
  EXPECT_EQ(names[1], "control");
}

TEST(RobustnessStudy, BadOptionsNameTheFlag) {
  const auto error = [](auto edit) {
    RobustnessStudyOptions o;
    edit(o);
    return error_of([&] { resolve(o); });
  };
  EXPECT_TRUE(
      contains(error([](auto& o) { o.objectives = std::vector<TrainObjective>{TrainObjective::kCrossEntropy}; }),
               "ce is the lazy model"));
  EXPECT_TRUE(contains(error([](auto& o) {
                         o.objectives = std::vector<TrainObjective>{TrainObjective::kJtt, TrainObjective::kJtt};
                       }),
                       "jtt is listed twice"));
  EXPECT_TRUE(contains(error([](auto& o) { o.checkpoints["wizard"] = "w.pt"; }), "unknown model 'wizard'"));
  EXPECT_TRUE(contains(error([](auto& o) { o.attack_epsilon = -0.1; }), "--eps"));
  EXPECT_TRUE(contains(error([](auto& o) { o.max_epsilon = 0.01; }), "--max-eps"));
  EXPECT_TRUE(contains(error([](auto& o) { o.attack_tolerance = 0.5; }), "--tolerance"));
  EXPECT_TRUE(contains(error([](auto& o) { o.attack_goal = 1.5; }), "--goal"));
  EXPECT_TRUE(contains(error([](auto& o) { o.attack_images_per_class = 0; }), "--attack-images"));
  EXPECT_TRUE(contains(error([](auto& o) { o.parameters.jtt.upweight = 0; }), "up-weight"));
  EXPECT_TRUE(contains(error([](auto& o) { o.base = "mnist"; }), "--data DIR"));
}

}  // namespace loupe
