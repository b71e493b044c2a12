#include "loupe/train/objective.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "loupe/core/error.h"
#include "loupe/train/distributed.h"

namespace loupe {

void Optimizers::add(std::string name, torch::optim::Optimizer* optimizer) {
  LOUPE_CHECK(optimizer != nullptr, "optimiser '", name, "' is null");
  items_.emplace_back(std::move(name), optimizer);
}

torch::optim::Optimizer& Optimizers::get(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& [n, o] : items_) {
    if (n == name) return *o;
    names.push_back(n);
  }
  fail("optimiser '", name, "' is not part of this run (it has ", join_names(names), ")");
}

void Optimizers::zero_grad() const {
  for (const auto& [name, o] : items_) o->zero_grad();
}

namespace {

std::vector<torch::Tensor> optimised_parameters(const torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> out;
  for (const auto& group : optimizer.param_groups())
    out.insert(out.end(), group.params().begin(), group.params().end());
  return out;
}

}  // namespace

void Optimizers::step() const {
  if (group_) {
    std::vector<torch::Tensor> parameters;
    for (const auto& [name, o] : items_) {
      const auto own = optimised_parameters(*o);
      parameters.insert(parameters.end(), own.begin(), own.end());
    }
    group_->average_gradients(parameters);
  }
  for (const auto& [name, o] : items_) o->step();
}

void Optimizers::step(const std::string& name) const {
  auto& optimizer = get(name);
  if (group_) group_->average_gradients(optimised_parameters(optimizer));
  optimizer.step();
}

torch::Tensor Objective::loss(const Batch&, const TrainContext&, StepLog&) {
  fail("this objective defines step() and has no single loss");
}

void Objective::step(const Batch& batch, const TrainContext& ctx, const Optimizers& optimizers, StepLog& log) {
  optimizers.zero_grad();
  const torch::Tensor total = loss(batch, ctx, log);
  const double value = total.item<double>();
  if (log.parts().count("loss") == 0) log.add("loss", value);
  // A diverged loss is reported by the trainer, before it is back-propagated.
  if (!std::isfinite(value)) return;
  total.backward();
  optimizers.step();
}

std::string Objective::progress(const RecordAccumulator& record) const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "loss %.4f", record.mean("loss"));
  return buf;
}

}  // namespace loupe
