#include "loupe/models/taps.h"

#include <algorithm>
#include <sstream>

#include "loupe/core/error.h"

namespace loupe {

Taps& Taps::record(const std::string& name) {
  record_.insert(name);
  return *this;
}

Taps& Taps::replace(const std::string& name, TensorEdit edit) {
  replace_[name] = std::move(edit);
  return *this;
}

const torch::Tensor& Taps::recorded(const std::string& name) const {
  auto it = recorded_.find(name);
  if (it == recorded_.end())
    fail("tap ", name, ": nothing was recorded there (ask for it with Taps::record before the forward call)");
  return it->second;
}

bool Taps::has_recorded(const std::string& name) const { return recorded_.count(name) > 0; }

std::vector<std::string> Taps::names() const {
  std::set<std::string> all(record_.begin(), record_.end());
  for (const auto& [name, edit] : replace_) all.insert(name);
  return {all.begin(), all.end()};
}

torch::Tensor Taps::apply(const std::string& name, const torch::Tensor& x) {
  torch::Tensor out = x;
  if (record_.count(name)) recorded_[name] = x;
  if (auto it = replace_.find(name); it != replace_.end()) out = it->second(x);
  return out;
}

void check_tap_name(const std::string& model, const std::string& name, const std::vector<std::string>& valid) {
  for (const auto& v : valid)
    if (v == name) return;
  std::ostringstream list;
  for (size_t i = 0; i < valid.size(); ++i) list << (i ? ", " : "") << valid[i];
  fail("tap '", name, "' does not exist in model ", model, "; valid taps: ", list.str());
}

torch::Tensor TappedModel::forward(const torch::Tensor& x, Taps* taps) {
  check_taps(taps);
  return run_stages(0, x, taps);
}

torch::Tensor TappedModel::forward_from(const std::string& tap, const torch::Tensor& activation, Taps* taps) {
  check_taps(taps);
  return run_stages(stage_index(tap) + 1, activation, taps);
}

torch::Tensor TappedModel::forward_until(const std::string& tap, const torch::Tensor& x, Taps* taps) {
  check_taps(taps);
  return run_stages(0, x, taps, stage_index(tap) + 1);
}

std::vector<std::string> TappedModel::tap_names() const {
  std::vector<std::string> names;
  for (const auto& s : stages_) names.push_back(s.name);
  return names;
}

void TappedModel::check_tap(const std::string& name) const { check_tap_name(arch(), name, tap_names()); }

void TappedModel::add_stage(const std::string& name, std::function<torch::Tensor(const torch::Tensor&)> run) {
  stages_.push_back({name, std::move(run)});
}

torch::Tensor TappedModel::run_stages(size_t first, torch::Tensor x, Taps* taps, size_t end) {
  for (size_t i = first; i < std::min(end, stages_.size()); ++i) {
    x = stages_[i].run(x);
    if (taps) x = taps->apply(stages_[i].name, x);
  }
  return x;
}

void TappedModel::check_taps(const Taps* taps) const {
  if (!taps) return;
  for (const auto& name : taps->names()) check_tap(name);
}

size_t TappedModel::stage_index(const std::string& name) const {
  for (size_t i = 0; i < stages_.size(); ++i)
    if (stages_[i].name == name) return i;
  check_tap(name);
  return 0;  // unreachable: check_tap_name throws
}

}  // namespace loupe
