// The zoo's CNNs (small_cnn, resnet18/50 and their _small variants) as a graph of layers,
// for the executors that need each layer's geometry (incremental inference) or fold
// layers together (int8). The graph runs up to the model's last feature map; the model
// itself runs on from `head_tap` (global pooling and classifier).
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <memory>
#include <string>
#include <vector>

#include "loupe/models/taps.h"

namespace loupe {

// Windowed ops (convolution, max-pool) map an output row o to the input rows
// [o·s − p, o·s − p + k); pointwise ops (BatchNorm in eval mode, then ReLU) act per
// element; an addition sums two nodes.
struct CnnNode {
  enum class Kind { kInput, kConv, kMaxPool, kPointwise, kAdd };
  Kind kind = Kind::kInput;
  int a = -1, b = -1;  // operand nodes
  int64_t k = 1, s = 1, p = 0;
  bool ceil_mode = false;
  std::shared_ptr<torch::nn::Conv2dImpl> conv;     // kConv
  std::shared_ptr<torch::nn::BatchNorm2dImpl> bn;  // kPointwise: the BatchNorm, or null for ReLU alone
  bool relu = false;                               // kPointwise: ReLU after it

  torch::Tensor apply_pointwise(const torch::Tensor& x) const;
};

struct CnnGraph {
  std::vector<CnnNode> nodes;  // in forward order; node 0 is the image
  std::string head_tap;        // the tap whose output is the last node's

  int add(CnnNode node);
  int conv(int in, std::shared_ptr<torch::nn::Conv2dImpl> c);
  int max_pool(int in, int64_t k, int64_t s, int64_t p, bool ceil_mode);
  int batch_norm(int in, std::shared_ptr<torch::nn::BatchNorm2dImpl> bn, bool relu);
  int relu(int in);
  int sum(int a, int b);
  // For each node, the last node that reads it (itself when none does): executors free a
  // value once its last reader has run, as a plain forward does.
  std::vector<int> last_uses() const;
};

bool is_zoo_cnn(const TappedModel& model);
// A loupe::Error starting with `what` when the model is not one of the zoo's CNNs.
CnnGraph cnn_graph(TappedModel& model, const std::string& what);

}  // namespace loupe
