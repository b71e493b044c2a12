#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/data/mnist.h"
#include "loupe/data/registry.h"
#include "loupe/data/shapes3d.h"

namespace loupe {

TEST(DataRegistry, UnknownNameListsValidOnes) {
  try {
    DataRequest request;
    request.name = "imagenet";
    load_dataset(request);
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

TEST(DataRegistry, ShapesAndSpritesAreRenderedSeededDisjointPools) {
  DataRequest r;
  r.name = "shapes3d";
  r.images = 20;
  r.seed = 3;
  const auto s = load_dataset(r);
  ASSERT_EQ(s.train->images_u8().sizes(), (torch::IntArrayRef{20, 3, 64, 64}));
  EXPECT_EQ(s.validation->size(), 2);
  EXPECT_EQ(s.test->size(), 2);
  EXPECT_EQ(s.train->class_names(), (std::vector<std::string>{"cube", "cylinder", "sphere", "capsule"}));
  // The first training image is sample perm[0] of a randperm seeded with 3, rendered at supersample 1.
  auto gen = at::detail::createCPUGenerator(3);
  const auto first = torch::randperm(480000, gen, torch::kLong).slice(0, 0, 1);
  const Shapes3D shapes{Shapes3DOptions().set_supersample(1)};
  const auto expected = shapes.get(first);
  EXPECT_TRUE(torch::equal(s.train->get(torch::tensor({0L})).images, expected.images));
  EXPECT_EQ(s.train->labels()[0].item<int64_t>(), expected.labels[0].item<int64_t>());
  EXPECT_TRUE(torch::equal(load_dataset(r).test->images_u8(), s.test->images_u8()));  // seeded

  r.name = "dsprites";
  r.images = 30;
  const auto d = load_dataset(r);
  ASSERT_EQ(d.train->images_u8().sizes(), (torch::IntArrayRef{30, 1, 64, 64}));
  EXPECT_EQ(d.validation->size(), 3);
  EXPECT_EQ(d.train->num_classes(), 3);
  // Binary sprites: 0 or 255 only, and every sprite has some pixels on.
  const auto u = d.train->images_u8();
  EXPECT_EQ((u.eq(0) | u.eq(255)).all().item<bool>(), true);
  EXPECT_TRUE(u.flatten(1).amax(1).eq(255).all().item<bool>());

  r.images = 1000000;
  try {
    load_dataset(r);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--data dsprites"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("1000000"), std::string::npos);
  }
}

}  // namespace loupe
