#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/idx_files.h"
#include "error_matchers.h"
#include "format_builders.h"
#include "loupe/core/fs.h"
#include "loupe/core/h5.h"
#include "loupe/core/image.h"
#include "loupe/data/image_stream.h"
#include "test_util.h"

namespace loupe {
namespace {

torch::Tensor some_pixels(int64_t n, int64_t h, int64_t w) {
  return torch::randint(0, 256, {n, h, w}, torch::TensorOptions().dtype(torch::kByte));
}

TEST(ImageStream, IdxReadsAnyPositionsAndLabels) {
  test::TempDir dir;
  torch::manual_seed(0);
  const auto pixels = some_pixels(7, 5, 6);
  test::write_idx(dir.path() / "val-images-idx3-ubyte", pixels);
  test::write_idx(dir.path() / "val-labels-idx1-ubyte", torch::arange(7, torch::kByte) * 2);
  auto s = open_image_stream({(dir.path() / "val-images-idx3-ubyte").string()}, ImageStreamOptions().set_channels(1));
  EXPECT_EQ(s->size(), 7);
  EXPECT_EQ(s->image_size(), std::make_pair(int64_t{5}, int64_t{6}));
  // Forward, backward and repeated positions all read the right bytes.
  const auto got = s->read({4, 5, 1, 1, 6});
  const auto want = pixels.index_select(0, torch::tensor({4, 5, 1, 1, 6})).unsqueeze(1).to(torch::kFloat) / 255;
  EXPECT_TRUE(torch::equal(got, want));
  ASSERT_TRUE(s->has_labels());
  EXPECT_TRUE(torch::equal(s->labels({0, 6}), torch::tensor({0, 12}, torch::kLong)));
  EXPECT_EQ(s->id(3), (dir.path() / "val-images-idx3-ubyte").string() + "#3");
  // Three channels: gray replicated; a size: resized.
  auto rgb = open_image_stream({(dir.path() / "val-images-idx3-ubyte").string()},
                               ImageStreamOptions().set_channels(3).set_size(10));
  const auto big = rgb->read({2});
  EXPECT_EQ(big.sizes(), (torch::IntArrayRef{1, 3, 10, 10}));
  EXPECT_TRUE(torch::equal(big[0][0], big[0][2]));
}

TEST(ImageStream, GzipIdxStreamsLikeThePlainFile) {
  test::TempDir dir;
  torch::manual_seed(1);
  const auto pixels = some_pixels(20, 4, 4);
  const auto plain = dir.path() / "a-images-idx3-ubyte", gz = dir.path() / "b-images-idx3-ubyte.gz";
  test::write_idx(plain, pixels);
  std::string bytes;
  {
    std::ifstream in(plain, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file_atomic(gz, test::gzip_bytes(bytes));
  auto a = open_image_stream({plain.string()}, ImageStreamOptions().set_channels(1));
  auto b = open_image_stream({gz.string()}, ImageStreamOptions().set_channels(1));
  EXPECT_FALSE(b->has_labels());
  EXPECT_TRUE(torch::equal(a->read({0, 3, 19, 2}), b->read({0, 3, 19, 2})));
}

TEST(ImageStream, BadIdxFilesAreNamed) {
  test::TempDir dir;
  const auto path = dir.path() / "t-images-idx3-ubyte";
  test::write_idx(path, some_pixels(3, 4, 4));
  fs::resize_file(path, 16 + 3 * 16 - 5);
  EXPECT_LOUPE_ERROR(open_image_stream({path.string()}, {}), "truncated");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write("\0\0\x08\x03\0\0", 6);
  EXPECT_LOUPE_ERROR(open_image_stream({path.string()}, {}), "truncated IDX header");
  test::write_idx(dir.path() / "l-images-idx3-ubyte", torch::zeros({30}, torch::kByte));
  EXPECT_LOUPE_ERROR(open_image_stream({(dir.path() / "l-images-idx3-ubyte").string()}, {}), "magic 0x00000803");
  EXPECT_LOUPE_ERROR(open_image_stream({(dir.path() / "none-images-idx3-ubyte").string()}, {}), "not found");
  EXPECT_LOUPE_ERROR(open_image_stream({path.string(), "x.png"}, {}), "on its own");
}

#ifdef LOUPE_HAVE_HDF5
TEST(ImageStream, Hdf5ChannelsLastBytesAndPlanarFloats) {
  test::TempDir dir;
  torch::manual_seed(2);
  const auto nhwc = torch::randint(0, 256, {6, 5, 4, 3}, torch::TensorOptions().dtype(torch::kByte));
  const auto nchw = torch::rand({6, 1, 5, 4});
  {
    auto f = h5::File::create(dir.path() / "d.h5");
    f.create_rows("images", torch::kByte, {5, 4, 3}, 2);
    f.append("images", nhwc);
    f.create_rows("gray", torch::kFloat, {1, 5, 4}, 2);
    f.append("gray", nchw);
    f.create_rows("labels", torch::kLong, {}, 8);
    f.append("labels", torch::arange(6, torch::kLong));
    f.close();
  }
  auto s = open_image_stream({(dir.path() / "d.h5").string()}, ImageStreamOptions().set_channels(3));
  EXPECT_EQ(s->size(), 6);
  const auto got = s->read({1, 2, 3, 5});  // one hyperslab for 1-3, another for 5
  const auto want = nhwc.index_select(0, torch::tensor({1, 2, 3, 5})).permute({0, 3, 1, 2}).to(torch::kFloat) / 255;
  EXPECT_TRUE(torch::allclose(got, want, 0, 1e-7));
  EXPECT_TRUE(torch::equal(s->labels({5}), torch::tensor({5}, torch::kLong)));
  auto g = open_image_stream({(dir.path() / "d.h5").string() + ":gray"}, ImageStreamOptions().set_channels(1));
  EXPECT_TRUE(torch::equal(g->read({4}), nchw.slice(0, 4, 5)));
  EXPECT_LOUPE_ERROR(open_image_stream({(dir.path() / "d.h5").string() + ":labels"}, {}), "expected uint8");
  EXPECT_LOUPE_ERROR(open_image_stream({(dir.path() / "d.h5").string() + ":none"}, {}), "no dataset 'none'");
}
#endif

TEST(ImageStream, ClassFoldersAreLabelled) {
  test::TempDir dir;
  for (const auto* cls : {"cat", "dog"}) {
    fs::create_directories(dir.path() / cls);
    for (int i = 0; i < 2; ++i)
      write_png(dir.path() / cls / (std::to_string(i) + ".png"), torch::full({3, 6, 6}, i == 0 ? 0.0 : 1.0));
  }
  auto s = open_image_stream({dir.path().string()}, ImageStreamOptions().set_channels(3));
  EXPECT_EQ(s->size(), 4);
  EXPECT_EQ(s->class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_TRUE(torch::equal(s->labels({0, 1, 2, 3}), torch::tensor({0, 0, 1, 1}, torch::kLong)));
  EXPECT_EQ(s->read({3}).max().item<float>(), 1.0f);
  write_png(dir.path() / "dog" / "big.png", torch::zeros({3, 8, 8}));
  auto mixed = open_image_stream({dir.path().string()}, ImageStreamOptions().set_channels(3));
  EXPECT_LOUPE_ERROR(mixed->read({0, 1, 2, 3, 4}), "--size");
}

}  // namespace
}  // namespace loupe
