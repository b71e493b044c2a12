#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "loupe/explain/explainer.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/torchscript.h"
#include "models/script_models.h"
#include "test_util.h"

namespace loupe {
namespace {

using test::contains;
using test::error_of;
using test::TempDir;

struct ResidualFixture {
  TempDir dir;
  testing::ResidualWeights w{7};
  fs::path path = dir.path() / "residual.pt";
  ModelSpec spec;
  std::shared_ptr<TappedModel> model;
  torch::Tensor x = (torch::manual_seed(1), torch::rand({2, 3, 8, 8}));
  ResidualFixture() {
    testing::write_residual_script(path, w);
    model = load_torchscript_model(path, &spec);
  }
};

TEST(TorchScript, LoadsTheSpecAndComputesTheSameLogits) {
  ResidualFixture f;
  EXPECT_EQ(f.spec.arch, f.path.string());
  EXPECT_EQ(f.spec.in_channels, 3);
  EXPECT_EQ(f.spec.num_classes, 3);
  EXPECT_EQ(f.model->tap_names(), (std::vector<std::string>{"stem", "block", "block.conv_a", "block.conv_b", "head"}));
  EXPECT_EQ(f.model->default_cam_tap(), "block");  // the head's output is not spatial
  EXPECT_TRUE(is_torchscript_model(f.path));
  const auto ref = testing::residual_reference(f.w, f.x);
  EXPECT_TRUE(torch::allclose(f.model->forward(f.x), ref.logits, 1e-5, 1e-6));
  // The model's parameters are the module's: a C++ optimiser or .to() reaches them.
  EXPECT_EQ(f.model->parameters().size(), 8u);
}

TEST(TorchScript, RecordsWhatEachSubmoduleReturnedDespiteInPlaceOpsAfterIt) {
  ResidualFixture f;
  Taps taps;
  taps.record("stem").record("block.conv_a").record("block.conv_b").record("block");
  const auto out = f.model->forward(f.x, &taps);
  const auto ref = testing::residual_reference(f.w, f.x);
  EXPECT_TRUE(torch::allclose(out, ref.logits, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(taps.recorded("stem"), ref.stem, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(taps.recorded("block.conv_a"), ref.conv_a, 1e-5, 1e-6));
  // conv_b's output before the block's `y += x` and in-place ReLU.
  EXPECT_TRUE(torch::allclose(taps.recorded("block.conv_b"), ref.conv_b, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(taps.recorded("block"), ref.block, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(f.model->forward_until("block.conv_a", f.x), ref.conv_a, 1e-5, 1e-6));
}

TEST(TorchScript, GradientsReachARecordedTap) {
  ResidualFixture f;
  Taps taps;
  taps.record("block");
  const auto logits = f.model->forward(f.x, &taps);
  const auto grad = torch::autograd::grad({logits.select(1, 2).sum()}, {taps.recorded("block")})[0];
  // logit_2 = w_2 · mean(block) + b_2, so d/d block = w_2 / (8*8) at every pixel.
  const auto expected = (f.w.head_w[2] / 64.0).view({1, 4, 1, 1}).expand({2, 4, 8, 8});
  EXPECT_TRUE(torch::allclose(grad, expected, 1e-6, 1e-7));
}

TEST(TorchScript, GradCamEqualsCamOnItsGapLinearHead) {
  ResidualFixture f;
  auto gradcam = make_explainer("gradcam", ExplainOptions().set_normalize(false).set_signed(true));
  const auto classes = torch::tensor({0, 2}, torch::kLong);
  const auto attr = gradcam->explain(*f.model, f.x, class_logits(classes));
  const auto ref = testing::residual_reference(f.w, f.x);
  const auto w = f.w.head_w.index_select(0, classes) / 64.0;  // [2,4]
  const auto cam = (w.view({2, 4, 1, 1}) * ref.block).sum(1);
  EXPECT_TRUE(torch::allclose(attr.maps, cam, 1e-5, 1e-6));
}

TEST(TorchScript, ReplacesATapAndRunsFromIt) {
  ResidualFixture f;
  const auto ref = testing::residual_reference(f.w, f.x);
  {
    Taps taps;
    taps.replace("block", [](const torch::Tensor& a) { return torch::zeros_like(a); });
    EXPECT_TRUE(torch::allclose(f.model->forward(f.x, &taps), f.w.head_b.expand({2, 3}), 1e-6, 1e-7));
  }
  {
    // Zeroing conv_a inside the residual block: the skip still carries relu(stem).
    Taps taps;
    taps.record("block.conv_a").replace("block.conv_a", [](const torch::Tensor& a) { return a * 0; });
    const auto s = torch::relu(ref.stem);
    const auto block = torch::relu(torch::conv2d(torch::zeros_like(s), f.w.b_w, f.w.b_b, 1, 1) + s);
    const auto expected = torch::addmm(f.w.head_b, block.mean({2, 3}), f.w.head_w.t());
    EXPECT_TRUE(torch::allclose(f.model->forward(f.x, &taps), expected, 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(taps.recorded("block.conv_a"), ref.conv_a, 1e-5, 1e-6));  // before the edit
  }
  // From the block's output: the head alone, on a batch of any size.
  const auto a = torch::rand({5, 4, 8, 8});
  const auto expected = torch::addmm(f.w.head_b, a.mean({2, 3}), f.w.head_w.t());
  EXPECT_TRUE(torch::allclose(f.model->forward_from("block", a), expected, 1e-5, 1e-6));
  // Inside the residual block the rest of forward also reads the image: refused.
  EXPECT_TRUE(contains(error_of([&] { f.model->forward_from("block.conv_a", a); }), "also read the input image"));
  // The caller's tensor is not changed by the in-place ops after the tap.
  const auto before = a.clone();
  f.model->forward_from("block", a);
  EXPECT_TRUE(torch::equal(a, before));
}

TEST(TorchScript, SameMapsAsTheZooModelWithTheSameWeights) {
  torch::manual_seed(4);
  SmallCnn zoo(3, 5);
  {
    torch::NoGradGuard no_grad;
    for (auto* bn : {zoo->bn1.get(), zoo->bn2.get(), zoo->bn3.get()}) {
      bn->running_mean.uniform_(-0.2, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
    }
  }
  zoo->eval();
  TempDir dir;
  testing::write_small_cnn_script(zoo, dir.path() / "small.pt");
  ModelSpec spec;
  auto script = load_torchscript_model(dir.path() / "small.pt", &spec, TorchScriptOptions{0, 0, 28});
  EXPECT_EQ(spec.num_classes, 5);
  EXPECT_EQ(script->default_cam_tap(), "conv3");
  const auto x = torch::rand({2, 3, 28, 28});
  EXPECT_TRUE(torch::allclose(script->forward(x), zoo->forward(x), 1e-5, 1e-6));
  auto segments = torch::arange(28, torch::kLong).div(7, "floor");
  segments = segments.view({-1, 1}) * 4 + segments.view({1, -1});  // 16 squares
  const auto options = ExplainOptions().set_perturbation(
      PerturbationOptions().set_segments(segments).set_samples(300).set_seed(5).set_batch_size(50));
  for (const std::string method : {"gradcam", "scorecam", "lime", "kernelshap", "occlusion"}) {
    const auto a = make_explainer(method, options)->explain(*zoo, x, top1_logit());
    const auto b = make_explainer(method, options)->explain(*script, x, top1_logit());
    EXPECT_TRUE(torch::allclose(a.maps, b.maps, 1e-5, 1e-5))
        << method << ": max difference " << (a.maps - b.maps).abs().max().item<float>();
  }
}

TEST(TorchScript, ErrorsNameTheFileAndTheTap) {
  ResidualFixture f;
  const auto unknown = error_of([&] { f.model->check_tap("layer9"); });
  EXPECT_TRUE(contains(unknown, "layer9") && contains(unknown, "valid taps") && contains(unknown, "block.conv_a"))
      << unknown;
  EXPECT_TRUE(contains(error_of([&] {
                         Taps taps;
                         taps.record("nope");
                         f.model->forward(f.x, &taps);
                       }),
                       "nope"));

  TempDir dir;
  testing::write_reused_relu_script(dir.path() / "reused.pt");
  auto reused = load_torchscript_model(dir.path() / "reused.pt");
  EXPECT_EQ(reused->tap_names(), (std::vector<std::string>{"conv1", "conv2", "fc"}));
  EXPECT_EQ(reused->default_cam_tap(), "conv2");
  const auto twice = error_of([&] { reused->check_tap("act"); });
  EXPECT_TRUE(contains(twice, "'act' is called 2 times")) << twice;
  // torch.jit.trace names the second call of a module "forward1": still two calls.
  testing::write_reused_relu_script(dir.path() / "traced.pt", /*traced=*/true);
  auto traced = load_torchscript_model(dir.path() / "traced.pt");
  EXPECT_EQ(traced->tap_names(), (std::vector<std::string>{"conv1", "conv2", "fc"}));
  EXPECT_TRUE(contains(error_of([&] { traced->check_tap("act"); }), "'act' is called 2 times"));

  EXPECT_TRUE(contains(error_of([&] { load_torchscript_model(dir.path() / "missing.pt"); }), "no such file"));
  const auto garbage = dir.path() / "garbage.pt";
  std::ofstream(garbage) << "not a zip archive";
  const auto not_script = error_of([&] { load_torchscript_model(garbage); });
  EXPECT_TRUE(contains(not_script, garbage.string()) && contains(not_script, "not a TorchScript file")) << not_script;
  EXPECT_FALSE(is_torchscript_model(garbage));

  auto zoo = make_model({"small_cnn", 1, 10});
  const auto checkpoint = dir.path() / "zoo.pt";
  save_checkpoint(checkpoint, {{kClassifierModule, zoo.get(), spec_json(ModelSpec{"small_cnn", 1, 10})}}, {}, {});
  EXPECT_TRUE(contains(error_of([&] { load_torchscript_model(checkpoint); }), "loupe checkpoint"));
  EXPECT_FALSE(is_torchscript_model(checkpoint));

  const auto wrong_channels = error_of([&] { load_torchscript_model(f.path, nullptr, TorchScriptOptions{1, 0, 8}); });
  EXPECT_TRUE(contains(wrong_channels, "probe forward") && contains(wrong_channels, "--in-channels")) << wrong_channels;
  EXPECT_TRUE(contains(error_of([&] {
                         load_torchscript_model(f.path, nullptr, TorchScriptOptions{0, 10, 8});
                       }),
                       "returns 3 logits, but 10 classes"));
}

}  // namespace
}  // namespace loupe
