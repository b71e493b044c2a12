#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "error_matchers.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/data/anomaly_synth.h"
#include "test_util.h"

namespace loupe {
namespace {

constexpr int64_t kTrainRows = 140;  // of the 200-row test photo: train_fraction 0.7

// A 120x200 (WxH) texture whose red channel is noise only above row 140 and whose green
// channel is noise only below it: a crop shows which part of the photo it came from.
torch::Tensor two_part_photo() {
  auto gen = at::detail::createCPUGenerator(7);
  auto photo = torch::rand({3, 200, 120}, gen) * 0.8 + 0.1;
  photo[0].narrow(0, kTrainRows, 200 - kTrainRows).zero_();
  photo[1].narrow(0, 0, kTrainRows).zero_();
  return photo;
}

AnomalySource texture_source() { return {"brick", two_part_photo()}; }
AnomalySource object_source() { return {"hazelnut", {}}; }

AnomalySynthOptions small_options() {
  return AnomalySynthOptions().set_size(48).set_train_images(3).set_test_good(2).set_test_defective(10);
}

// Every file below root with its bytes, by path relative to root.
std::map<std::string, std::string> files_below(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), root).string()] = read_file(entry.path());
  return files;
}

TEST(AnomalySynth, PlanHasMvtecHazelnutCountsAndAlternatesSizes) {
  const AnomalySynthOptions defaults;
  std::map<std::string, int64_t> per_kind;
  int64_t train = 0, large = 0;
  for (const auto& spec : anomaly_sample_plan("hazelnut", defaults)) {
    if (spec.split == AnomalySplit::train) ++train;
    if (spec.split == AnomalySplit::test) ++per_kind[spec.kind];
    EXPECT_EQ(spec.large, spec.kind != "good" && spec.index % 2 == 1);
    large += spec.large;
  }
  EXPECT_EQ(train, 391);
  EXPECT_EQ(per_kind, (std::map<std::string, int64_t>{
                          {"good", 40}, {"crack", 14}, {"cut", 14}, {"hole", 14}, {"missing", 14}, {"print", 14}}));
  EXPECT_EQ(large, 5 * 7);
  // 70 over four texture kinds: the first two get the remainder.
  per_kind.clear();
  for (const auto& spec : anomaly_sample_plan("grass", defaults))
    if (spec.kind != "good") ++per_kind[spec.kind];
  EXPECT_EQ(per_kind, (std::map<std::string, int64_t>{{"crack", 18}, {"cut", 18}, {"hole", 17}, {"print", 17}}));
}

// The defining property: the mask is exactly where the defective image differs from the
// defect-free render of the same sample, and good samples are untouched.
TEST(AnomalySynth, MaskIsExactlyThePixelsTheDefectChanged) {
  const auto options = small_options();
  for (const auto& source : {texture_source(), object_source()}) {
    for (const auto& kind : anomaly_defect_kinds(source.category)) {
      int64_t small_pixels = 0, large_pixels = 0;
      for (int64_t index = 0; index < 4; ++index) {
        const AnomalySampleSpec spec{AnomalySplit::test, kind, index, index % 2 == 1};
        const auto s = render_anomaly_sample(source, spec, options);
        ASSERT_EQ(s.image.sizes(), (std::vector<int64_t>{3, 48, 48}));
        ASSERT_EQ(s.mask.sizes(), (std::vector<int64_t>{48, 48}));
        EXPECT_TRUE(torch::equal(s.mask, (s.image != s.clean).any(0))) << source.category << " " << kind << index;
        const auto pixels = s.mask.sum().item<int64_t>();
        EXPECT_GE(pixels, 6) << source.category << " " << kind << index;
        (spec.large ? large_pixels : small_pixels) += pixels;
      }
      EXPECT_GT(large_pixels, small_pixels) << source.category << " " << kind;
    }
    const auto good = render_anomaly_sample(source, {AnomalySplit::test, "good", 0, false}, options);
    EXPECT_TRUE(torch::equal(good.image, good.clean));
    EXPECT_FALSE(good.mask.any().item<bool>());
  }
}

TEST(AnomalySynth, ObjectDefectsStayOnTheObjectAndMissingShowsBackground) {
  const auto options = small_options();
  const auto background = torch::tensor({18, 18, 20}, torch::kUInt8).view({3, 1});  // 0.07, 0.07, 0.08
  for (const auto& kind : anomaly_defect_kinds("hazelnut")) {
    for (int64_t index = 0; index < 4; ++index) {
      const auto s = render_anomaly_sample(object_source(), {AnomalySplit::test, kind, index, index % 2 == 1}, options);
      const auto idx = s.mask.flatten().nonzero().squeeze(1);
      const auto before = s.clean.flatten(1).index_select(1, idx), after = s.image.flatten(1).index_select(1, idx);
      const auto was_background = (before == background).all(0).to(torch::kFloat).mean().item<double>();
      const auto now_background = (after == background).all(0).to(torch::kFloat).mean().item<double>();
      if (kind == "missing") {
        // Inside the bite the background shows; on its antialiased edge every pixel moves towards it.
        EXPECT_GT(now_background, 0.25) << index;
        const auto bg = background.to(torch::kInt);
        const auto closer = (after.to(torch::kInt) - bg).abs().sum(0) < (before.to(torch::kInt) - bg).abs().sum(0);
        EXPECT_TRUE(closer.all().item<bool>()) << index;
      } else {
        EXPECT_EQ(was_background, 0.0) << kind << index;
      }
    }
  }
  // The object is not always in the same pose.
  const auto a = render_anomaly_sample(object_source(), {AnomalySplit::train, "good", 0, false}, options);
  const auto b = render_anomaly_sample(object_source(), {AnomalySplit::train, "good", 1, false}, options);
  EXPECT_FALSE(torch::equal(a.image, b.image));
}

TEST(AnomalySynth, TextureTrainAndTestCropsComeFromDisjointPartsOfThePhoto) {
  const auto options = small_options().set_train_images(20).set_test_good(20);
  const auto source = texture_source();
  for (int64_t i = 0; i < 20; ++i) {
    const auto train = render_anomaly_sample(source, {AnomalySplit::train, "good", i, false}, options).image;
    const auto test = render_anomaly_sample(source, {AnomalySplit::test, "good", i, false}, options).image;
    EXPECT_EQ(train[1].max().item<uint8_t>(), 0) << "train crop " << i << " reaches the test part";
    EXPECT_GT(train[0].min().item<uint8_t>(), 0) << "train crop " << i;
    EXPECT_EQ(test[0].max().item<uint8_t>(), 0) << "test crop " << i << " reaches the train part";
    EXPECT_GT(test[1].min().item<uint8_t>(), 0) << "test crop " << i;
  }
  // A gray photo (as scikit-image's) becomes RGB.
  const auto gray = render_anomaly_sample({"grass", two_part_photo()[2].unsqueeze(0)},
                                          {AnomalySplit::train, "good", 0, false}, options)
                        .image;
  EXPECT_TRUE(torch::equal(gray[0], gray[1]) && torch::equal(gray[1], gray[2]));
}

TEST(AnomalySynth, SameSeedWritesIdenticalBytesAndAnotherSeedDiffers) {
  test::TempDir dir;
  auto options = small_options();
  for (const auto& run : {"a", "b"}) {
    write_anomaly_category(dir.path() / run, texture_source(), options);
    write_anomaly_category(dir.path() / run, object_source(), options);
  }
  write_anomaly_category(dir.path() / "c", object_source(), options.set_seed(1));
  const auto a = files_below(dir.path() / "a"), b = files_below(dir.path() / "b");
  EXPECT_EQ(a.size(), 2u * (3 + 2 + 10 + 10));  // images and the defects' masks
  EXPECT_EQ(a, b);
  const auto c = files_below(dir.path() / "c");
  ASSERT_EQ(c.size(), 3u + 2 + 10 + 10);
  for (const auto& [name, bytes] : c) EXPECT_NE(bytes, a.at(name)) << name;
}

TEST(AnomalySynth, RewritingReplacesTheCategoryAndLeavesNoPartialFolder) {
  test::TempDir dir;
  write_anomaly_category(dir.path(), object_source(), small_options());
  write_anomaly_category(dir.path(), object_source(), small_options().set_train_images(1).set_test_defective(0));
  EXPECT_TRUE(fs::exists(dir.path() / "hazelnut" / "train" / "good" / "000.png"));
  EXPECT_FALSE(fs::exists(dir.path() / "hazelnut" / "train" / "good" / "001.png"));
  EXPECT_FALSE(fs::exists(dir.path() / "hazelnut" / "ground_truth"));
  std::vector<std::string> top;
  for (const auto& entry : fs::directory_iterator(dir.path())) top.push_back(entry.path().filename().string());
  EXPECT_EQ(top, std::vector<std::string>{"hazelnut"});
}

TEST(AnomalySynth, BadInputsNameTheirFix) {
  test::TempDir dir;
  EXPECT_LOUPE_ERROR(load_anomaly_source("brick", dir.path()), "scripts/fetch_photos.sh");
  EXPECT_LOUPE_ERROR(load_anomaly_source("bricks", dir.path()), "brick, grass, gravel, hazelnut");
  EXPECT_LOUPE_ERROR(check_anomaly_synth_options(AnomalySynthOptions().set_size(16)), "size 16");
  EXPECT_LOUPE_ERROR(check_anomaly_synth_options(AnomalySynthOptions().set_categories({})), "at least one");
  const AnomalySource tiny{"brick", torch::rand({3, 20, 20})};
  EXPECT_LOUPE_ERROR(write_anomaly_category(dir.path(), tiny, small_options().set_crop_fraction(0.5)),
                     "cannot hold crops");
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // A dataset with a texture whose photo is missing fails before writing any category.
  EXPECT_LOUPE_ERROR(
      write_anomaly_dataset(dir.path(), small_options().set_categories({"hazelnut", "gravel"}), dir.path()),
      "gravel.png not found in " + dir.path().string());
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_LOUPE_ERROR(render_anomaly_sample(object_source(), {AnomalySplit::train, "crack", 0, false}, small_options()),
                     "test split only");
}

}  // namespace
}  // namespace loupe
