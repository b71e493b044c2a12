#include "loupe/train/lff.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/classifier.h"
#include "loupe/train/distributed.h"

namespace loupe {

namespace F = torch::nn::functional;

void check_lff_options(const LffOptions& o) {
  LOUPE_CHECK(std::isfinite(o.q) && o.q > 0 && o.q <= 1, "LfF q ", o.q, ": expected GCE's exponent in (0, 1]");
  LOUPE_CHECK(std::isfinite(o.ema_alpha) && o.ema_alpha >= 0 && o.ema_alpha < 1, "LfF EMA alpha ", o.ema_alpha,
              ": expected the weight of the old average in [0, 1)");
}

torch::Tensor generalized_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double q) {
  const auto p = torch::softmax(logits, 1).gather(1, labels.view({-1, 1})).view(-1);
  return (1 - p.pow(q)) / q;
}

LossAverages::LossAverages(int64_t size, double alpha, torch::Device device)
    : ema_(torch::zeros({size}, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      seen_(torch::zeros({size}, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      alpha_(alpha) {}

void LossAverages::update(const torch::Tensor& indices, const torch::Tensor& losses) {
  const auto old = ema_.index_select(0, indices), seen = seen_.index_select(0, indices);
  // First sight: (1 − α·0)·loss = the loss itself.
  ema_.index_copy_(0, indices, alpha_ * old + (1 - alpha_ * seen) * losses.detach().to(ema_.dtype()));
  seen_.index_fill_(0, indices, 1.0);
}

torch::Tensor LossAverages::normalised(const torch::Tensor& indices, const torch::Tensor& all_labels,
                                       int64_t num_classes) const {
  const auto labels = all_labels.to(ema_.device());
  // Largest average per class over the samples seen (unseen ones hold 0 and never win).
  const auto class_max =
      torch::zeros({num_classes}, ema_.options()).scatter_reduce(0, labels, ema_, "amax", /*include_self=*/true);
  const auto own = class_max.index_select(0, labels.index_select(0, indices));
  return ema_.index_select(0, indices) / own.clamp_min(1e-8);
}

torch::Tensor relative_difficulty(const torch::Tensor& biased, const torch::Tensor& debiased) {
  const auto sum = biased + debiased;
  return torch::where(sum > 0, biased / sum.clamp_min(1e-12), torch::full_like(sum, 0.5));
}

namespace {

class LffObjective : public Objective {
 public:
  LffObjective(TappedModel& debiased, TappedModel& biased, const TensorDataset& train, const Dataset* val,
               const LffOptions& o, torch::Device device, int64_t eval_batch)
      : debiased_(debiased),
        biased_(biased),
        labels_(train.labels().to(device)),
        classes_(train.num_classes()),
        options_(o),
        ema_b_(train.size(), o.ema_alpha, device),
        ema_d_(train.size(), o.ema_alpha, device),
        validation_(debiased, val, eval_batch) {}

  void step(const Batch& batch, const TrainContext& ctx, const Optimizers& optimizers, StepLog& log) override {
    LOUPE_CHECK(batch.indices.defined(), "LfF: batches need their sample indices (run it on the training loop)");
    const auto& y = batch.labels;
    const auto logits_d = debiased_.forward(batch.images), logits_b = biased_.forward(batch.images);
    const auto none = F::CrossEntropyFuncOptions().reduction(torch::kNone);
    const auto ce_d = F::cross_entropy(logits_d, y, none), ce_b = F::cross_entropy(logits_b, y, none);
    if (ctx.group) {
      // Every rank keeps the averages of every sample, as one process with the global batch.
      const auto indices = ctx.group->all_gather(batch.indices);
      const auto losses = ctx.group->all_gather(torch::stack({ce_b.detach(), ce_d.detach()}, 1));
      ema_b_.update(indices, losses.select(1, 0));
      ema_d_.update(indices, losses.select(1, 1));
    } else {
      ema_b_.update(batch.indices, ce_b.detach());
      ema_d_.update(batch.indices, ce_d.detach());
    }
    const auto weight = relative_difficulty(ema_b_.normalised(batch.indices, labels_, classes_),
                                            ema_d_.normalised(batch.indices, labels_, classes_))
                            .detach();
    const auto gce = generalized_cross_entropy(logits_b, y, options_.q);
    const auto loss = (ce_d * weight).mean() + gce.mean();
    const double n = static_cast<double>(y.size(0));
    const auto stats = torch::stack({loss.detach(), logits_d.argmax(1).eq(y).sum().to(loss.dtype()),
                                     gce.detach().mean(), weight.mean()})
                           .to(torch::kCPU, torch::kDouble);
    const auto* v = stats.data_ptr<double>();
    log.add("loss", v[0] * n, n);
    log.add("accuracy", v[1], n);
    log.add("gce", v[2] * n, n);
    log.add("weight", v[3] * n, n);
    if (!std::isfinite(v[0])) return;
    optimizers.zero_grad();
    loss.backward();
    optimizers.step();
  }

  void end_epoch(const TrainContext& ctx, HistoryRecord& record) override { validation_.end_epoch(ctx, record); }

  std::string progress(const RecordAccumulator& record) const override {
    char buf[96];
    std::snprintf(buf, sizeof buf, "loss %.4f acc %.3f W %.3f", record.mean("loss"), record.mean("accuracy"),
                  record.mean("weight"));
    return buf;
  }

 private:
  TappedModel& debiased_;
  TappedModel& biased_;
  torch::Tensor labels_;
  int64_t classes_;
  LffOptions options_;
  LossAverages ema_b_, ema_d_;
  CrossEntropyObjective validation_;  // f_D's validation loss and accuracy after each epoch
};

}  // namespace

LffResult train_lff(TappedModel& model, const ModelSpec& spec, const TensorDataset& train, const Dataset* val,
                    const TrainOptions& options, torch::Device device, const LffOptions& lff) {
  check_lff_options(lff);
  check_train_options(options);
  LOUPE_CHECK(model.arch() == spec.arch, "LfF: the model is a ", model.arch(), " but its spec says ", spec.arch);
  LOUPE_CHECK(train.num_classes() == spec.num_classes, "LfF: the data has ", train.num_classes(), " classes but the ",
              spec.arch, " was built for ", spec.num_classes);
  LffResult r;
  torch::manual_seed(options.seed + 1);
  r.biased = make_model(spec);
  model.to(device);
  r.biased->to(device);
  const auto debiased_opt = make_optimizer(model.parameters(), options.optimizer);
  const auto biased_opt = make_optimizer(r.biased->parameters(), options.optimizer);
  LffObjective objective(model, *r.biased, train, val, lff, device, std::max<int64_t>(options.batch_size, 256));
  TrainSetup setup;
  setup.modules = {{kClassifierModule, &model, spec_json(spec)}, {"biased", r.biased.get(), spec_json(spec)}};
  setup.optimizers = {{kClassifierModule, debiased_opt.get()}, {"biased", biased_opt.get()}};
  r.run = loupe::train(setup, train, objective,
                       TrainOptions(options).set_min_batch(std::min<int64_t>(2, options.batch_size)), device);
  return r;
}

}  // namespace loupe
