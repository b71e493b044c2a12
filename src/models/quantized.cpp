#include "loupe/models/quantized.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "loupe/core/error.h"
#include "models/cnn_graph.h"

namespace loupe {

// One fused layer: convolution (+ folded BatchNorm, + ReLU), residual addition (+ ReLU) or
// max-pool, reading and writing values numbered as the graph's nodes.
struct QuantizedLayer {
  enum class Kind { kConv, kAdd, kMaxPool };
  Kind kind = Kind::kConv;
  int node = -1, a = -1, b = -1, out = -1;  // node: the graph node it starts at
  bool relu = false;
  int64_t k = 1, s = 1, p = 0;
  bool ceil_mode = false;
  torch::Tensor weight, bias;  // kConv: float, BatchNorm folded in (released once packed)
  c10::IValue packed;          // kConv: the int8 weights prepacked for the engine
  c10::optional<c10::OperatorHandle> op;  // kConv, kAdd: the quantized operator that runs it
};

struct QuantizedPlan {
  std::vector<QuantizedLayer> layers;
  std::vector<int> last_use;                          // per graph node: its last reader
  std::map<int, std::pair<double, int64_t>> qparams;  // value → (scale, zero point), uint8
  int last = 0;                                       // the value the model's head reads
  std::string head_tap;
};

namespace {

using Layer = QuantizedLayer;

// A registered operator by name and overload ("quantized::conv2d_relu", "new").
c10::OperatorHandle find_op(const char* name, const char* overload = "") {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
}

c10::IValue call(const c10::OperatorHandle& op, torch::jit::Stack stack) {
  op.callBoxed(&stack);
  return stack.at(0);
}

at::QEngine pick_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  for (const auto e : {at::QEngine::X86, at::QEngine::FBGEMM, at::QEngine::ONEDNN, at::QEngine::QNNPACK})
    if (std::find(engines.begin(), engines.end(), e) != engines.end()) return e;
  return at::QEngine::NoQEngine;
}

// BatchNorm (eval) folded into the convolution before it: w·γ/σ, (b − μ)·γ/σ + β.
std::pair<torch::Tensor, torch::Tensor> fold(const CnnNode& conv, const CnnNode& norm) {
  const auto& bn = *norm.bn;
  const auto factor = bn.weight / torch::sqrt(bn.running_var + bn.options.eps());
  const auto w = conv.conv->weight * factor.view({-1, 1, 1, 1});
  const auto b0 = conv.conv->bias.defined() ? conv.conv->bias : torch::zeros_like(bn.running_mean);
  return {w.contiguous(), ((b0 - bn.running_mean) * factor + bn.bias).contiguous()};
}

torch::Tensor run_float(const Layer& l, const std::vector<torch::Tensor>& v) {
  torch::Tensor y;
  switch (l.kind) {
    case Layer::Kind::kConv:
      y = torch::conv2d(v[static_cast<size_t>(l.a)], l.weight, l.bias, l.s, l.p);
      break;
    case Layer::Kind::kAdd:
      y = v[static_cast<size_t>(l.a)] + v[static_cast<size_t>(l.b)];
      break;
    case Layer::Kind::kMaxPool:
      return torch::max_pool2d(v[static_cast<size_t>(l.a)], l.k, l.s, l.p, 1, l.ceil_mode);
  }
  return l.relu ? torch::relu(y) : y;
}

// uint8 affine parameters of a range, as torch's MinMaxObserver (the range always holds 0).
std::pair<double, int64_t> uint8_params(double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  const double scale = std::max((hi - lo) / 255.0, static_cast<double>(std::numeric_limits<float>::epsilon()));
  const auto zero = static_cast<int64_t>(std::nearbyint(-lo / scale));
  return {scale, std::clamp<int64_t>(zero, 0, 255)};
}

}  // namespace

std::string QuantizedForward::engine() {
  switch (pick_engine()) {
    case at::QEngine::X86:
      return "x86";
    case at::QEngine::FBGEMM:
      return "fbgemm";
    case at::QEngine::ONEDNN:
      return "onednn";
    case at::QEngine::QNNPACK:
      return "qnnpack";
    default:
      return "";
  }
}

bool QuantizedForward::supports(const TappedModel& model) { return is_zoo_cnn(model) && !engine().empty(); }

QuantizedForward::QuantizedForward(TappedModel& model, const torch::Tensor& calibration)
    : model_(model), plan_(std::make_unique<QuantizedPlan>()) {
  LOUPE_CHECK(!engine().empty(), "int8 quantisation: this LibTorch has no quantized CPU engine");
  const auto graph = cnn_graph(model, "int8 quantisation");
  LOUPE_CHECK(calibration.dim() == 4 && calibration.size(0) > 0, "int8 quantisation: expected calibration images ",
              "[N,C,H,W], got ", calibration.sizes());
  auto& p = *plan_;
  p.head_tap = graph.head_tap;
  const auto& nodes = graph.nodes;
  // Fuse: convolution + its BatchNorm (+ ReLU), addition + ReLU.
  for (size_t i = 1; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    const bool followed =
        i + 1 < nodes.size() && nodes[i + 1].kind == CnnNode::Kind::kPointwise && nodes[i + 1].a == static_cast<int>(i);
    Layer l;
    l.node = static_cast<int>(i);
    l.a = n.a;
    l.b = n.b;
    l.out = static_cast<int>(i);
    if (n.kind == CnnNode::Kind::kConv) {
      LOUPE_CHECK(followed && nodes[i + 1].bn, "int8 quantisation: expected a BatchNorm after every convolution");
      l.kind = Layer::Kind::kConv;
      std::tie(l.weight, l.bias) = fold(n, nodes[i + 1]);
      l.k = n.k;
      l.s = n.s;
      l.p = n.p;
    } else if (n.kind == CnnNode::Kind::kAdd) {
      l.kind = Layer::Kind::kAdd;
    } else if (n.kind == CnnNode::Kind::kMaxPool) {
      l.kind = Layer::Kind::kMaxPool;
      l.k = n.k;
      l.s = n.s;
      l.p = n.p;
      l.ceil_mode = n.ceil_mode;
    } else {
      fail("int8 quantisation: a BatchNorm or ReLU that follows no convolution or addition");
    }
    if (l.kind != Layer::Kind::kMaxPool && followed) {
      LOUPE_CHECK(l.kind == Layer::Kind::kConv || !nodes[i + 1].bn, "int8 quantisation: a BatchNorm after an addition");
      l.relu = nodes[i + 1].relu;
      l.out = static_cast<int>(++i);
    }
    p.layers.push_back(std::move(l));
  }
  p.last = p.layers.back().out;
  p.last_use = graph.last_uses();

  // Calibrate: the range of every value on the calibration images, in float.
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> v(nodes.size());
  v[0] = calibration.to(torch::kCPU, torch::kFloat);
  p.qparams[0] = uint8_params(v[0].min().item<double>(), v[0].max().item<double>());
  for (const auto& l : p.layers) {
    v[static_cast<size_t>(l.out)] = run_float(l, v);
    const auto& y = v[static_cast<size_t>(l.out)];
    // A max-pool keeps its input's scale (as the quantized kernel does).
    p.qparams[l.out] = l.kind == Layer::Kind::kMaxPool ? p.qparams.at(l.a)
                                                       : uint8_params(y.min().item<double>(), y.max().item<double>());
  }

  // Pack the weights: int8, symmetric per output channel (scale = max |w| / 127.5); look the
  // operators up once.
  at::globalContext().setQEngine(pick_engine());
  const auto prepack = find_op("quantized::conv2d_prepack");
  for (auto& l : p.layers) {
    if (l.kind == Layer::Kind::kAdd) l.op = l.relu ? find_op("quantized::add_relu") : find_op("quantized::add");
    if (l.kind != Layer::Kind::kConv) continue;
    l.op = l.relu ? find_op("quantized::conv2d_relu", "new") : find_op("quantized::conv2d", "new");
    const auto scales = (l.weight.abs().amax({1, 2, 3}).to(torch::kDouble) / 127.5).clamp_min(1e-12);
    const auto zeros = torch::zeros({l.weight.size(0)}, torch::kLong);
    const auto qw = torch::quantize_per_channel(l.weight, scales, zeros, 0, torch::kQInt8);
    l.packed = call(prepack, {qw, c10::optional<torch::Tensor>(l.bias), std::vector<int64_t>{l.s, l.s},
                              std::vector<int64_t>{l.p, l.p}, std::vector<int64_t>{1, 1}, int64_t{1}});
    l.weight = l.bias = torch::Tensor();
  }
}

QuantizedForward::~QuantizedForward() = default;

torch::Tensor QuantizedForward::forward(const torch::Tensor& x) {
  LOUPE_CHECK(x.dim() == 4, "int8 quantisation: expected images [N,C,H,W], got ", x.sizes());
  torch::NoGradGuard no_grad;
  auto& p = *plan_;
  std::map<int, torch::Tensor> values;
  const auto [s0, z0] = p.qparams.at(0);
  values[0] = torch::quantize_per_tensor(x.to(torch::kCPU, torch::kFloat).contiguous(), s0, z0, torch::kQUInt8);
  for (const auto& l : p.layers) {
    const auto [scale, zero] = p.qparams.at(l.out);
    const auto& a = values.at(l.a);
    switch (l.kind) {
      case Layer::Kind::kConv:
        values[l.out] = call(*l.op, {a, l.packed, scale, zero}).toTensor();
        break;
      case Layer::Kind::kAdd:
        values[l.out] = call(*l.op, {a, values.at(l.b), scale, zero}).toTensor();
        break;
      case Layer::Kind::kMaxPool:
        values[l.out] = torch::max_pool2d(a, {l.k, l.k}, {l.s, l.s}, {l.p, l.p}, {1, 1}, l.ceil_mode);
        break;
    }
    for (const int operand : {l.a, l.b})
      if (operand >= 0 && p.last_use[static_cast<size_t>(operand)] == l.node) values.erase(operand);
  }
  return model_.forward_from(p.head_tap, values.at(p.last).dequantize().to(x.device()));
}

}  // namespace loupe
