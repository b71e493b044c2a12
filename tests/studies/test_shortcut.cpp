#include <gtest/gtest.h>
#include <torch/torch.h>

#include "explain/toy_models.h"
#include "loupe/data/coloured.h"
#include "loupe/studies/shortcut.h"

namespace loupe {

TEST(RecolouringProbe, AModelThatReadsOnlyColourFollowsEveryTint) {
  // Gray test images all at 200, two per class; the model predicts the palette colour the
  // image is tinted with (the nearest of the ten colours tinted at 200), whatever the shape.
  const int64_t n = 20;
  const auto gray = torch::full({n, 1, 4, 4}, 200, torch::kUInt8);
  const TensorDataset gray_test(gray.expand({n, 3, 4, 4}).contiguous(), torch::arange(n, torch::kLong) % 10,
                                {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  std::vector<int64_t> all(10);
  for (int64_t c = 0; c < 10; ++c) all[static_cast<size_t>(c)] = c;
  const auto colours = tint(torch::full({10, 1, 1, 1}, 200, torch::kUInt8), all).to(torch::kFloat).div(255).view({10, 3});
  testing::LambdaNet colour_reader([colours](const torch::Tensor& x) {
    const auto seen = x.amax({2, 3});  // [N,3]
    return -(seen.unsqueeze(1) - colours.unsqueeze(0)).square().sum(2);
  });
  const auto probe = recolouring_probe(colour_reader, gray_test, 2, torch::kCPU);
  EXPECT_TRUE(torch::equal(probe.follows, torch::ones({10, 10}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(probe.keeps, torch::eye(10, torch::kDouble)));
  EXPECT_DOUBLE_EQ(mean_off_diagonal(probe.follows), 1.0);
  EXPECT_DOUBLE_EQ(mean_off_diagonal(probe.keeps), 0.0);
}

}  // namespace loupe
