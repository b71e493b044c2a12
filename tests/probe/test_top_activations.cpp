#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "explain/toy_models.h"
#include "loupe/core/device.h"
#include "loupe/probe/top_activations.h"
#include "loupe/probe/units.h"

namespace loupe {

TEST(StreamingTopK, EqualsAStableFullSortOfEverythingAdded) {
  // Scores with many ties (integers 0..9), added in uneven batches, with a payload.
  auto gen = make_generator(3);
  const int64_t rows = 4, n = 103, k = 7;
  const auto scores = torch::randint(0, 10, {rows, n}, gen, torch::kLong).to(torch::kFloat);
  const auto payload = torch::randn({rows, n, 2, 3}, gen);
  StreamingTopK top(rows, k);
  for (int64_t start = 0, b = 1; start < n; start += b, b = b * 2 + 1) {
    const int64_t m = std::min(b, n - start);
    top.add(scores.narrow(1, start, m), torch::arange(start, start + m, torch::kLong), payload.narrow(1, start, m));
  }
  const auto order = std::get<1>(scores.sort(/*stable=*/true, 1, /*descending=*/true)).narrow(1, 0, k);
  EXPECT_TRUE(torch::equal(top.ids(), order));
  EXPECT_TRUE(torch::equal(top.scores(), scores.gather(1, order)));
  for (int64_t r = 0; r < rows; ++r) EXPECT_TRUE(torch::equal(top.payload()[r], payload[r].index_select(0, order[r])));
  // Fewer values than k: all of them.
  StreamingTopK few(1, 5);
  few.add(torch::tensor({{2.f, 9.f}}), torch::tensor({0L, 1L}));
  EXPECT_TRUE(torch::equal(few.ids(), torch::tensor({{1L, 0L}})));
}

TEST(TopActivations, FindsTheImagesWhoseChannelIsBrightestWithTheirMaps) {
  // The identity tap: unit c's map is channel c of the image.
  testing::LinearNet net(torch::zeros({1, 2, 5, 5}));
  auto gen = make_generator(1);
  const auto images = torch::randint(0, 256, {40, 2, 5, 5}, gen, torch::kLong).to(torch::kUInt8);
  const TensorDataset data(images, torch::arange(40, torch::kLong) % 4, {"a", "b", "c", "d"});
  const auto x = images.to(torch::kFloat) / 255.0f;
  for (const auto reduce : {UnitReduce::kMean, UnitReduce::kMax}) {
    const auto top =
        top_activations(net, data, "features", {1, 0},
                        TopActivationsOptions().set_k(5).set_batch_size(7).set_reduce(reduce), torch::kCPU);
    EXPECT_TRUE(torch::equal(top.units, torch::tensor({1L, 0L})));
    for (int64_t r = 0; r < 2; ++r) {
      const int64_t c = top.units[r].item<int64_t>();
      const auto per_image = reduce == UnitReduce::kMean ? x.select(1, c).flatten(1).mean(1)
                                                         : std::get<0>(x.select(1, c).flatten(1).max(1));
      const auto expected = std::get<1>(per_image.sort(true, 0, true)).narrow(0, 0, 5);
      EXPECT_TRUE(torch::equal(top.indices[r], expected)) << r;
      EXPECT_TRUE(torch::allclose(top.scores[r], per_image.index_select(0, expected)));
      EXPECT_TRUE(torch::allclose(top.maps[r], x.select(1, c).index_select(0, expected)));
    }
  }
  EXPECT_LOUPE_ERROR(top_activations(net, data, "features", {2}, {}, torch::kCPU), "unit 2 of tap 'features'");
  EXPECT_LOUPE_ERROR(top_activations(net, data, "layer9", {}, {}, torch::kCPU), "tap 'layer9'");
  EXPECT_LOUPE_ERROR(top_activations(net, data, "features", {0, 0}, {}, torch::kCPU), "listed twice");
}

TEST(TopActivations, EntropyOfLabelsInBits) {
  const auto values = torch::tensor({{0L, 0L, 0L, 0L}, {0L, 1L, 0L, 1L}, {0L, 1L, 2L, 3L}, {3L, 3L, 3L, 1L}});
  const auto h = row_entropy(values, 4);
  EXPECT_DOUBLE_EQ(h[0].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(h[1].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(h[2].item<double>(), 2.0);
  EXPECT_NEAR(h[3].item<double>(), -(0.75 * std::log2(0.75) + 0.25 * std::log2(0.25)), 1e-12);
  EXPECT_LOUPE_ERROR(row_entropy(values, 3), "[0, 3)");
}

TEST(Units, CountAndResolve) {
  testing::LinearNet net(torch::zeros({10, 3, 4, 4}));
  EXPECT_EQ(unit_count(net, "features", {3, 4, 4}), 3);
  EXPECT_EQ(unit_count(net, "fc", {3, 4, 4}), 10);  // logits are units of the output tap
  EXPECT_TRUE(torch::equal(resolve_units({}, 3, "features"), torch::arange(3, torch::kLong)));
  EXPECT_LOUPE_ERROR(resolve_units({-1}, 3, "features"), "expected a unit in [0, 3)");
}

}  // namespace loupe
