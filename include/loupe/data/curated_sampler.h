// Curated normal/outlier sets from a factor dataset, for latent-space outlier
// detection: a normalcy criterion such as "wall_hue=green,shape=sphere,orientation=7"
// fixes some factors (value names or indices; "shape=sphere|cube" allows either);
// N normals are drawn uniformly without replacement from the samples satisfying it
// and M outliers from the rest. Seeded, independent of the global RNG.
#pragma once

#include <string>
#include <vector>

#include "loupe/data/factors.h"

namespace loupe {

struct NormalcyCriterion {
  std::string text;  // as parsed, for messages and reports
  // Per factor, the allowed value indices; empty = any value.
  std::vector<std::vector<int64_t>> allowed;
  // bool [B]: which factor vectors int64 [B,F] satisfy every term.
  torch::Tensor satisfied_by(const torch::Tensor& factors) const;
};

// Unknown factor or value names (the message lists the valid ones), out-of-range
// indices, a factor named twice or a malformed term are a loupe::Error quoting the text.
NormalcyCriterion parse_criterion(const std::string& text, const FactorDataset& data);

struct CuratedOptions {
  int64_t normals = 325;  // samples satisfying the criterion
  int64_t outliers = 25;  // samples violating it
  uint64_t seed = 0;      // drives the draws and the shuffle
  bool shuffle = true;    // interleave normals and outliers at random; else normals first
  CuratedOptions& set_normals(int64_t v) {
    normals = v;
    return *this;
  }
  CuratedOptions& set_outliers(int64_t v) {
    outliers = v;
    return *this;
  }
  CuratedOptions& set_seed(uint64_t v) {
    seed = v;
    return *this;
  }
  CuratedOptions& set_shuffle(bool v) {
    shuffle = v;
    return *this;
  }
};

struct CuratedSample {
  torch::Tensor indices;     // int64 [N+M], into the dataset
  torch::Tensor is_outlier;  // bool [N+M], the ground truth
  torch::Tensor factors;     // int64 [N+M,F]
};

// Requests for more normals (or outliers) than exist, or a criterion no sample
// satisfies, are a loupe::Error giving the counts available.
CuratedSample curated_sample(const FactorDataset& data, const NormalcyCriterion& criterion,
                             const CuratedOptions& options);

}  // namespace loupe
