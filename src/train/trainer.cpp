#include "loupe/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/progress.h"
#include "loupe/metrics/classification.h"
#include "loupe/models/checkpoint.h"

namespace loupe {
namespace {

using Clock = std::chrono::steady_clock;


std::unique_ptr<torch::optim::Optimizer> make_optimizer(TappedModel& model, const TrainOptions& o) {
  if (o.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(model.parameters(),
                                                torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  if (o.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        model.parameters(), torch::optim::SGDOptions(o.lr).momentum(0.9).weight_decay(o.weight_decay));
  fail("optimizer '", o.optimizer, "' is unknown; expected adam or sgd");
}

void check_options(const TrainOptions& o) {
  LOUPE_CHECK(o.epochs >= 1, "epochs ", o.epochs, ": expected at least 1");
  LOUPE_CHECK(o.batch_size >= 1, "batch size ", o.batch_size, ": expected at least 1");
  LOUPE_CHECK(std::isfinite(o.lr) && o.lr > 0, "learning rate ", o.lr, ": expected a positive number");
  LOUPE_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight decay ", o.weight_decay,
              ": expected a number >= 0");
  LOUPE_CHECK(o.max_steps_per_epoch >= 0, "max steps per epoch ", o.max_steps_per_epoch, ": expected >= 0 (0 = all)");
  LOUPE_CHECK(!o.resume || !o.checkpoint.empty(), "resume needs a checkpoint path to resume from");
}

void check_data(const char* role, const Dataset& data, const ModelSpec& spec) {
  LOUPE_CHECK(data.size() > 0, role, " data is empty; expected at least one image");
  LOUPE_CHECK(data.image_shape()[0] == spec.in_channels, role, " images have ", data.image_shape()[0],
              " channel(s) but the ", spec.arch, " was built for ", spec.in_channels);
  LOUPE_CHECK(data.num_classes() == spec.num_classes, role, " data has ", data.num_classes(), " classes but the ",
              spec.arch, " was built for ", spec.num_classes);
}

// LibTorch's shape errors come with a backtrace and no hint of which model or images;
// this says both.
torch::Tensor run_model(TappedModel& model, const torch::Tensor& images) {
  try {
    return model.forward(images);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    fail("model ", model.arch(), " cannot run on images of shape ", images.sizes(), ": ", msg);
  }
}

// The global generator is reseeded every epoch (not once per call) so that a resumed run
// draws exactly what an uninterrupted one would; the constant keeps this stream apart from
// the shuffling generator seeded with seed + epoch.
uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch);
}

std::string train_postfix(double loss, double acc) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "loss %.4f acc %.3f", loss, acc);
  return buf;
}

}  // namespace

TrainResult train_classifier(TappedModel& model, const ModelSpec& spec, const Dataset& train, const Dataset* val,
                             const TrainOptions& options, torch::Device device) {
  check_options(options);
  LOUPE_CHECK(model.arch() == spec.arch, "train: the model is a ", model.arch(), " but its spec says ", spec.arch);
  check_data("training", train, spec);
  if (val) check_data("validation", *val, spec);

  model.to(device);
  auto optimizer = make_optimizer(model, options);
  TrainResult result;
  int64_t first_epoch = 1;
  std::error_code ec;
  if (options.resume && fs::exists(options.checkpoint, ec)) {
    const CheckpointInfo info = load_checkpoint(options.checkpoint, model, spec, optimizer.get());
    try {
      result.history = history_from_json(info.extra_json);
    } catch (const Error& e) {
      fail("checkpoint ", options.checkpoint.string(), ": cannot resume, its training history is unreadable (",
           e.what(), ")");
    }
    first_epoch = info.step + 1;
  }

  const auto start = Clock::now();
  const int64_t n = train.size(), bs = options.batch_size;
  int64_t steps = (n + bs - 1) / bs;
  // BatchNorm cannot normalise a batch of one image once the maps are 1x1, so a lone
  // last image waits for the next epoch's shuffle.
  if (steps > 1 && n % bs == 1) --steps;
  if (options.max_steps_per_epoch > 0) steps = std::min(steps, options.max_steps_per_epoch);
  const int64_t images_per_epoch = std::min(n, steps * bs);

  for (int64_t epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    seed_everything(epoch_seed(options.seed, epoch));
    const torch::Tensor order = torch::randperm(n, make_generator(options.seed + epoch), torch::kLong);

    model.train();
    Progress bar(options.label + " epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs),
                 images_per_epoch, "img");
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const Batch batch = train.get(order.slice(0, step * bs, std::min(n, (step + 1) * bs)));
      const torch::Tensor x = batch.images.to(device), y = batch.labels.to(device);
      optimizer->zero_grad();
      const torch::Tensor logits = run_model(model, x);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      const double loss_value = loss.item<double>();
      LOUPE_CHECK(std::isfinite(loss_value), "training diverged: loss is ", loss_value, " at epoch ", epoch, ", step ",
                  step + 1, "; try a lower learning rate (now ", options.lr, ") or check the data for NaNs");
      loss.backward();
      optimizer->step();

      const int64_t b = x.size(0);
      const int64_t batch_correct = logits.argmax(1).eq(y).sum().item<int64_t>();
      loss_sum += loss_value * static_cast<double>(b);
      correct += batch_correct;
      seen += b;
      result.steps.push_back({epoch, loss_value, static_cast<double>(batch_correct) / static_cast<double>(b)});
      bar.advance(b, train_postfix(loss_sum / seen, static_cast<double>(correct) / seen));
    }
    bar.finish();
    result.train_seconds += seconds_since(epoch_start);

    EpochRecord record;
    record.epoch = epoch;
    record.train_loss = loss_sum / static_cast<double>(seen);
    record.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    record.val_loss = record.val_accuracy = std::numeric_limits<double>::quiet_NaN();
    if (val) {
      const Evaluation e = evaluate_classifier(model, *val, device, std::max<int64_t>(bs, 256));
      record.val_loss = e.loss;
      record.val_accuracy = e.accuracy;
    }
    record.seconds = seconds_since(epoch_start);
    result.history.push_back(record);
    result.images_seen += seen;
    if (!options.checkpoint.empty())
      save_checkpoint(options.checkpoint, model, spec, optimizer.get(), epoch, history_to_json(result.history));
  }
  model.eval();
  result.seconds = seconds_since(start);
  return result;
}

Evaluation evaluate_classifier(TappedModel& model, const Dataset& data, torch::Device device, int64_t batch_size) {
  LOUPE_CHECK(batch_size >= 1, "evaluation batch size ", batch_size, ": expected at least 1");
  LOUPE_CHECK(data.size() > 0, "evaluation data is empty; expected at least one image");
  const int64_t n = data.size(), k = data.num_classes();
  const bool was_training = model.is_training();
  model.to(device);
  model.eval();
  torch::NoGradGuard no_grad;

  std::vector<torch::Tensor> predictions, labels;
  double loss_sum = 0;
  for (int64_t first = 0; first < n; first += batch_size) {
    const Batch batch = data.get(torch::arange(first, std::min(n, first + batch_size), torch::kLong));
    const torch::Tensor y = batch.labels.to(device);
    const torch::Tensor logits = run_model(model, batch.images.to(device));
    LOUPE_CHECK(logits.dim() == 2 && logits.size(1) == k, "model ", model.arch(), " gives ", logits.sizes(),
                " logits but the data has ", k, " classes");
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    predictions.push_back(logits.argmax(1).cpu());
    labels.push_back(batch.labels);
  }
  model.train(was_training);

  Evaluation e;
  e.predictions = torch::cat(predictions);
  const torch::Tensor all_labels = torch::cat(labels);
  e.confusion = confusion_matrix(all_labels, e.predictions, k);
  e.accuracy = accuracy(all_labels, e.predictions);
  e.loss = loss_sum / static_cast<double>(n);
  return e;
}

namespace {

// JSON has no NaN; a missing validation metric is written as null.
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double number_from(const nlohmann::json& record, const char* key) {
  LOUPE_CHECK(record.contains(key), "training history: a record has no '", key, "' field");
  const auto& v = record.at(key);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  LOUPE_CHECK(v.is_number(), "training history: field '", key, "' should be a number or null, found ", v.dump());
  return v.get<double>();
}

}  // namespace

std::string history_to_json(const std::vector<EpochRecord>& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : history)
    out.push_back({{"epoch", r.epoch},
                   {"train_loss", number_or_null(r.train_loss)},
                   {"train_accuracy", number_or_null(r.train_accuracy)},
                   {"val_loss", number_or_null(r.val_loss)},
                   {"val_accuracy", number_or_null(r.val_accuracy)},
                   {"seconds", number_or_null(r.seconds)}});
  return out.dump();
}

std::vector<EpochRecord> history_from_json(const std::string& json) {
  nlohmann::json in;
  try {
    in = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    fail("training history: not valid JSON (", e.what(), ")");
  }
  LOUPE_CHECK(in.is_array(), "training history: expected a JSON array of epoch records, found ", in.type_name());
  std::vector<EpochRecord> history;
  for (const auto& item : in) {
    LOUPE_CHECK(item.is_object(), "training history: expected an epoch record object, found ", item.dump());
    EpochRecord r;
    const double epoch = number_from(item, "epoch");
    LOUPE_CHECK(std::isfinite(epoch) && epoch >= 1 && epoch == std::floor(epoch),
                "training history: epoch should be a whole number >= 1, found ", item.at("epoch").dump());
    r.epoch = static_cast<int64_t>(epoch);
    r.train_loss = number_from(item, "train_loss");
    r.train_accuracy = number_from(item, "train_accuracy");
    r.val_loss = number_from(item, "val_loss");
    r.val_accuracy = number_from(item, "val_accuracy");
    r.seconds = number_from(item, "seconds");
    history.push_back(r);
  }
  return history;
}

}  // namespace loupe
