#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/data/mnist.h"
#include "loupe/data/registry.h"

namespace loupe {

TEST(DataRegistry, UnknownNameListsValidOnes) {
  try {
    load_dataset({"imagenet"});
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("imagenet"), std::string::npos);
    EXPECT_NE(msg.find("coloured-fashion-mnist"), std::string::npos);
  }
  DataRequest mnist;
  mnist.name = "mnist";
  EXPECT_THROW(load_dataset(mnist), Error);  // needs --data-dir
}

TEST(DataRegistry, FolderIsSplitDisjointly80_10_10) {
  const auto root = fs::temp_directory_path() / "loupe_registry_folder";
  fs::remove_all(root);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 10; ++i)
      write_png(root / (c ? "cat" : "dog") / (std::to_string(i) + ".png"), torch::full({3, 8, 8}, (c * 10 + i) / 20.0));
  DataRequest r;
  r.name = "folder";
  r.dir = root;
  const auto s = load_dataset(r);
  EXPECT_EQ(s.train->size(), 16);
  EXPECT_EQ(s.validation->size(), 2);
  EXPECT_EQ(s.test->size(), 2);
  // Every image (distinct brightness) lands in exactly one split.
  std::set<int> seen;
  for (const auto& d : {s.train, s.validation, s.test})
    for (int64_t i = 0; i < d->size(); ++i) seen.insert(d->images_u8()[i][0][0][0].item<int>());
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_EQ(s.train->class_names(), (std::vector<std::string>{"cat", "dog"}));
}

TEST(DataRegistry, ColouredAndGrayShareThePartition) {
  if (!fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz")) GTEST_SKIP();
  DataRequest r;
  r.name = "coloured-fashion-mnist";
  const auto c = load_dataset(r);
  r.name = "gray-fashion-mnist";
  const auto g = load_dataset(r);
  ASSERT_EQ(c.validation->size(), 12000);
  ASSERT_EQ(g.validation->size(), 12000);
  EXPECT_TRUE(torch::equal(c.validation->labels(), g.validation->labels()));
  // The coloured image is the gray one multiplied by a colour (every palette colour has
  // a channel ≥ 0.5), so both have the same strokes: colour only where gray > 0, and
  // everywhere gray ≥ 2.
  const auto coloured_on = c.validation->images_u8().slice(0, 0, 100).amax(1).gt(0);
  const auto gray = g.validation->images_u8().slice(0, 0, 100).select(1, 0);
  EXPECT_FALSE((coloured_on & gray.eq(0)).any().item<bool>());
  EXPECT_TRUE(coloured_on.masked_select(gray.ge(2)).all().item<bool>());
}

}  // namespace loupe
