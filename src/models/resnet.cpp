#include "loupe/models/resnet.h"

#include <torch/torch.h>

namespace loupe {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// torchvision's BatchNorm2d defaults, spelled out because they are part of the parity.
nn::BatchNorm2d batch_norm(int64_t channels) {
  return nn::BatchNorm2d(nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1));
}

// torchvision's ResNet.__init__: He-normal (fan_out) convs, BN as the identity.
void init_like_torchvision(nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& m : model.modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2dImpl>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* b = m->as<nn::BatchNorm2dImpl>()) {
      nn::init::ones_(b->weight);
      nn::init::zeros_(b->bias);
    }
  }
}

}  // namespace

ResidualBlockImpl::ResidualBlockImpl(ResidualKind kind, int64_t in_planes, int64_t planes, int64_t stride) {
  const int64_t out_planes = planes * expansion(kind);
  // (in, out, kernel, stride) per conv; torchvision v1.5 puts the Bottleneck's stride on the 3x3.
  std::vector<std::array<int64_t, 4>> layout;
  if (kind == ResidualKind::kBasic)
    layout = {{in_planes, planes, 3, stride}, {planes, planes, 3, 1}};
  else
    layout = {{in_planes, planes, 1, 1}, {planes, planes, 3, stride}, {planes, out_planes, 1, 1}};
  for (size_t i = 0; i < layout.size(); ++i) {
    const auto& [in, out, kernel, s] = layout[i];
    const std::string n = std::to_string(i + 1);
    convs.push_back(register_module("conv" + n, conv(in, out, kernel, s)));
    bns.push_back(register_module("bn" + n, batch_norm(out)));
  }
  if (stride != 1 || in_planes != out_planes)
    downsample =
        register_module("downsample", nn::Sequential(conv(in_planes, out_planes, 1, stride), batch_norm(out_planes)));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = x;
  for (size_t i = 0; i < convs.size(); ++i) {
    out = bns[i](convs[i](out));
    if (i + 1 < convs.size()) out = torch::relu(out);
  }
  return torch::relu(out + (downsample ? downsample->forward(x) : x));
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) : options_(options) {
  const int64_t stem_kernel = options.small_stem ? 3 : 7, stem_stride = options.small_stem ? 1 : 2;
  conv1 = register_module("conv1", conv(options.in_channels, 64, stem_kernel, stem_stride));
  bn1 = register_module("bn1", batch_norm(64));

  int64_t in_planes = 64;
  auto make_layer = [&](int64_t planes, int64_t blocks, int64_t stride) {
    nn::Sequential layer;
    for (int64_t i = 0; i < blocks; ++i) {
      layer->push_back(ResidualBlock(options.block, in_planes, planes, i == 0 ? stride : 1));
      in_planes = planes * ResidualBlockImpl::expansion(options.block);
    }
    return layer;
  };
  layer1 = register_module("layer1", make_layer(64, options.layers[0], 1));
  layer2 = register_module("layer2", make_layer(128, options.layers[1], 2));
  layer3 = register_module("layer3", make_layer(256, options.layers[2], 2));
  layer4 = register_module("layer4", make_layer(512, options.layers[3], 2));
  fc = register_module("fc", nn::Linear(in_planes, options.num_classes));
  init_like_torchvision(*this);

  add_stage("stem", [this](const torch::Tensor& x) {
    auto y = torch::relu(bn1(conv1(x)));
    return options_.small_stem ? y : torch::max_pool2d(y, 3, 2, 1);
  });
  add_stage("layer1", [this](const torch::Tensor& x) { return layer1->forward(x); });
  add_stage("layer2", [this](const torch::Tensor& x) { return layer2->forward(x); });
  add_stage("layer3", [this](const torch::Tensor& x) { return layer3->forward(x); });
  add_stage("layer4", [this](const torch::Tensor& x) { return layer4->forward(x); });
  add_stage("pool", [](const torch::Tensor& x) { return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1); });
  add_stage("fc", [this](const torch::Tensor& x) { return fc(x); });
}

ResNet resnet18(int64_t in_channels, int64_t num_classes, bool small_stem) {
  return ResNet(ResNetOptions(ResidualKind::kBasic, {2, 2, 2, 2})
                    .set_in_channels(in_channels)
                    .set_num_classes(num_classes)
                    .set_small_stem(small_stem)
                    .set_arch(small_stem ? "resnet18_small" : "resnet18"));
}

ResNet resnet50(int64_t in_channels, int64_t num_classes, bool small_stem) {
  return ResNet(ResNetOptions(ResidualKind::kBottleneck, {3, 4, 6, 3})
                    .set_in_channels(in_channels)
                    .set_num_classes(num_classes)
                    .set_small_stem(small_stem)
                    .set_arch(small_stem ? "resnet50_small" : "resnet50"));
}

}  // namespace loupe
