// One checkpoint format for every training run: named modules, each with the
// architecture spec that rebuilds it (JSON with an "arch" key), named optimiser states,
// the step and epoch reached, the training history and extras. Written atomically.
// Loading checks every spec and optimiser kind before it touches anything, and refuses
// weights that hold NaN/Inf, naming the file and the first bad tensor. Files of format 1
// (one classifier or one VAE, loupe 0.1) still load; their classifiers cannot resume.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/models/vae.h"
#include "loupe/models/vaegan.h"
#include "loupe/models/zoo.h"

namespace loupe {

// A module as a checkpoint holds it. Names are [a-z0-9_]+ ("model", "generator").
struct CheckpointModule {
  std::string name;
  torch::nn::Module* module = nullptr;
  std::string spec_json;  // {"arch": ..., ...}: enough to rebuild the module
};

struct CheckpointOptimizer {
  std::string name;
  torch::optim::Optimizer* optimizer = nullptr;
};

struct TrainingState {
  int64_t step = 0;                  // optimiser steps completed
  int64_t epoch = 0;                 // epochs completed
  std::string history_json = "[]";  // see train/history.h
  std::string extra_json = "{}";     // anything else the trainer keeps
};

struct CheckpointInfo {
  int64_t format = 0;
  TrainingState state;
  std::map<std::string, std::string> specs;       // module name -> spec JSON
  std::map<std::string, std::string> optimizers;  // optimiser name -> kind ("adam", "sgd", ...)
  bool resumable = true;                           // false for format-1 classifier files
};

void save_checkpoint(const fs::path& path, const std::vector<CheckpointModule>& modules,
                     const std::vector<CheckpointOptimizer>& optimizers, const TrainingState& state);

// Reads only the header (specs, optimiser kinds, state).
CheckpointInfo read_checkpoint_info(const fs::path& path);

// Loads every module of `modules` (each must be in the file, with an equal spec) and
// every optimiser of `optimizers` the file holds (of the same kind), on each module's
// device. Refusals come before anything is loaded; modules are restored if their
// loaded weights are not finite. Missing, truncated or corrupt files name the path.
CheckpointInfo load_checkpoint(const fs::path& path, const std::vector<CheckpointModule>& modules,
                               const std::vector<CheckpointOptimizer>& optimizers = {});

// Architecture specs as checkpoint JSON, and back (errors name `what`).
std::string spec_json(const ModelSpec& spec);
std::string spec_json(const VaeSpec& spec);
std::string spec_json(const VaeGanSpec& spec);  // the autoencoder ("vaegan_conv")
std::string discriminator_spec_json(const VaeGanSpec& spec);  // "vaegan_discriminator"
ModelSpec model_spec_from_json(const std::string& json, const std::string& what);
VaeSpec vae_spec_from_json(const std::string& json, const std::string& what);
VaeGanSpec vaegan_spec_from_json(const std::string& json, const std::string& what);

// The module names the typed helpers use: a classifier is "model", a VAE "vae".
inline const char* const kClassifierModule = "model";
inline const char* const kVaeModule = "vae";
// A reconstruction model (train/vaegan_objective.h) is "autoencoder", plus
// "discriminator" for a VAE-GAN.
inline const char* const kAutoencoderModule = "autoencoder";
inline const char* const kDiscriminatorModule = "discriminator";

// Builds the classifier the checkpoint describes (on the CPU) and loads it.
std::shared_ptr<TappedModel> load_model(const fs::path& path, CheckpointInfo* info = nullptr);
// The spec of a checkpoint's classifier (module "model"); an error naming `path` if none.
ModelSpec classifier_spec(const CheckpointInfo& info, const fs::path& path);
// Builds the VAE the checkpoint describes (on the CPU) and loads it.
Vae load_vae(const fs::path& path, CheckpointInfo* info = nullptr);
// Builds the reconstruction model's autoencoder (on the CPU), loads it and puts it in
// eval mode; the discriminator, if any, is not needed to score images and is not loaded.
VaeGan load_vaegan(const fs::path& path, CheckpointInfo* info = nullptr);

}  // namespace loupe
