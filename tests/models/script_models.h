// Small TorchScript models written by LibTorch itself (torch::jit::Module + define), so
// that the suite tests loupe's TorchScript support without Python. Class names are
// unique per file: each module gets its own compilation unit. Methods defined from C++
// call submodules as `self.sub.forward(x)` (what `self.sub(x)` compiles to in Python).
#pragma once

#include <torch/csrc/jit/api/module.h>
#include <torch/torch.h>

#include <string>

#include "loupe/core/fs.h"
#include "loupe/models/small_cnn.h"

namespace loupe::testing {

// A 3x3 convolution (padding 1) as a TorchScript submodule.
inline torch::jit::Module script_conv(const std::string& cls, const torch::Tensor& weight, const torch::Tensor& bias) {
  torch::jit::Module m(cls);
  m.register_parameter("weight", weight, false);
  m.register_parameter("bias", bias, false);
  m.define(R"(
def forward(self, x):
    return torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1])
)");
  return m;
}

inline torch::jit::Module script_linear(const std::string& cls, const torch::Tensor& weight,
                                        const torch::Tensor& bias) {
  torch::jit::Module m(cls);
  m.register_parameter("weight", weight, false);
  m.register_parameter("bias", bias, false);
  m.define(R"(
def forward(self, x):
    return torch.addmm(self.bias, x, self.weight.t())
)");
  return m;
}

// Weights of ResidualNet, [C=4 channels, K=3 classes], from a seeded generator.
struct ResidualWeights {
  torch::Tensor stem_w, stem_b, a_w, a_b, b_w, b_b, head_w, head_b;
  explicit ResidualWeights(uint64_t seed) {
    torch::manual_seed(seed);
    stem_w = torch::randn({4, 3, 3, 3}) * 0.5;
    stem_b = torch::randn({4}) * 0.1;
    a_w = torch::randn({4, 4, 3, 3}) * 0.3;
    a_b = torch::randn({4}) * 0.1;
    b_w = torch::randn({4, 4, 3, 3}) * 0.3;
    b_b = torch::randn({4}) * 0.1;
    head_w = torch::randn({3, 4});
    head_b = torch::randn({3});
  }
};

// stem (conv) → ReLU → block (conv_a → ReLU → conv_b, `y += x` in place, ReLU in place)
// → global average → head (linear). Submodules: stem, block, block.conv_a, block.conv_b,
// head. The in-place add and ReLU after conv_b test that a recorded tap is what the
// submodule returned.
inline void write_residual_script(const fs::path& path, const ResidualWeights& w) {
  torch::jit::Module block("ResBlock");
  block.register_module("conv_a", script_conv("ConvA", w.a_w, w.a_b));
  block.register_module("conv_b", script_conv("ConvB", w.b_w, w.b_b));
  block.define(R"(
def forward(self, x):
    y = torch.relu(self.conv_a.forward(x))
    y = self.conv_b.forward(y)
    y += x
    return torch.relu_(y)
)");
  torch::jit::Module net("ResidualNet");
  net.register_module("stem", script_conv("Stem", w.stem_w, w.stem_b));
  net.register_module("block", block);
  net.register_module("head", script_linear("Head", w.head_w, w.head_b));
  net.define(R"(
def forward(self, x):
    x = torch.relu(self.stem.forward(x))
    x = self.block.forward(x)
    return self.head.forward(torch.mean(x, [2, 3]))
)");
  net.save(path.string());
}

// The same network in plain LibTorch ops; the pieces tests compare taps against.
struct ResidualPieces {
  torch::Tensor stem, conv_a, conv_b, block, logits;
};
inline ResidualPieces residual_reference(const ResidualWeights& w, const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  ResidualPieces p;
  auto conv = [](const torch::Tensor& in, const torch::Tensor& wt, const torch::Tensor& b) {
    return torch::conv2d(in, wt, b, 1, 1);
  };
  p.stem = conv(x, w.stem_w, w.stem_b);
  const auto s = torch::relu(p.stem);
  p.conv_a = conv(s, w.a_w, w.a_b);
  p.conv_b = conv(torch::relu(p.conv_a), w.b_w, w.b_b);
  p.block = torch::relu(p.conv_b + s);
  p.logits = torch::addmm(w.head_b, p.block.mean({2, 3}), w.head_w.t());
  return p;
}

// A model that calls one ReLU submodule twice; `traced`: as torch.jit.trace writes it,
// the second call is a method "forward1".
inline void write_reused_relu_script(const fs::path& path, bool traced = false) {
  torch::manual_seed(3);
  torch::jit::Module act(traced ? "TracedRelu" : "SharedRelu");
  act.define(R"(
def forward(self, x):
    return torch.relu(x)

def forward1(self, x):
    return torch.relu(x)
)");
  torch::jit::Module net(traced ? "TracedReusedReluNet" : "ReusedReluNet");
  net.register_module("conv1", script_conv("Conv1", torch::randn({4, 1, 3, 3}), torch::zeros({4})));
  net.register_module("conv2", script_conv("Conv2", torch::randn({4, 4, 3, 3}), torch::zeros({4})));
  net.register_module("act", act);
  net.register_module("fc", script_linear("Fc", torch::randn({2, 4}), torch::zeros({2})));
  net.define(traced ? R"(
def forward(self, x):
    x = self.act.forward(self.conv1.forward(x))
    x = self.act.forward1(self.conv2.forward(x))
    return self.fc.forward(torch.mean(x, [2, 3]))
)"
                    : R"(
def forward(self, x):
    x = self.act.forward(self.conv1.forward(x))
    x = self.act.forward(self.conv2.forward(x))
    return self.fc.forward(torch.mean(x, [2, 3]))
)");
  net.save(path.string());
}

// The zoo's small CNN as a TorchScript module with the zoo's tap names as submodules
// (conv1..conv3 = conv-BN-ReLU, fc), with the same weights.
inline void write_small_cnn_script(SmallCnn& cnn, const fs::path& path) {
  auto block = [](const std::string& cls, torch::nn::Conv2d& conv, torch::nn::BatchNorm2d& bn) {
    torch::jit::Module m(cls);
    m.register_parameter("weight", conv->weight.detach().clone(), false);
    m.register_parameter("bn_weight", bn->weight.detach().clone(), false);
    m.register_parameter("bn_bias", bn->bias.detach().clone(), false);
    m.register_buffer("running_mean", bn->running_mean.clone());
    m.register_buffer("running_var", bn->running_var.clone());
    m.define(R"(
def forward(self, x):
    y = torch.conv2d(x, self.weight, None, [1, 1], [1, 1])
    y = torch.batch_norm(y, self.bn_weight, self.bn_bias, self.running_mean, self.running_var, False, 0.1, 1e-5, False)
    return torch.relu(y)
)");
    return m;
  };
  torch::jit::Module net("ScriptedSmallCnn");
  net.register_module("conv1", block("Block1", cnn->conv1, cnn->bn1));
  net.register_module("conv2", block("Block2", cnn->conv2, cnn->bn2));
  net.register_module("conv3", block("Block3", cnn->conv3, cnn->bn3));
  net.register_module("fc", script_linear("SmallFc", cnn->fc->weight.detach().clone(), cnn->fc->bias.detach().clone()));
  net.define(R"(
def forward(self, x):
    x = self.conv1.forward(x)
    x = self.conv2.forward(torch.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], True))
    x = self.conv3.forward(torch.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], True))
    x = torch.flatten(torch.adaptive_avg_pool2d(x, [2, 2]), 1)
    return self.fc.forward(x)
)");
  net.save(path.string());
}

}  // namespace loupe::testing
