#include <gtest/gtest.h>
#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/data/image_folder.h"

namespace loupe {
namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("loupe_test_image_folder_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A uint8 image whose every pixel is `value` (so each file is recognisable after loading).
torch::Tensor solid(int64_t c, int64_t h, int64_t w, int value) { return torch::full({c, h, w}, value, torch::kUInt8); }

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a loupe::Error";
  return "";
}

TEST(ImageFolder, ListImagesIsSortedAndFiltersByExtension) {
  const auto dir = fresh_dir("list");
  write_png(dir / "b.png", solid(1, 2, 2, 1));
  write_png(dir / "a.PNG", solid(1, 2, 2, 2));
  write_png(dir / "c.JpEg", solid(1, 2, 2, 3));  // a PNG named .jpeg: listed, and read by content
  write_png(dir / "d.jpg", solid(1, 2, 2, 4));
  write_file_atomic(dir / "notes.txt", "not an image");
  write_png(dir / ".hidden.png", solid(1, 2, 2, 5));
  fs::create_directories(dir / "sub.png");
  const auto files = list_images(dir);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].filename(), "a.PNG");
  EXPECT_EQ(files[1].filename(), "b.png");
  EXPECT_EQ(files[2].filename(), "c.JpEg");
  EXPECT_EQ(files[3].filename(), "d.jpg");
  // A single file is returned as is; a missing path is an error naming it.
  EXPECT_EQ(list_images(dir / "b.png"), std::vector<fs::path>{dir / "b.png"});
  EXPECT_NE(error_of([&] { list_images(dir / "missing"); }).find((dir / "missing").string()), std::string::npos);
  EXPECT_TRUE(list_images(dir / "sub.png").empty());
}

TEST(ImageFolder, LoadsClassesInSortedOrderAsUint8) {
  const auto root = fresh_dir("load");
  write_png(root / "zebra" / "1.png", solid(3, 4, 5, 10));
  write_png(root / "zebra" / "0.png", solid(3, 4, 5, 20));
  write_png(root / "ant" / "x.png", solid(1, 4, 5, 30));   // gray, expanded to RGB
  write_png(root / "mole" / "y.png", solid(4, 4, 5, 40));  // RGBA, alpha dropped
  const auto ds = load_image_folder(root);
  EXPECT_EQ(ds.class_names(), (std::vector<std::string>{"ant", "mole", "zebra"}));
  ASSERT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.images_u8().scalar_type(), torch::kUInt8);
  EXPECT_EQ(ds.images_u8().sizes(), (std::vector<int64_t>{4, 3, 4, 5}));
  EXPECT_TRUE(torch::equal(ds.labels(), torch::tensor({0, 1, 2, 2}, torch::kLong)));
  // Files within a class are sorted: zebra/0.png (20) before zebra/1.png (10). Values are exact.
  const std::vector<int> expected = {30, 40, 20, 10};
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_TRUE(torch::equal(ds.images_u8()[i], solid(3, 4, 5, expected[i]))) << "sample " << i;

  ImageFolderOptions gray;
  gray.channels = 1;
  const auto g = load_image_folder(root, gray);
  EXPECT_EQ(g.image_shape(), (std::array<int64_t, 3>{1, 4, 5}));
  EXPECT_EQ(g.images_u8()[0][0][0][0].item<int>(), 30);
}

TEST(ImageFolder, ResizesBilinearlyWhenSizeIsSet) {
  const auto root = fresh_dir("resize");
  // A 2x2 gray image [[0,200],[0,200]] enlarged to 4x4 (align_corners=false) gives columns
  // 0, 50, 150, 200: source x = (i+0.5)/2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (to 1).
  auto two = torch::tensor({0, 200, 0, 200}, torch::kUInt8).view({1, 2, 2});
  write_png(root / "a" / "small.png", two);
  write_png(root / "b" / "big.png", solid(1, 8, 8, 77));
  ImageFolderOptions o;
  o.channels = 1;
  o.size = 4;
  const auto ds = load_image_folder(root, o);
  ASSERT_EQ(ds.images_u8().sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  EXPECT_TRUE(torch::equal(ds.images_u8()[0][0][2], torch::tensor({0, 50, 150, 200}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(ds.images_u8()[1], solid(1, 4, 4, 77)));
}

TEST(ImageFolder, SizeMismatchNamesTheFileAndBothSizes) {
  const auto root = fresh_dir("mismatch");
  write_png(root / "a" / "first.png", solid(3, 4, 6, 1));
  write_png(root / "b" / "odd.png", solid(3, 5, 7, 1));
  const auto msg = error_of([&] { load_image_folder(root); });
  EXPECT_NE(msg.find((root / "b" / "odd.png").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("7x5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("6x4"), std::string::npos) << msg;
}

TEST(ImageFolder, BadFoldersAreErrorsNamingThePath) {
  const auto base = fresh_dir("bad");
  const auto missing = base / "missing";
  EXPECT_NE(error_of([&] { load_image_folder(missing); }).find(missing.string()), std::string::npos);

  const auto empty = base / "empty";
  fs::create_directories(empty);
  EXPECT_NE(error_of([&] { load_image_folder(empty); }).find(empty.string()), std::string::npos);

  const auto no_images = base / "no_images";
  write_png(no_images / "cat" / "a.png", solid(3, 2, 2, 1));
  write_file_atomic(no_images / "dog" / "readme.txt", "no images here");
  const auto msg = error_of([&] { load_image_folder(no_images); });
  EXPECT_NE(msg.find((no_images / "dog").string()), std::string::npos) << msg;

  const auto corrupt = base / "corrupt";
  write_png(corrupt / "cat" / "a.png", solid(3, 2, 2, 1));
  write_file_atomic(corrupt / "cat" / "b.png", "garbage");
  EXPECT_NE(error_of([&] { load_image_folder(corrupt); }).find((corrupt / "cat" / "b.png").string()),
            std::string::npos);

  write_file_atomic(base / "file.png", "x");
  EXPECT_NE(error_of([&] { load_image_folder(base / "file.png"); }).find("file.png"), std::string::npos);
  ImageFolderOptions two_channels;
  two_channels.channels = 2;
  EXPECT_THROW(load_image_folder(corrupt, two_channels), Error);
}

}  // namespace
}  // namespace loupe
