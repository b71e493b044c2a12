// What a training run minimises, as the one training loop (train/trainer.h) sees it:
// an Objective turns a batch into a loss and its logged parts. A GAN's alternating
// updates override step() and drive its several optimisers itself.
#pragma once

#include <torch/types.h>

#include <string>

#include "loupe/data/dataset.h"
#include "loupe/train/history.h"

namespace torch::optim {
class Optimizer;
}

namespace loupe {

class ProcessGroup;  // train/distributed.h

struct TrainContext {
  torch::Device device = torch::kCPU;
  int64_t step = 0;               // 0-based optimiser step over the whole run
  int64_t epoch = 1;              // 1-based
  int64_t epochs = 1;             // epochs the run will reach
  double epoch_seconds = 0;       // since this epoch's first step (for end_epoch)
  ProcessGroup* group = nullptr;  // the data-parallel group (train/distributed.h); null = one process
};

// The run's optimisers by name, in the order the trainer was given them. In data-parallel
// training every step averages the stepped parameters' gradients over the ranks first.
class Optimizers {
 public:
  void add(std::string name, torch::optim::Optimizer* optimizer);
  torch::optim::Optimizer& get(const std::string& name) const;  // loupe::Error for unknown names
  const std::vector<std::pair<std::string, torch::optim::Optimizer*>>& all() const { return items_; }
  void set_group(ProcessGroup* group) { group_ = group; }  // null = one process
  void zero_grad() const;
  void step() const;                         // every optimiser
  void step(const std::string& name) const;  // that one only (a GAN's alternating updates)

 private:
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> items_;
  ProcessGroup* group_ = nullptr;
};

class Objective {
 public:
  virtual ~Objective() = default;
  // The scalar to minimise on `batch` (images and labels moved to ctx.device by the
  // caller of step()), logging its parts. Objectives that override step() need not.
  virtual torch::Tensor loss(const Batch& batch, const TrainContext& ctx, StepLog& log);
  // One optimiser step: by default zero every gradient, loss(), check that it is finite,
  // back-propagate and step every optimiser; logs "loss" if loss() did not.
  virtual void step(const Batch& batch, const TrainContext& ctx, const Optimizers& optimizers, StepLog& log);
  // After each epoch's last step: add values to the epoch's record (e.g. validation).
  virtual void end_epoch(const TrainContext& /*ctx*/, HistoryRecord& /*record*/) {}
  // The progress bar's text from the running means of the current record.
  virtual std::string progress(const RecordAccumulator& record) const;
};

}  // namespace loupe
