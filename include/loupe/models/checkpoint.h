// loupe's own checkpoints: model state, optimiser state, step, the ModelSpec (so a
// model can be rebuilt from the file alone) and a JSON string of extras (e.g. the
// training history). Written atomically; loading into another architecture is an
// error.
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <string>

#include "loupe/core/fs.h"
#include "loupe/models/zoo.h"

namespace loupe {

struct CheckpointInfo {
  ModelSpec spec;
  int64_t step = 0;  // e.g. epochs completed
  std::string extra_json = "{}";
};

void save_checkpoint(const fs::path& path, TappedModel& model, const ModelSpec& spec,
                     torch::optim::Optimizer* optimizer, int64_t step, const std::string& extra_json = "{}");

// Reads only the header part (spec, step, extras).
CheckpointInfo read_checkpoint_info(const fs::path& path);

// Loads into an existing model (and optimiser, if given and stored), on the model's
// device. A checkpoint whose spec differs from `spec`, or whose optimiser state is of
// another kind (Adam vs SGD), is a loupe::Error naming both, and nothing is loaded.
// Missing, truncated or corrupt files are loupe::Errors naming the path.
CheckpointInfo load_checkpoint(const fs::path& path, TappedModel& model, const ModelSpec& spec,
                               torch::optim::Optimizer* optimizer = nullptr);

// Builds the model the checkpoint describes and loads it.
std::shared_ptr<TappedModel> load_model(const fs::path& path, CheckpointInfo* info = nullptr);

}  // namespace loupe
