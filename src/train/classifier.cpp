#include "loupe/train/classifier.h"

#include <torch/torch.h>

#include <cstdio>
#include <optional>

#include "loupe/core/error.h"
#include "loupe/core/progress.h"
#include "loupe/metrics/classification.h"

namespace loupe {
namespace {

void check_classifier_data(const char* role, const Dataset& data, const ModelSpec& spec) {
  LOUPE_CHECK(data.size() > 0, role, " data is empty; expected at least one image");
  LOUPE_CHECK(data.image_shape()[0] == spec.in_channels, role, " images have ", data.image_shape()[0],
              " channel(s) but the ", spec.arch, " was built for ", spec.in_channels);
  LOUPE_CHECK(data.num_classes() == spec.num_classes, role, " data has ", data.num_classes(), " classes but the ",
              spec.arch, " was built for ", spec.num_classes);
}

// LibTorch's shape errors come with a backtrace and no hint of which model or images;
// this says both.
torch::Tensor run_classifier(TappedModel& model, const torch::Tensor& images) {
  try {
    return model.forward(images);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    fail("model ", model.arch(), " cannot run on images of shape ", images.sizes(), ": ", msg);
  }
}

}  // namespace

torch::Tensor CrossEntropyObjective::loss(const Batch& batch, const TrainContext&, StepLog& log) {
  ClassifierLossTerms terms;
  try {
    terms = classifier_loss(model_, batch, loss_);
  } catch (const c10::Error&) {
    run_classifier(model_, batch.images);  // names the model and the image shape
    throw;
  }
  const double b = static_cast<double>(batch.images.size(0));
  log.add("loss", terms.loss.item<double>() * b, b);
  log.add("accuracy", static_cast<double>(terms.logits.argmax(1).eq(batch.labels).sum().item<int64_t>()), b);
  if (loss_.loss != ClassifierLoss::kCrossEntropy) {
    log.add("cross_entropy", terms.cross_entropy.item<double>() * b, b);
    log.add("penalty", terms.penalty.item<double>() * b, b);
  }
  return terms.loss;
}

void CrossEntropyObjective::end_epoch(const TrainContext& ctx, HistoryRecord& record) {
  if (validation_) {
    const Evaluation e = evaluate_classifier(model_, *validation_, ctx.device, eval_batch_size_);
    record.values["val_loss"] = e.loss;
    record.values["val_accuracy"] = e.accuracy;
  }
  record.values["seconds"] = ctx.epoch_seconds;
}

std::string CrossEntropyObjective::progress(const RecordAccumulator& record) const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "loss %.4f acc %.3f", record.mean("loss"), record.mean("accuracy"));
  return buf;
}

TrainResult train_classifier(TappedModel& model, const ModelSpec& spec, const Dataset& train, const Dataset* val,
                             const TrainOptions& options, torch::Device device, const ClassifierLossOptions& loss) {
  check_train_options(options);
  check_classifier_loss_options(loss);
  LOUPE_CHECK(model.arch() == spec.arch, "train: the model is a ", model.arch(), " but its spec says ", spec.arch);
  check_classifier_data("training", train, spec);
  if (val) check_classifier_data("validation", *val, spec);
  model.to(device);
  const auto optimizer = make_optimizer(model.parameters(), options.optimizer);
  CrossEntropyObjective objective(model, val, std::max<int64_t>(options.batch_size, 256), loss);
  return loupe::train({{{kClassifierModule, &model, spec_json(spec)}}, {{kClassifierModule, optimizer.get()}}}, train,
                      objective, TrainOptions(options).set_min_batch(std::min<int64_t>(2, options.batch_size)), device);
}

Evaluation evaluate_classifier(TappedModel& model, const Dataset& data, torch::Device device, int64_t batch_size,
                               bool progress) {
  LOUPE_CHECK(batch_size >= 1, "evaluation batch size ", batch_size, ": expected at least 1");
  LOUPE_CHECK(data.size() > 0, "evaluation data is empty; expected at least one image");
  const int64_t n = data.size(), k = data.num_classes();
  const bool was_training = model.is_training();
  model.to(device);
  model.eval();
  torch::NoGradGuard no_grad;

  std::vector<torch::Tensor> predictions, labels;
  double loss_sum = 0;
  std::optional<Progress> bar;
  if (progress) bar.emplace("eval", n, "img");
  for (int64_t first = 0; first < n; first += batch_size) {
    const Batch batch = data.get(torch::arange(first, std::min(n, first + batch_size), torch::kLong));
    const torch::Tensor y = batch.labels.to(device);
    const torch::Tensor logits = run_classifier(model, batch.images.to(device));
    LOUPE_CHECK(logits.dim() == 2 && logits.size(1) == k, "model ", model.arch(), " gives ", logits.sizes(),
                " logits but the data has ", k, " classes");
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    predictions.push_back(logits.argmax(1).cpu());
    labels.push_back(batch.labels);
    if (bar) bar->advance(batch.labels.size(0));
  }
  if (bar) bar->finish();
  model.train(was_training);

  Evaluation e;
  e.predictions = torch::cat(predictions);
  const torch::Tensor all_labels = torch::cat(labels);
  e.confusion = confusion_matrix(all_labels, e.predictions, k);
  e.accuracy = accuracy(all_labels, e.predictions);
  e.loss = loss_sum / static_cast<double>(n);
  return e;
}

}  // namespace loupe
