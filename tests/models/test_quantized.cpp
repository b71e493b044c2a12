#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/models/quantized.h"
#include "loupe/models/torchscript.h"
#include "loupe/models/zoo.h"
#include "models/module_checks.h"
#include "models/script_models.h"
#include "test_util.h"

namespace loupe {
namespace {

struct QuantCase {
  std::string arch;
  int64_t channels, side;
};

void PrintTo(const QuantCase& c, std::ostream* os) { *os << c.arch << " " << c.channels << "x" << c.side; }

class QuantizedAgrees : public ::testing::TestWithParam<QuantCase> {};

// int8 logits follow the float model's: on the calibration images and on fresh ones, the
// error is a few percent of the logits' spread and the ranking of the classes is kept.
TEST_P(QuantizedAgrees, WithTheFloatModel) {
  if (!QuantizedForward::supports(*make_model({"small_cnn", 1, 10}))) GTEST_SKIP() << "no quantized engine";
  const auto c = GetParam();
  torch::manual_seed(3);
  auto model = make_model({c.arch, c.channels, 10});
  test::randomise_batch_norms(*model, 3);
  model->eval();
  const auto calibration = torch::rand({16, c.channels, c.side, c.side});
  const auto fresh = torch::rand({16, c.channels, c.side, c.side});
  QuantizedForward q(*model, calibration);
  torch::NoGradGuard no_grad;
  for (const auto& x : {calibration, fresh}) {
    const auto f = model->forward(x), i8 = q.forward(x);
    ASSERT_EQ(i8.sizes(), f.sizes());
    const double spread = (f - f.mean(1, true)).abs().max().item<double>();
    EXPECT_LT((i8 - f).abs().max().item<double>(), 0.06 * spread) << c.arch;  // 1-4% measured
    // Pearson correlation of the centred logits across all images and classes.
    const auto a = (f - f.mean()).flatten(), b = (i8 - i8.mean()).flatten();
    EXPECT_GT((a * b).sum().item<double>() / (a.norm() * b.norm()).item<double>(), 0.995) << c.arch;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, QuantizedAgrees,
                         ::testing::Values(QuantCase{"small_cnn", 1, 28}, QuantCase{"small_cnn", 3, 29},
                                           QuantCase{"resnet18_small", 3, 32}, QuantCase{"resnet18", 3, 64},
                                           QuantCase{"resnet50_small", 1, 28}));

TEST(Quantized, BadInput) {
  auto model = make_model({"small_cnn", 1, 10});
  model->eval();
  if (!QuantizedForward::supports(*model)) GTEST_SKIP() << "no quantized engine";
  EXPECT_LOUPE_ERROR(QuantizedForward(*model, torch::rand({1, 28, 28})), "expected calibration images [N,C,H,W]");
  QuantizedForward q(*model, torch::rand({2, 1, 28, 28}));
  EXPECT_LOUPE_ERROR(q.forward(torch::rand({1, 28, 28})), "expected images [N,C,H,W]");
  test::TempDir dir;
  testing::write_residual_script(dir.path() / "net.pt", testing::ResidualWeights(1));
  auto scripted = load_torchscript_model(dir.path() / "net.pt");
  EXPECT_FALSE(QuantizedForward::supports(*scripted));
  EXPECT_LOUPE_ERROR(QuantizedForward(*scripted, torch::rand({2, 3, 8, 8})), "is not one of the zoo's CNNs");
}

}  // namespace
}  // namespace loupe
