// The dataset images that excite each unit most (DESIGN.md probing workflow), found in one
// streaming pass: per unit, the best k so far are kept and merged with each batch, never
// all activations at once. Polysemanticity as a number: the entropy of the top-k images'
// class labels, and of any nuisance factor the data know (ColouredMNIST's colour).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "loupe/data/dataset.h"
#include "loupe/models/taps.h"

namespace loupe {

// Per row, the k largest scores seen so far with their ids (and an optional payload per
// score), best first; equal scores keep the earlier id first, so the result equals a
// stable descending sort of everything added (ids must grow from call to call).
class StreamingTopK {
 public:
  StreamingTopK(int64_t rows, int64_t k);
  // scores [rows,B]; ids int64 [B] (CPU); payload undefined or [rows,B,...] (same every call).
  void add(const torch::Tensor& scores, const torch::Tensor& ids, const torch::Tensor& payload = {});
  const torch::Tensor& scores() const { return scores_; }    // [rows,n], n = min(k, added)
  const torch::Tensor& ids() const { return ids_; }          // int64 [rows,n]
  const torch::Tensor& payload() const { return payload_; }  // [rows,n,...] or undefined
  int64_t k() const { return k_; }

 private:
  int64_t rows_, k_;
  torch::Tensor scores_, ids_, payload_;
};

enum class UnitReduce { kMean, kMax };         // a unit's score on an image: mean or max of its map
std::vector<std::string> unit_reduce_names();  // "mean", "max"
UnitReduce parse_unit_reduce(const std::string& text, const std::string& what);

struct TopActivationsOptions {
  int64_t k = 9;
  UnitReduce reduce = UnitReduce::kMean;
  int64_t batch_size = 256;
  bool keep_maps = true;  // also the activation map of each top image
  // clang-format off
  TopActivationsOptions& set_k(int64_t v) { k = v; return *this; }
  TopActivationsOptions& set_reduce(UnitReduce v) { reduce = v; return *this; }
  TopActivationsOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  TopActivationsOptions& set_keep_maps(bool v) { keep_maps = v; return *this; }
  // clang-format on
};

struct TopActivations {
  torch::Tensor units;    // int64 [U]
  torch::Tensor indices;  // int64 [U,k]: dataset positions, best first
  torch::Tensor scores;   // float [U,k]
  torch::Tensor maps;     // float [U,k,h,w] (undefined without keep_maps), CPU
};

// One pass over `data` in eval mode without gradients. `units` empty = every unit of the
// tap; a unit out of range or an unknown tap is a loupe::Error; k is capped at the
// dataset's size.
TopActivations top_activations(TappedModel& model, const Dataset& data, const std::string& tap,
                               const std::vector<int64_t>& units, const TopActivationsOptions& options,
                               torch::Device device);

// Shannon entropy in bits of each row of `values` (int64 [U,k], each in [0, num_values)):
// 0 when a row is one value, log2(num_values) at most. double [U].
torch::Tensor row_entropy(const torch::Tensor& values, int64_t num_values);

}  // namespace loupe
