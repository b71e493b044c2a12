// Adversarial attacks on classifiers (DESIGN.md workflow 1, second half), batched over
// images and targets on the model's device:
//   - targeted iterative FGSM exactly as the reference study:
//       x ← clip₀¹(Π_ε(x − α·sign ∇ₓ CE(f(x), target))), a row stopping once p(target) ≥ goal;
//     defaults of Kurakin et al. (2017): α = 1/255, ceil(min(255ε + 4, 1.25·255ε)) steps;
//   - PGD (Madry et al. 2018): a random start in the ε-ball, then steps of size α along
//     sign(∇) (L∞) or ∇/‖∇‖₂ (L2), each projected onto the ball and clipped to [0,1];
//     targeted (descend CE to the target) or untargeted (ascend CE of the label, a row
//     stopping once it is misclassified); defaults 40 steps, α = 2.5ε/steps;
//   - the minimal ε per (image, target): a bisection over ε, every row with its own
//     bracket, all rows attacked together at their own ε in each round.
// ε may differ per row. The model is run in eval mode (its mode is restored); only the
// inputs get gradients. Rows never influence each other, so a batch gives the result of
// its rows attacked one at a time (PGD's random start is one seeded pattern per call,
// the same for every row, so that holds for it too).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loupe/models/taps.h"

namespace loupe {

enum class AttackMethod { kIfgsm, kPgd };
std::vector<std::string> attack_method_names();  // "ifgsm", "pgd"
AttackMethod parse_attack_method(const std::string& text, const std::string& what);

enum class AttackNorm { kLinf, kL2 };
std::vector<std::string> attack_norm_names();  // "linf", "l2"
AttackNorm parse_attack_norm(const std::string& text, const std::string& what);

struct AttackOptions {
  AttackMethod method = AttackMethod::kIfgsm;
  AttackNorm norm = AttackNorm::kLinf;  // iterative FGSM is L∞ only
  double epsilon = 0.05;                // radius of the ball around each image (per row: see epsilons)
  int64_t steps = 0;                    // 0 = the method's default (above)
  double step_size = 0;                 // α; 0 = the method's default (above)
  double goal = 0.9;                    // targeted: stop a row once p(target) >= goal, in (0,1]
  bool early_stop = true;               // false: every row takes every step (adversarial training)
  bool random_start = true;             // PGD only
  uint64_t seed = 0;                    // PGD's random start
  int64_t batch_size = 256;             // rows per forward/backward pass
  // clang-format off
  AttackOptions& set_method(AttackMethod v) { method = v; return *this; }
  AttackOptions& set_norm(AttackNorm v) { norm = v; return *this; }
  AttackOptions& set_epsilon(double v) { epsilon = v; return *this; }
  AttackOptions& set_steps(int64_t v) { steps = v; return *this; }
  AttackOptions& set_step_size(double v) { step_size = v; return *this; }
  AttackOptions& set_goal(double v) { goal = v; return *this; }
  AttackOptions& set_early_stop(bool v) { early_stop = v; return *this; }
  AttackOptions& set_random_start(bool v) { random_start = v; return *this; }
  AttackOptions& set_seed(uint64_t v) { seed = v; return *this; }
  AttackOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  // clang-format on
};
// A loupe::Error naming the first option out of range (negative ε, a goal outside (0,1],
// L2 with iterative FGSM, ...).
void check_attack_options(const AttackOptions& options);

// The steps and step size a row with radius `epsilon` uses under `options`.
int64_t attack_steps(const AttackOptions& options, double epsilon);
double attack_step_size(const AttackOptions& options, double epsilon);

struct AttackResult {
  torch::Tensor adversarial;  // float [N,C,H,W] on the CPU, in [0,1] and within ε of the input
  torch::Tensor success;      // bool [N]: targeted p(target) >= goal; untargeted: predicted != label
  torch::Tensor probability;  // double [N]: p(target) (targeted) or p(label) (untargeted) at the end
  torch::Tensor predicted;    // int64 [N]: the arg-max class at the end
  torch::Tensor steps;        // int64 [N]: gradient steps taken (0 when the input already met the goal)
};

// images float [N,C,H,W] in [0,1]; classes int64 [N] (targets, or labels when untargeted),
// each in [0, number of model outputs); epsilons double [N] per row (undefined: options.epsilon).
AttackResult attack(TappedModel& model, const torch::Tensor& images, const torch::Tensor& classes, bool targeted,
                    const AttackOptions& options, const torch::Tensor& epsilons = {});

struct MinimalEpsilonOptions {
  double max_epsilon = 0.05;  // ε_max: rows that need more are reported as not reached
  double tolerance = 1e-3;    // the bisection stops when every bracket is this narrow
  // clang-format off
  MinimalEpsilonOptions& set_max_epsilon(double v) { max_epsilon = v; return *this; }
  MinimalEpsilonOptions& set_tolerance(double v) { tolerance = v; return *this; }
  // clang-format on
};

struct MinimalEpsilon {
  torch::Tensor epsilon;      // double [N]: the smallest ε found that reaches the goal (the bracket's upper
                              // end; 0 when the input already meets it); +inf where ε_max does not
  torch::Tensor reached;      // bool [N]
  AttackResult at_epsilon;    // the attack at each row's ε (at ε_max where not reached)
  int64_t rounds = 0;         // attacks run (one at ε_max, then one per bisection round)
};

// The minimal ε per row for the attack of `options` (its epsilon is ignored).
MinimalEpsilon minimal_epsilon(TappedModel& model, const torch::Tensor& images, const torch::Tensor& classes,
                               bool targeted, const AttackOptions& options, const MinimalEpsilonOptions& search = {});

// Madry et al.'s adversary for adversarial training (train/classifier_losses.h's kAdversarial):
// untargeted L∞ PGD against the labels, a random start drawn from the global generator
// (which the training loop reseeds every epoch), every step taken; ε = 8/255 and 7 steps of
// 2.5ε/7 by default. The result is on the images' device.
std::function<torch::Tensor(TappedModel&, const torch::Tensor&, const torch::Tensor&)> pgd_adversary(
    double epsilon = 8.0 / 255.0, int64_t steps = 7);

// Every (image, target) pair with target != the image's label, in image order then target
// order: the rows of the source × target grid, attacked in one batch.
struct TargetGrid {
  torch::Tensor image;   // int64 [M]: index of the image
  torch::Tensor target;  // int64 [M]
};
TargetGrid target_grid(const torch::Tensor& labels, int64_t num_classes);

}  // namespace loupe
