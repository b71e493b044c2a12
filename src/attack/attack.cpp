#include "loupe/attack/attack.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "loupe/core/choices.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"

namespace loupe {

namespace F = torch::nn::functional;

std::vector<std::string> attack_method_names() { return {"ifgsm", "pgd"}; }

AttackMethod parse_attack_method(const std::string& text, const std::string& what) {
  return static_cast<AttackMethod>(choice_index(text, attack_method_names(), what));
}

std::vector<std::string> attack_norm_names() { return {"linf", "l2"}; }

AttackNorm parse_attack_norm(const std::string& text, const std::string& what) {
  return static_cast<AttackNorm>(choice_index(text, attack_norm_names(), what));
}

void check_attack_options(const AttackOptions& o) {
  LOUPE_CHECK(std::isfinite(o.epsilon) && o.epsilon >= 0, "attack epsilon ", o.epsilon,
              ": expected a radius >= 0 (e.g. 0.05 of the [0,1] pixel range)");
  LOUPE_CHECK(o.steps >= 0, "attack steps ", o.steps, ": expected >= 0 (0 = the method's default)");
  LOUPE_CHECK(std::isfinite(o.step_size) && o.step_size >= 0, "attack step size ", o.step_size,
              ": expected >= 0 (0 = the method's default)");
  LOUPE_CHECK(std::isfinite(o.goal) && o.goal > 0 && o.goal <= 1, "attack goal ", o.goal,
              ": expected the target probability to reach, in (0, 1]");
  LOUPE_CHECK(o.batch_size >= 1, "attack batch size ", o.batch_size, ": expected >= 1");
  LOUPE_CHECK(o.method != AttackMethod::kIfgsm || o.norm == AttackNorm::kLinf,
              "attack norm l2: iterative FGSM steps along sign(gradient), an L-infinity attack; use pgd for l2");
}

int64_t attack_steps(const AttackOptions& o, double epsilon) {
  if (o.steps > 0) return o.steps;
  if (o.method == AttackMethod::kPgd) return 40;
  // Kurakin et al.: min(ε + 4, 1.25ε) steps with ε in 0-255 units, at least one.
  const double e = 255.0 * epsilon;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::min(e + 4.0, 1.25 * e))));
}

double attack_step_size(const AttackOptions& o, double epsilon) {
  if (o.step_size > 0) return o.step_size;
  if (o.method == AttackMethod::kPgd) return 2.5 * epsilon / static_cast<double>(attack_steps(o, epsilon));
  return 1.0 / 255.0;
}

namespace {

// [N] → [N,1,1,1] for broadcasting over images.
torch::Tensor per_row(const torch::Tensor& v) { return v.view({-1, 1, 1, 1}); }

// Per-row L2 norm of [N,...] as [N,1,1,1] (at least tiny, to divide by).
torch::Tensor row_norm(const torch::Tensor& t) {
  return per_row(t.flatten(1).norm(2, 1).clamp_min(1e-12));
}

// δ projected onto each row's ball of radius eps [N,1,1,1].
torch::Tensor project(const torch::Tensor& delta, const torch::Tensor& eps, AttackNorm norm) {
  if (norm == AttackNorm::kLinf) return torch::max(torch::min(delta, eps), -eps);
  return delta * torch::clamp_max(eps / row_norm(delta), 1.0);
}

struct ChunkResult {
  torch::Tensor adversarial, success, probability, predicted, steps;
};

// One chunk of rows, all on the model's device.
ChunkResult attack_chunk(TappedModel& model, const torch::Tensor& x0, const torch::Tensor& classes, bool targeted,
                         const AttackOptions& o, const torch::Tensor& eps, const torch::Tensor& step_counts,
                         const torch::Tensor& step_sizes, const torch::Tensor& start_noise) {
  const int64_t n = x0.size(0);
  const auto eps4 = per_row(eps.to(x0.dtype())), alpha4 = per_row(step_sizes.to(x0.dtype()));
  auto x = x0.clone();
  if (o.method == AttackMethod::kPgd && o.random_start) {
    auto noise = start_noise.expand_as(x0);  // uniform in the unit ball's cube (L∞) or a direction (L2)
    if (o.norm == AttackNorm::kL2) noise = noise / row_norm(noise);
    x = (x0 + project(noise * eps4, eps4, o.norm)).clamp(0.0, 1.0);
  }
  auto taken = torch::zeros({n}, torch::TensorOptions().dtype(torch::kLong).device(x0.device()));
  auto done = torch::zeros({n}, torch::TensorOptions().dtype(torch::kBool).device(x0.device()));
  const int64_t max_steps = step_counts.numel() > 0 ? step_counts.max().item<int64_t>() : 0;
  const auto goal_met = [&](const torch::Tensor& logits, const torch::Tensor& cls) {
    if (targeted) return torch::softmax(logits, 1).gather(1, cls.view({-1, 1})).view(-1).ge(o.goal);
    return logits.argmax(1).ne(cls);
  };
  // Each step runs only the rows still moving (not at the goal, steps left), so rows that
  // stop early cost nothing afterwards; rows never interact, so this changes no result.
  for (int64_t step = 0; step < max_steps; ++step) {
    const auto rows = (done.logical_not() & step_counts.gt(step)).nonzero().view(-1);
    if (rows.size(0) == 0) break;
    const auto x_rows = x.index_select(0, rows), x0_rows = x0.index_select(0, rows);
    const auto cls = classes.index_select(0, rows);
    auto input = x_rows.detach().requires_grad_(true);
    const auto logits = model.forward(input);
    auto moving = torch::ones({rows.size(0)}, done.options());
    if (o.early_stop) {
      const auto met = goal_met(logits.detach(), cls);
      done.index_copy_(0, rows, met);
      moving = met.logical_not();
    }
    const auto ce = F::cross_entropy(logits, cls, F::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto grad = torch::autograd::grad({(ce * moving.to(ce.dtype())).sum()}, {input})[0];
    if (targeted) grad = -grad;  // descend the target's CE; ascend the label's
    const auto direction = o.norm == AttackNorm::kLinf ? grad.sign() : grad / row_norm(grad);
    const auto eps_rows = eps4.index_select(0, rows), alpha_rows = alpha4.index_select(0, rows);
    const auto moved = (x0_rows + project(x_rows + alpha_rows * direction - x0_rows, eps_rows, o.norm)).clamp(0.0, 1.0);
    x.index_copy_(0, rows, torch::where(per_row(moving), moved, x_rows));
    taken.index_add_(0, rows, moving.to(torch::kLong));
  }
  ChunkResult r;
  {
    torch::NoGradGuard no_grad;
    const auto logits = model.forward(x);
    const auto p = torch::softmax(logits, 1);
    r.predicted = logits.argmax(1);
    r.probability = p.gather(1, classes.view({-1, 1})).view(-1).to(torch::kDouble);
    r.success = goal_met(logits, classes);
  }
  r.adversarial = x.detach();
  r.steps = taken;
  return r;
}

}  // namespace

AttackResult attack(TappedModel& model, const torch::Tensor& images, const torch::Tensor& classes, bool targeted,
                    const AttackOptions& o, const torch::Tensor& epsilons) {
  check_attack_options(o);
  LOUPE_CHECK(images.defined() && images.dim() == 4 && images.is_floating_point() && images.size(0) > 0,
              "attack images: expected float [N,C,H,W], got ", images.defined() ? images.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(torch::isfinite(images).all().item<bool>(), "attack images: expected finite values (NaN or inf found)");
  const int64_t n = images.size(0);
  LOUPE_CHECK(classes.defined() && classes.dim() == 1 && classes.size(0) == n && !classes.is_floating_point(),
              "attack ", targeted ? "targets" : "labels", ": expected int64 [", n, "], one per image");
  LOUPE_CHECK(images.min().item<double>() >= 0 && images.max().item<double>() <= 1,
              "attack images: expected values in [0,1]");
  auto eps = epsilons.defined() ? epsilons.to(torch::kCPU, torch::kDouble).contiguous()
                                : torch::full({n}, o.epsilon, torch::kDouble);
  LOUPE_CHECK(eps.dim() == 1 && eps.size(0) == n, "attack epsilons: expected [", n, "], one per image");
  LOUPE_CHECK(torch::isfinite(eps).all().item<bool>() && eps.ge(0).all().item<bool>(),
              "attack epsilons: expected finite radii >= 0");
  const auto parameters = model.parameters();
  const auto device = parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
  const bool was_training = model.is_training();
  model.eval();
  // Every row's steps and step size from its own ε.
  std::vector<int64_t> counts(static_cast<size_t>(n));
  std::vector<double> sizes(static_cast<size_t>(n));
  const auto* e = eps.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    counts[static_cast<size_t>(i)] = attack_steps(o, e[i]);
    sizes[static_cast<size_t>(i)] = attack_step_size(o, e[i]);
  }
  const auto step_counts = torch::tensor(counts, torch::kLong), step_sizes = torch::tensor(sizes, torch::kDouble);
  torch::Tensor noise;
  if (o.method == AttackMethod::kPgd && o.random_start) {
    auto gen = make_generator(o.seed);
    const auto shape = images.sizes().slice(1).vec();
    std::vector<int64_t> one = {1};
    one.insert(one.end(), shape.begin(), shape.end());
    noise = o.norm == AttackNorm::kLinf ? torch::rand(one, gen, torch::kFloat) * 2 - 1 : torch::randn(one, gen, torch::kFloat);
    noise = noise.to(device, images.scalar_type());
  }
  std::vector<ChunkResult> parts;
  const auto num_classes_check = [&](const torch::Tensor& logits) {
    LOUPE_CHECK(logits.dim() == 2, "attack: expected the model to output logits [N,K], got ", logits.sizes());
    const int64_t k = logits.size(1);
    LOUPE_CHECK(classes.min().item<int64_t>() >= 0 && classes.max().item<int64_t>() < k, "attack ",
                targeted ? "target" : "label", " classes: expected values in [0, ", k, "), got ",
                classes.min().item<int64_t>(), "..", classes.max().item<int64_t>());
  };
  for (int64_t i = 0; i < n; i += o.batch_size) {
    const int64_t m = std::min(o.batch_size, n - i);
    const auto x0 = images.slice(0, i, i + m).to(device);
    const auto c = classes.slice(0, i, i + m).to(device, torch::kLong);
    if (i == 0) {
      torch::NoGradGuard no_grad;
      num_classes_check(model.forward(x0.slice(0, 0, 1)));
    }
    parts.push_back(attack_chunk(model, x0, c, targeted, o, eps.slice(0, i, i + m).to(device),
                                 step_counts.slice(0, i, i + m).to(device), step_sizes.slice(0, i, i + m).to(device),
                                 noise));
  }
  model.train(was_training);
  AttackResult r;
  const auto gather = [&](auto member) {
    std::vector<torch::Tensor> v;
    for (auto& p : parts) v.push_back(member(p).to(torch::kCPU));
    return torch::cat(v);
  };
  r.adversarial = gather([](ChunkResult& p) { return p.adversarial.to(torch::kFloat); });
  r.success = gather([](ChunkResult& p) { return p.success; });
  r.probability = gather([](ChunkResult& p) { return p.probability; });
  r.predicted = gather([](ChunkResult& p) { return p.predicted; });
  r.steps = gather([](ChunkResult& p) { return p.steps; });
  return r;
}

MinimalEpsilon minimal_epsilon(TappedModel& model, const torch::Tensor& images, const torch::Tensor& classes,
                               bool targeted, const AttackOptions& options, const MinimalEpsilonOptions& search) {
  LOUPE_CHECK(std::isfinite(search.max_epsilon) && search.max_epsilon > 0, "maximal epsilon ", search.max_epsilon,
              ": expected > 0");
  LOUPE_CHECK(std::isfinite(search.tolerance) && search.tolerance > 0, "epsilon tolerance ", search.tolerance,
              ": expected > 0");
  const int64_t n = images.size(0);
  MinimalEpsilon out;
  auto hi = torch::full({n}, search.max_epsilon, torch::kDouble), lo = torch::zeros({n}, torch::kDouble);
  out.at_epsilon = attack(model, images, classes, targeted, options, hi);
  out.rounds = 1;
  out.reached = out.at_epsilon.success.clone();
  // A row that meets the goal without a step needs no perturbation at all.
  const auto free = out.reached & out.at_epsilon.steps.eq(0);
  hi = torch::where(free, torch::zeros_like(hi), hi);
  auto open = out.reached & free.logical_not();
  while (open.any().item<bool>() && ((hi - lo).masked_select(open).max().item<double>() > search.tolerance)) {
    const auto mid = torch::where(open, 0.5 * (lo + hi), hi);
    const auto rows = open.nonzero().view(-1);
    const auto trial = attack(model, images.index_select(0, rows), classes.index_select(0, rows), targeted, options,
                              mid.index_select(0, rows));
    ++out.rounds;
    const auto ok = torch::zeros({n}, torch::kBool).index_put_({rows}, trial.success);
    const auto failed = open & ok.logical_not();
    hi = torch::where(ok, mid, hi);
    lo = torch::where(failed, mid, lo);
    // Keep the adversarial images of the successful trials (they belong to the new upper ends).
    const auto won = rows.masked_select(trial.success);
    const auto won_local = trial.success.nonzero().view(-1);
    out.at_epsilon.adversarial.index_copy_(0, won, trial.adversarial.index_select(0, won_local));
    out.at_epsilon.probability.index_copy_(0, won, trial.probability.index_select(0, won_local));
    out.at_epsilon.predicted.index_copy_(0, won, trial.predicted.index_select(0, won_local));
    out.at_epsilon.steps.index_copy_(0, won, trial.steps.index_select(0, won_local));
    open = open & (hi - lo).gt(search.tolerance);
  }
  out.epsilon = torch::where(out.reached, hi, torch::full_like(hi, std::numeric_limits<double>::infinity()));
  return out;
}

std::function<torch::Tensor(TappedModel&, const torch::Tensor&, const torch::Tensor&)> pgd_adversary(double epsilon,
                                                                                                   int64_t steps) {
  const auto options = AttackOptions()
                           .set_method(AttackMethod::kPgd)
                           .set_epsilon(epsilon)
                           .set_steps(steps)
                           .set_early_stop(false);
  check_attack_options(options);
  return [options](TappedModel& model, const torch::Tensor& images, const torch::Tensor& labels) {
    const auto seed = static_cast<uint64_t>(torch::randint(int64_t{1} << 30, {1}).item<int64_t>());
    return attack(model, images, labels, /*targeted=*/false, AttackOptions(options).set_seed(seed))
        .adversarial.to(images.device());
  };
}

TargetGrid target_grid(const torch::Tensor& labels, int64_t num_classes) {
  LOUPE_CHECK(num_classes >= 2, "target grid: expected at least 2 classes, got ", num_classes);
  LOUPE_CHECK(labels.defined() && labels.dim() == 1, "target grid: expected labels [N]");
  const auto l = labels.to(torch::kCPU, torch::kLong).contiguous();
  LOUPE_CHECK(l.numel() == 0 || (l.min().item<int64_t>() >= 0 && l.max().item<int64_t>() < num_classes),
              "target grid: labels must lie in [0, ", num_classes, ")");
  std::vector<int64_t> image, target;
  const auto* p = l.data_ptr<int64_t>();
  for (int64_t i = 0; i < l.size(0); ++i)
    for (int64_t t = 0; t < num_classes; ++t)
      if (t != p[i]) image.push_back(i), target.push_back(t);
  return {torch::tensor(image, torch::kLong), torch::tensor(target, torch::kLong)};
}

}  // namespace loupe
