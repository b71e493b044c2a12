#include "loupe/train/vae_trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/progress.h"
#include "loupe/models/vae_checkpoint.h"

namespace loupe {
namespace {

using Clock = std::chrono::steady_clock;

void check_options(const VaeTrainOptions& o) {
  LOUPE_CHECK(o.epochs >= 1, "VAE training epochs ", o.epochs, ": expected at least 1");
  LOUPE_CHECK(o.max_steps >= 0, "VAE training max steps ", o.max_steps, ": expected >= 0 (0 = all epochs)");
  LOUPE_CHECK(o.batch_size >= 2, "VAE training batch size ", o.batch_size,
              ": expected at least 2 (the TC estimate compares samples within a batch)");
  LOUPE_CHECK(std::isfinite(o.lr) && o.lr > 0, "VAE learning rate ", o.lr, ": expected a positive number");
  LOUPE_CHECK(o.log_every >= 1, "VAE training log_every ", o.log_every, ": expected at least 1");
  LOUPE_CHECK(!o.resume || !o.checkpoint.empty(), "resume needs a checkpoint path to resume from");
  check_objective_options(o.objective);
}

// The record's number fields by JSON name; step and epoch are written as integers.
const std::pair<const char*, double VaeStepRecord::*> kHistoryFields[] = {
    {"loss", &VaeStepRecord::loss},
    {"reconstruction", &VaeStepRecord::reconstruction},
    {"kl", &VaeStepRecord::kl},
    {"mutual_information", &VaeStepRecord::mutual_information},
    {"total_correlation", &VaeStepRecord::total_correlation},
    {"dimension_kl", &VaeStepRecord::dimension_kl},
    {"weight", &VaeStepRecord::weight},
    {"capacity", &VaeStepRecord::capacity}};

// Sums of the loss components over the steps of one history record.
struct Window {
  int64_t steps = 0;
  VaeStepRecord sum;
  void add(const VaeLoss& l) {
    ++steps;
    const VaeStepRecord r{
        0,        0,         l.loss, l.reconstruction, l.kl, l.mutual_information, l.total_correlation, l.dimension_kl,
        l.weight, l.capacity};
    for (const auto& [key, member] : kHistoryFields) sum.*member += r.*member;
  }
  VaeStepRecord mean(int64_t step, int64_t epoch) const {
    VaeStepRecord r;
    r.step = step;
    r.epoch = epoch;
    for (const auto& [key, member] : kHistoryFields) r.*member = sum.*member / static_cast<double>(steps);
    return r;
  }
};

std::string postfix(const VaeLoss& l) {
  char buf[128];
  if (std::isfinite(l.total_correlation))
    std::snprintf(buf, sizeof buf, "loss %.1f recon %.1f kl %.2f tc %.2f", l.loss, l.reconstruction, l.kl,
                  l.total_correlation);
  else
    std::snprintf(buf, sizeof buf, "loss %.1f recon %.1f kl %.2f", l.loss, l.reconstruction, l.kl);
  return buf;
}

}  // namespace

VaePreset vae_preset(const std::string& name, int64_t channels) {
  VaePreset p;
  p.spec = VaeSpec().set_channels(channels).set_latents(12);
  auto objective = VaeObjectiveOptions().set_kind(VaeObjectiveKind::kBetaTcVae).set_beta(6).set_gamma_max(1);
  if (name == "paper") {
    p.train = VaeTrainOptions()
                  .set_objective(objective.set_anneal_steps(5000))
                  .set_lr(5e-4)
                  .set_epochs(50)
                  .set_batch_size(64)
                  .set_log_every(50);
  } else if (name == "quick") {
    p.train = VaeTrainOptions()
                  .set_objective(objective.set_anneal_steps(400))
                  .set_lr(5e-4)
                  .set_max_steps(1200)
                  .set_batch_size(32)
                  .set_log_every(5);
  } else {
    fail("VAE preset '", name, "' is unknown; expected paper or quick");
  }
  p.train.label = "vae " + name;
  return p;
}

VaeTrainResult train_vae(VaeImpl& vae, const Dataset& data, const VaeTrainOptions& options, torch::Device device) {
  check_options(options);
  const int64_t n = data.size(), bs = options.batch_size;
  LOUPE_CHECK(n >= 2, "VAE training data has ", n, " image(s); expected at least 2");
  const auto shape = data.image_shape();
  LOUPE_CHECK(shape[0] == vae.spec().channels && shape[1] == 64 && shape[2] == 64, "VAE training images are [",
              shape[0], ",", shape[1], ",", shape[2], "]; the ", describe(vae.spec()), " expects [",
              vae.spec().channels, ",64,64]");
  VaeObjectiveOptions objective = options.objective;
  objective.likelihood = vae.spec().likelihood;
  if (objective.dataset_size == 0) objective.dataset_size = n;

  vae.to(device);
  torch::optim::Adam optimizer(vae.parameters(), torch::optim::AdamOptions(options.lr));
  VaeTrainResult result;
  int64_t first_step = 0;
  std::error_code ec;
  if (options.resume && fs::exists(options.checkpoint, ec)) {
    const VaeCheckpointInfo info = load_vae_checkpoint(options.checkpoint, vae, &optimizer);
    try {
      result.history = vae_history_from_json(info.extra_json);
    } catch (const Error& e) {
      fail("VAE checkpoint ", options.checkpoint.string(), ": cannot resume, its history is unreadable (", e.what(),
           ")");
    }
    first_step = info.step;
  }

  // A lone last image cannot form a batch for the TC estimate; it waits for the next shuffle.
  int64_t per_epoch = (n + bs - 1) / bs;
  if (per_epoch > 1 && n % bs == 1) --per_epoch;
  const int64_t total = options.max_steps > 0 ? options.max_steps : per_epoch * options.epochs;

  const auto start = Clock::now();
  Progress bar(options.label, total - first_step, "step");
  Window window;
  torch::Tensor order;
  vae.train();
  for (int64_t step = first_step; step < total; ++step) {
    const int64_t epoch = step / per_epoch, within = step % per_epoch;
    if (within == 0 || step == first_step) {
      // Reseeded per epoch (not once per call) so a run resumed at an epoch boundary
      // draws what an uninterrupted one would.
      seed_everything(options.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch));
      order = torch::randperm(n, make_generator(options.seed + static_cast<uint64_t>(epoch)), torch::kLong);
    }
    const torch::Tensor x = data.get(order.slice(0, within * bs, std::min(n, (within + 1) * bs))).images.to(device);
    optimizer.zero_grad();
    const VaeLoss loss = vae_loss(vae.forward(x), x, objective, step);
    LOUPE_CHECK(std::isfinite(loss.loss), "VAE training diverged: loss is ", loss.loss, " at step ", step + 1,
                "; try a lower learning rate (now ", options.lr, ") or check the data for NaNs");
    loss.total.backward();
    optimizer.step();

    window.add(loss);
    const bool last = step + 1 == total, epoch_end = within + 1 == per_epoch;
    if (window.steps == options.log_every || last || epoch_end) {
      result.history.push_back(window.mean(step + 1, epoch + 1));
      window = Window();
    }
    bar.advance(1, postfix(loss));
    if (!options.checkpoint.empty() && (last || epoch_end))
      save_vae_checkpoint(options.checkpoint, vae, &optimizer, step + 1, vae_history_to_json(result.history));
  }
  bar.finish();
  vae.eval();
  result.steps = std::max(first_step, total);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

torch::Tensor encode_dataset(VaeImpl& vae, const Dataset& data, torch::Device device, int64_t batch_size) {
  LOUPE_CHECK(batch_size >= 1, "encoding batch size ", batch_size, ": expected at least 1");
  const bool was_training = vae.is_training();
  vae.to(device);
  vae.eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means;
  for (int64_t first = 0; first < data.size(); first += batch_size) {
    const auto idx = torch::arange(first, std::min(data.size(), first + batch_size), torch::kLong);
    means.push_back(vae.encode(data.get(idx).images.to(device)).first.cpu());
  }
  vae.train(was_training);
  LOUPE_CHECK(!means.empty(), "encoding: the dataset is empty; expected at least one image");
  return torch::cat(means);
}

namespace {

// JSON has no NaN: a term outside the objective is written as null.
double field(const nlohmann::json& record, const char* key) {
  LOUPE_CHECK(record.is_object() && record.contains(key), "VAE history: a record has no '", key, "' field");
  const auto& v = record.at(key);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  LOUPE_CHECK(v.is_number(), "VAE history: field '", key, "' should be a number or null, found ", v.dump());
  return v.get<double>();
}

int64_t counter(const nlohmann::json& record, const char* key) {
  const double v = field(record, key);
  LOUPE_CHECK(std::isfinite(v) && v >= 0 && v == std::floor(v), "VAE history: field '", key,
              "' should be a whole number >= 0, found ", record.at(key).dump());
  return static_cast<int64_t>(v);
}

}  // namespace

std::string vae_history_to_json(const std::vector<VaeStepRecord>& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : history) {
    nlohmann::json item = {{"step", r.step}, {"epoch", r.epoch}};
    for (const auto& [key, member] : kHistoryFields)
      item[key] = std::isfinite(r.*member) ? nlohmann::json(r.*member) : nlohmann::json(nullptr);
    out.push_back(item);
  }
  return out.dump();
}

std::vector<VaeStepRecord> vae_history_from_json(const std::string& json) {
  nlohmann::json in;
  try {
    in = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    fail("VAE history: not valid JSON (", e.what(), ")");
  }
  LOUPE_CHECK(in.is_array(), "VAE history: expected a JSON array of step records, found ", in.type_name());
  std::vector<VaeStepRecord> history;
  for (const auto& item : in) {
    VaeStepRecord r;
    r.step = counter(item, "step");
    r.epoch = counter(item, "epoch");
    for (const auto& [key, member] : kHistoryFields) r.*member = field(item, key);
    history.push_back(r);
  }
  return history;
}

}  // namespace loupe
