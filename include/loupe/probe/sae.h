// Sparse autoencoders on a tap's activations (DESIGN.md probing workflow): a dictionary
// of F feature directions such that each activation vector x is ≈ Σ f_i(x)·d_i + b_dec
// with few f_i > 0.
//   relu: f = ReLU(W_enc (x − b_dec) + b_enc), loss ‖x − x̂‖² + λ‖f‖₁, decoder rows kept at
//         unit norm after every step (so the L1 cannot shrink them), features that did not
//         fire for resample_every steps re-initialised towards badly reconstructed inputs
//         (Bricken et al. 2023);
//   topk: only the k largest pre-activations stay (Gao et al. 2024), loss ‖x − x̂‖², no L1.
// Inputs are scaled by one constant fitted on the first batch so that E‖x‖² = d (the
// checkpoint keeps it), and b_dec starts at their mean. The defaults (λ = 1, Adam 4e-3)
// recover a planted dictionary (tests/probe/test_sae.cpp); Adam's moments of a
// resampled feature are not reset. Activations are streamed from
// the dataset through the model at each step, never stored: per spatial position (each
// [C] vector of a map is a sample) or pooled (the mean over positions).
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/data/dataset.h"
#include "loupe/models/taps.h"
#include "loupe/probe/top_activations.h"
#include "loupe/train/trainer.h"

namespace loupe {

enum class SaeKind { kRelu, kTopK };
std::vector<std::string> sae_kind_names();  // "relu", "topk"
SaeKind parse_sae_kind(const std::string& text, const std::string& what);

enum class ActivationSampling { kPositions, kPooled };
std::vector<std::string> activation_sampling_names();  // "positions", "pooled"
ActivationSampling parse_activation_sampling(const std::string& text, const std::string& what);

struct SaeSpec {
  int64_t inputs = 0;       // d: the tap's channels
  int64_t features = 4096;  // F, the reference's dictionary size
  SaeKind kind = SaeKind::kRelu;
  int64_t k = 32;  // topk: active features per sample (1 <= k <= F)
};
// A loupe::Error naming the first field out of range (k > features among them).
void check_sae_spec(const SaeSpec& spec);
std::string sae_spec_json(const SaeSpec& spec);  // {"arch": "sae", ...}
SaeSpec sae_spec_from_json(const std::string& json, const std::string& what);

class SparseAutoencoderImpl : public torch::nn::Module {
 public:
  explicit SparseAutoencoderImpl(const SaeSpec& spec);
  // x [N,d] (unscaled) → features [N,F] >= 0.
  torch::Tensor encode(const torch::Tensor& x) const;
  // features [N,F] → reconstruction [N,d] (unscaled).
  torch::Tensor decode(const torch::Tensor& features) const;
  torch::Tensor forward(const torch::Tensor& x) const { return decode(encode(x)); }
  // Every decoder row (a feature's direction) to unit norm.
  void normalise_decoder();
  const SaeSpec& spec() const { return spec_; }

  torch::Tensor w_enc, b_enc, w_dec, b_dec;  // [d,F], [F], [F,d], [d]
  torch::Tensor input_scale;                 // scalar buffer: x is multiplied by it inside

 private:
  SaeSpec spec_;
};
TORCH_MODULE(SparseAutoencoder);

// The activation vectors of a batch of images at `tap`: [N·h·w, C] or [N, C] (pooled).
torch::Tensor activation_vectors(TappedModel& model, const torch::Tensor& images, const std::string& tap,
                                 ActivationSampling sampling);

struct SaeTrainOptions {
  SaeSpec spec;  // inputs is filled from the tap
  ActivationSampling sampling = ActivationSampling::kPositions;
  double l1 = 1.0;  // relu: λ (on inputs scaled to E‖x‖² = d)
  double lr = 4e-3;
  int64_t steps = 2000;          // optimiser steps (batches of images)
  int64_t batch_size = 64;       // images per step
  int64_t resample_every = 500;  // relu: steps without firing before a feature is re-initialised (0 = never)
  uint64_t seed = 0;
  fs::path checkpoint;  // modules "sae" (and the optimiser); empty = none
  bool resume = false;
  std::string label = "train sae";
};

struct SaeTraining {
  SparseAutoencoder sae{nullptr};
  TrainResult run;        // logs "loss", "mse", "l0", "l1", "dead" (fraction not fired in the window)
  int64_t resampled = 0;  // features re-initialised in all
};

// Trains an SAE on the activations of `model` (eval mode, no gradients) at `tap` over
// `data` on the one training loop.
SaeTraining train_sae(TappedModel& model, const std::string& tap, const Dataset& data, const SaeTrainOptions& options,
                      torch::Device device);

// Builds the SAE a checkpoint describes (module "sae", on the CPU) and loads it.
SparseAutoencoder load_sae(const fs::path& path);

struct SaeMetrics {
  double mse = 0;                 // mean over samples and dimensions of (x − x̂)², unscaled
  double explained_variance = 0;  // 1 − Σ‖x − x̂‖² / Σ‖x − mean x‖²
  double l0 = 0;                  // mean active features per sample
  double dead_fraction = 0;       // features never active on `data`
  // The classifier with the tap replaced: its reconstruction, and zeros (ablation).
  double accuracy = 0, accuracy_spliced = 0, accuracy_zero = 0;
  double loss = 0, loss_spliced = 0, loss_zero = 0;  // mean cross-entropy
  double loss_recovered = 0;        // (loss_zero − loss_spliced) / (loss_zero − loss): 1 = as good as the model
  torch::Tensor feature_frequency;  // double [F]: fraction of samples on which each feature fires
};
// One pass over `data` (labels are the classifier's targets).
SaeMetrics evaluate_sae(TappedModel& model, const std::string& tap, SparseAutoencoderImpl& sae, const Dataset& data,
                        ActivationSampling sampling, torch::Device device, int64_t batch_size = 128);

// Per feature, the top-k images of `data` by the feature's largest activation over the
// tap's positions, with its map over each (units = the features): one streaming pass.
TopActivations top_feature_activations(TappedModel& model, const std::string& tap, SparseAutoencoderImpl& sae,
                                       const Dataset& data, int64_t k, torch::Device device, int64_t batch_size = 64);

// Steering: the classifier's mean class probabilities when α·(feature's decoder
// direction) is added to the tap's activations at every position (or to the pooled
// vector's broadcast), for each α: double [A,K].
torch::Tensor steer(TappedModel& model, const std::string& tap, SparseAutoencoderImpl& sae, int64_t feature,
                    const std::vector<double>& alphas, const torch::Tensor& images);

}  // namespace loupe
