#include "models/cnn_graph.h"

#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/models/resnet.h"
#include "loupe/models/small_cnn.h"

namespace loupe {

torch::Tensor CnnNode::apply_pointwise(const torch::Tensor& x) const {
  auto y = bn ? bn->forward(x) : x;
  return relu ? torch::relu(y) : y;
}

int CnnGraph::add(CnnNode node) {
  nodes.push_back(std::move(node));
  return static_cast<int>(nodes.size()) - 1;
}

int CnnGraph::conv(int in, std::shared_ptr<torch::nn::Conv2dImpl> c) {
  const auto& o = c->options;
  const auto padding = c10::get<torch::ExpandingArray<2>>(o.padding());
  LOUPE_CHECK(o.kernel_size()->at(0) == o.kernel_size()->at(1) && o.stride()->at(0) == o.stride()->at(1) &&
                  padding->at(0) == padding->at(1) && o.dilation()->at(0) == 1 && o.dilation()->at(1) == 1 &&
                  o.groups() == 1,
              "CNN graph: expected square, undilated, ungrouped convolutions");
  CnnNode n;
  n.kind = CnnNode::Kind::kConv;
  n.a = in;
  n.k = o.kernel_size()->at(0);
  n.s = o.stride()->at(0);
  n.p = padding->at(0);
  n.conv = std::move(c);
  return add(std::move(n));
}

int CnnGraph::max_pool(int in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  CnnNode n;
  n.kind = CnnNode::Kind::kMaxPool;
  n.a = in;
  n.k = k;
  n.s = s;
  n.p = p;
  n.ceil_mode = ceil_mode;
  return add(std::move(n));
}

int CnnGraph::batch_norm(int in, std::shared_ptr<torch::nn::BatchNorm2dImpl> bn, bool relu) {
  CnnNode n;
  n.kind = CnnNode::Kind::kPointwise;
  n.a = in;
  n.bn = std::move(bn);
  n.relu = relu;
  return add(std::move(n));
}

int CnnGraph::relu(int in) { return batch_norm(in, nullptr, true); }

int CnnGraph::sum(int a, int b) {
  CnnNode n;
  n.kind = CnnNode::Kind::kAdd;
  n.a = a;
  n.b = b;
  return add(std::move(n));
}

std::vector<int> CnnGraph::last_uses() const {
  std::vector<int> last(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    last[i] = static_cast<int>(i);
    for (const int operand : {nodes[i].a, nodes[i].b})
      if (operand >= 0) last[static_cast<size_t>(operand)] = static_cast<int>(i);
  }
  return last;
}

bool is_zoo_cnn(const TappedModel& model) {
  return dynamic_cast<const ResNetImpl*>(&model) != nullptr || dynamic_cast<const SmallCnnImpl*>(&model) != nullptr;
}

CnnGraph cnn_graph(TappedModel& model, const std::string& what) {
  CnnGraph g;
  int x = g.add(CnnNode{});
  if (auto* cnn = dynamic_cast<SmallCnnImpl*>(&model)) {
    x = g.batch_norm(g.conv(x, cnn->conv1.ptr()), cnn->bn1.ptr(), true);
    x = g.max_pool(x, 2, 2, 0, true);
    x = g.batch_norm(g.conv(x, cnn->conv2.ptr()), cnn->bn2.ptr(), true);
    x = g.max_pool(x, 2, 2, 0, true);
    g.batch_norm(g.conv(x, cnn->conv3.ptr()), cnn->bn3.ptr(), true);
    g.head_tap = "conv3";
    return g;
  }
  auto* net = dynamic_cast<ResNetImpl*>(&model);
  LOUPE_CHECK(net != nullptr, what, ": model ", model.arch(),
              " is not one of the zoo's CNNs (small_cnn, resnet18/50 and their _small variants)");
  x = g.batch_norm(g.conv(x, net->conv1.ptr()), net->bn1.ptr(), true);
  if (!net->options().small_stem) x = g.max_pool(x, 3, 2, 1, false);
  for (const auto& layer : {net->layer1, net->layer2, net->layer3, net->layer4}) {
    for (const auto& module : layer->children()) {
      const auto block = std::dynamic_pointer_cast<ResidualBlockImpl>(module);
      LOUPE_CHECK(block != nullptr, what, ": expected residual blocks in ", model.arch());
      int y = x;
      for (size_t i = 0; i < block->convs.size(); ++i)
        y = g.batch_norm(g.conv(y, block->convs[i].ptr()), block->bns[i].ptr(), i + 1 < block->convs.size());
      int shortcut = x;
      if (block->downsample) {
        const auto c = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(block->downsample->ptr(0));
        const auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(block->downsample->ptr(1));
        LOUPE_CHECK(c && bn, what, ": expected a convolution and a BatchNorm as ", model.arch(), "'s downsample");
        shortcut = g.batch_norm(g.conv(x, c), bn, false);
      }
      x = g.relu(g.sum(y, shortcut));
    }
  }
  g.head_tap = "layer4";
  return g;
}

}  // namespace loupe
