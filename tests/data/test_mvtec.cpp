#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/core/image.h"
#include "loupe/data/anomaly_synth.h"
#include "loupe/data/mvtec.h"
#include "test_util.h"

namespace loupe {
namespace {

torch::Tensor solid_u8(int64_t c, int64_t h, int64_t w, int value) { return torch::full({c, h, w}, value, torch::kUInt8); }

// A 40x40 mask (0 or 255) with the square [10,20) x [10,20) set.
torch::Tensor square_mask() {
  auto mask = torch::zeros({1, 40, 40}, torch::kUInt8);
  mask.narrow(1, 10, 10).narrow(2, 10, 10).fill_(255);
  return mask;
}

// A small hand-made category: two train images, one good and two "scratch" test images.
fs::path write_tiny_category(const fs::path& root) {
  const auto dir = root / "tiny";
  write_png(dir / "train" / "good" / "001.png", solid_u8(3, 40, 40, 10));
  write_png(dir / "train" / "good" / "000.png", solid_u8(1, 40, 40, 20));  // gray
  write_png(dir / "test" / "good" / "000.png", solid_u8(3, 40, 40, 30));
  write_png(dir / "test" / "scratch" / "000.png", solid_u8(3, 40, 40, 40));
  write_png(dir / "test" / "scratch" / "001.png", solid_u8(3, 40, 40, 50));
  write_png(dir / "ground_truth" / "scratch" / "000_mask.png", square_mask());
  write_png(dir / "ground_truth" / "scratch" / "001_mask.png", square_mask());
  return dir;
}

TEST(Mvtec, ReadsTheBuiltInDataBackExactly) {
  test::TempDir dir;
  const auto options = AnomalySynthOptions().set_size(64).set_train_images(4).set_test_good(3).set_test_defective(10);
  const AnomalySource source{"hazelnut", {}};
  write_anomaly_category(dir.path(), source, options);
  const auto category = load_mvtec_category(dir.path() / "hazelnut", MvtecOptions().set_size(64));
  EXPECT_EQ(category.name, "hazelnut");
  const std::vector<std::string> kinds = {"good", "crack", "cut", "hole", "missing", "print"};
  EXPECT_EQ(category.train.kind_names, kinds);
  EXPECT_EQ(category.test.kind_names, kinds);
  ASSERT_EQ(category.train.size(), 4);
  ASSERT_EQ(category.test.size(), 13);
  EXPECT_EQ(category.test.images.sizes(), (std::vector<int64_t>{13, 3, 64, 64}));
  EXPECT_EQ(category.test.masks.sizes(), (std::vector<int64_t>{13, 1, 64, 64}));
  EXPECT_TRUE(torch::equal(category.train.kinds, torch::zeros({4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(category.test.kinds, torch::tensor({0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, torch::kLong)));
  // Row i of the test split is sample (kind, index) of the plan: same pixels, same mask.
  int64_t row = 0;
  for (const auto& spec : anomaly_sample_plan("hazelnut", options)) {
    if (spec.split == AnomalySplit::train) continue;
    const auto s = render_anomaly_sample(source, spec, options);
    EXPECT_TRUE(torch::equal(category.test.images[row], s.image)) << row;
    EXPECT_TRUE(torch::equal(category.test.masks[row][0], s.mask)) << row;
    EXPECT_EQ(category.test.files[row].parent_path().filename(), spec.kind);
    ++row;
  }
  EXPECT_FALSE(category.test.masks.narrow(0, 0, 3).any().item<bool>());  // good: all zero
  const auto data = category.test.dataset();
  EXPECT_EQ(data.class_names(), kinds);
  EXPECT_TRUE(torch::equal(data.labels(), category.test.kinds));
}

TEST(Mvtec, ResizesMasksByNearestNeighbourSoTheyStayExact) {
  // 40 → 80 doubles the square, 40 → 20 halves it; bilinear would blur its edge.
  const auto up = resize_mask(square_mask(), 80);
  auto expected_up = torch::zeros({1, 80, 80}, torch::kBool);
  expected_up.narrow(1, 20, 20).narrow(2, 20, 20).fill_(true);
  EXPECT_TRUE(torch::equal(up, expected_up));
  const auto down = resize_mask(square_mask(), 20);
  auto expected_down = torch::zeros({1, 20, 20}, torch::kBool);
  expected_down.narrow(1, 5, 5).narrow(2, 5, 5).fill_(true);
  EXPECT_TRUE(torch::equal(down, expected_down));
  // Binarised at 0.5: 127/255 is off, 128/255 on.
  const auto gray = torch::tensor({127.0f / 255, 128.0f / 255}).view({1, 1, 2});
  EXPECT_TRUE(torch::equal(resize_mask(gray, 2)[0][0], torch::tensor({false, true})));
}

TEST(Mvtec, ReadsInSortedOrderResizesAndMakesGrayRgb) {
  test::TempDir dir;
  const auto category = load_mvtec_category(write_tiny_category(dir.path()), MvtecOptions().set_size(80));
  EXPECT_EQ(category.train.kind_names, (std::vector<std::string>{"good", "scratch"}));
  ASSERT_EQ(category.train.size(), 2);
  EXPECT_EQ(category.train.files[0].filename(), "000.png");
  EXPECT_TRUE(torch::equal(category.train.images[0], solid_u8(3, 80, 80, 20)));  // gray → RGB, resized
  EXPECT_TRUE(torch::equal(category.train.images[1], solid_u8(3, 80, 80, 10)));
  ASSERT_EQ(category.test.size(), 3);
  EXPECT_TRUE(torch::equal(category.test.kinds, torch::tensor({0, 1, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(category.test.images[2], solid_u8(3, 80, 80, 50)));
  EXPECT_EQ(category.test.masks[1].sum().item<int64_t>(), 20 * 20);
  EXPECT_EQ(category.test.masks[0].sum().item<int64_t>(), 0);
}

TEST(Mvtec, BadLayoutsNameTheFileAndWhatWasExpected) {
  test::TempDir dir;
  const auto tiny = write_tiny_category(dir.path());
  // A defect image without its mask.
  fs::remove(tiny / "ground_truth" / "scratch" / "001_mask.png");
  EXPECT_LOUPE_ERROR(load_mvtec_category(tiny), "001_mask.png");
  EXPECT_LOUPE_ERROR(load_mvtec_category(tiny), (tiny / "test" / "scratch" / "001.png").string());
  // A mask of another aspect ratio (a mask twice the image's size is fine).
  write_png(tiny / "ground_truth" / "scratch" / "001_mask.png", solid_u8(1, 80, 80, 255));
  EXPECT_NO_THROW(load_mvtec_category(tiny));
  write_png(tiny / "ground_truth" / "scratch" / "001_mask.png", solid_u8(1, 40, 20, 255));
  EXPECT_LOUPE_ERROR(load_mvtec_category(tiny), "001_mask.png: mask of 20x40");
  // An unreadable image.
  write_file_atomic(tiny / "test" / "scratch" / "001.png", "not a png");
  EXPECT_LOUPE_ERROR(load_mvtec_category(tiny), (tiny / "test" / "scratch" / "001.png").string());
  // An empty train/good, a missing one, an empty category, a missing category.
  fs::remove_all(tiny / "train" / "good");
  fs::create_directories(tiny / "train" / "good");
  EXPECT_LOUPE_ERROR(load_mvtec_category(tiny), (tiny / "train" / "good").string() + ": holds no");
  fs::remove_all(tiny / "train");
  EXPECT_LOUPE_ERROR(load_mvtec_category(tiny), (tiny / "train" / "good").string() + ": folder not found");
  fs::create_directories(dir.path() / "empty");
  EXPECT_LOUPE_ERROR(load_mvtec_category(dir.path() / "empty"),
                     (dir.path() / "empty" / "train" / "good").string() + ": folder not found");
  EXPECT_LOUPE_ERROR(load_mvtec_category(dir.path() / "nothing"), "category folder not found");
}

}  // namespace
}  // namespace loupe
