// Unit → concept labels (DESIGN.md probing workflow).
//   NetDissect (Bau et al. 2017): per unit, the threshold T_u is its top-quantile
//   activation over every position of every dataset image (default the top 0.5%); its
//   maps, bilinearly upsampled to the image, are binarised at T_u and compared with each
//   concept's masks: IoU_{u,c} = Σ|M_u ∩ L_c| / Σ|M_u ∪ L_c| over the dataset. A unit's
//   label is its best concept, its score that IoU.
//   CLIP-Dissect (Oikarinen & Weng 2023): soft-WPMI between each unit's most activating
//   images and any concept-activation matrix (images × concepts, e.g. CLIP similarities
//   computed elsewhere), with the authors' defaults.
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "loupe/data/dataset.h"
#include "loupe/models/taps.h"

namespace loupe {

// Concepts a dataset knows pixel by pixel.
struct ConceptSet {
  std::vector<std::string> names;  // one per concept, e.g. "colour:red", "class:Trouser"
  std::vector<std::string> kinds;  // one per concept, e.g. "colour", "class"
  // Masks of a batch: (images float [B,C,H,W] in [0,1], dataset positions int64 [B]) →
  // bool [B,M,H,W] for the M concepts.
  std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& indices)> masks;
};

struct DissectOptions {
  double quantile = 0.005;  // the top fraction of a unit's activations that count as "on"
  int64_t batch_size = 128;
  // clang-format off
  DissectOptions& set_quantile(double v) { quantile = v; return *this; }
  DissectOptions& set_batch_size(int64_t v) { batch_size = v; return *this; }
  // clang-format on
};

struct Dissection {
  torch::Tensor units;       // int64 [U]
  torch::Tensor thresholds;  // float [U]: T_u
  torch::Tensor iou;         // double [U,M]
  torch::Tensor best;        // int64 [U]: the concept of highest IoU (the first on ties)
  torch::Tensor best_iou;    // double [U]
};

// Two passes over `data` (thresholds, then IoU), in eval mode without gradients; `units`
// empty = every unit of the tap (a feature-map tap).
Dissection dissect(TappedModel& model, const Dataset& data, const std::string& tap, const std::vector<int64_t>& units,
                   const ConceptSet& concepts, const DissectOptions& options, torch::Device device);

// IoU of binary unit masks and concept masks summed over batches: add() active bool
// [B,U,P] and concepts bool [B,M,P] (P positions per image); iou() double [U,M], 0 where
// both are empty.
class IouAccumulator {
 public:
  void add(const torch::Tensor& active, const torch::Tensor& concepts);
  torch::Tensor iou() const;

 private:
  torch::Tensor intersection_, active_count_, concept_count_;
};

struct SoftWpmiOptions {
  int64_t top_k = 100;     // a unit's most activating images
  double a = 10;           // concept activations are softmax(a · row) over concepts
  double lambda = 1;       // weight of the prior term
  double p_start = 0.998;  // probability that the best image belongs to the unit's set ...
  double p_end = 0.97;     // ... falling linearly to this at rank top_k
  double min_prob = 1e-7;
};
// sim[u,m] = log p(m | E_u) − λ·log p(m), where E_u is unit u's top_k images by activation,
// log p(m | E_u) = Σ_j log(1 + p_j·(P[i_j,m] − 1) + min_prob) over them (p_j from p_start
// to p_end by rank), P = softmax(a·concepts) per image, and log p(m) the log of the mean
// over units of p(m | E_u). unit_activations [N,U] (one number per image and unit),
// concept_activations [N,M]; result double [U,M].
torch::Tensor soft_wpmi(const torch::Tensor& unit_activations, const torch::Tensor& concept_activations,
                        const SoftWpmiOptions& options = {});

// The same concepts for images that are `source_indices` of the concepts' dataset, in order:
// masks(images, positions) asks `concepts` for source_indices[positions].
ConceptSet remap_concepts(const ConceptSet& concepts, const torch::Tensor& source_indices);

// The concepts of a ColouredMNIST-style split: stroke pixels (max channel > 0.2) of each
// palette colour ("colour:<name>") and of each class ("class:<name>"); colours[i] is image
// i's colour index.
ConceptSet coloured_concepts(const std::vector<std::string>& class_names, std::vector<int64_t> colours,
                             const torch::Tensor& labels);

class Shapes3D;
// The concepts procedural Shapes3D knows pixel by pixel: each part ("part:sky", "part:floor",
// "part:wall", "part:object") and each part in each hue ("floor:red", ..., "object:pink"),
// from the renderer's part labels of the images' factors (data.factors(indices); the set
// keeps its own copy of `data`).
ConceptSet shapes3d_concepts(const Shapes3D& data);

}  // namespace loupe
