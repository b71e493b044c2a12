// The method-comparison study on a tiny user folder (subfolders = groups) and on a fake
// scikit-image folder: report, sorted Grad-CAM/LIME table, group means, maps; errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "error_matchers.h"
#include "loupe/core/image.h"
#include "loupe/studies/compare_study.h"
#include "test_util.h"

namespace loupe {
namespace {

// A bright square on dark noise at a position set by k: photos that differ.
torch::Tensor square_photo(int64_t k, int64_t h = 40, int64_t w = 48) {
  auto img = torch::rand({3, h, w}) * 0.3;
  img.narrow(1, 4 + 3 * k, 14).narrow(2, 6 + 5 * k, 14).fill_(0.9);
  img[k % 3] *= 0.5;
  return img;
}

}  // namespace

TEST(CompareStudy, RunsOnAFolderWithGroups) {
  test::TempDir dir;
  torch::manual_seed(1);
  for (int64_t k = 0; k < 4; ++k)
    write_png(dir.path() / "photos" / (k < 2 ? "plain" : "busy") / ("p" + std::to_string(k) + ".png"), square_photo(k));
  CompareStudyOptions o;
  o.common.out = dir.path() / "out";
  o.images = dir.path() / "photos";
  o.methods = {"gradcam", "lime"};
  o.size = 32;
  o.train_steps = 20;
  o.samples = 30;
  o.faithfulness_steps = 4;
  const auto r = run_compare_study(o);
  const auto m = nlohmann::json::parse(read_file(o.common.out / "metrics.json"));
  ASSERT_EQ(m["gradcam_lime_iou"].size(), 4u);
  double previous = 2;
  for (const auto& row : m["gradcam_lime_iou"]) {
    const double v = row["iou"].get<double>();
    EXPECT_LE(v, previous);  // highest first
    EXPECT_GE(v, 0.0);
    previous = v;
  }
  EXPECT_TRUE(m["gradcam_lime_iou_by_group"].contains("plain"));
  EXPECT_TRUE(m["gradcam_lime_iou_by_group"].contains("busy"));
  EXPECT_GE(m["training"]["photo_accuracy"].get<double>(), 0.0);
  EXPECT_TRUE(m["methods"]["lime"].contains("deletion_auc"));
  EXPECT_TRUE(fs::exists(o.common.out / "maps" / "p3" / "lime.npy"));
  EXPECT_TRUE(fs::exists(o.common.out / "models" / "instance_classifier.pt"));
  EXPECT_TRUE(fs::exists(o.common.out / "report.html"));
}

TEST(CompareStudy, LoadsScikitImagePhotosWithTheirGroups) {
  test::TempDir dir;
  write_png(dir.path() / "coins.png", torch::rand({1, 30, 40}));  // gray: becomes RGB
  auto rgba = torch::rand({4, 20, 20});
  rgba[3].fill_(0);  // fully transparent: becomes white
  write_png(dir.path() / "horse.png", rgba);
  write_png(dir.path() / "notes.png", torch::rand({3, 8, 8}));  // not a listed photo
  const auto set = load_photos(dir.path(), 16, true);
  ASSERT_EQ(set.names.size(), 2u);
  EXPECT_EQ(set.names[0], "horse");
  EXPECT_EQ(set.groups[0], "single object");
  EXPECT_EQ(set.groups[1], "cluttered");
  EXPECT_EQ(set.images.sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_TRUE(torch::allclose(set.images[0], torch::ones({3, 16, 16})));
}

TEST(CompareStudy, BadInputIsAClearError) {
  test::TempDir dir;
  fs::create_directories(dir.path() / "empty");
  CompareStudyOptions o;
  o.common.out = dir.path() / "out";
  o.images = dir.path() / "empty";
  EXPECT_LOUPE_ERROR(run_compare_study(o), "no PNG or JPEG photos");
  o.images = dir.path() / "missing";
  EXPECT_LOUPE_ERROR(run_compare_study(o), "missing");
  o.images = dir.path() / "empty";
  o.arch = "resnet18";
  EXPECT_LOUPE_ERROR(run_compare_study(o), "--weights");
  EXPECT_FALSE(fs::exists(o.common.out));
}

}  // namespace loupe
