#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <random>

#include "format_builders.h"
#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/data/mnist.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::idx_bytes;
using test::message_of;
namespace {

void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::vector<uint8_t> ramp(size_t n, int step = 7) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * step + 3) % 256);
  return v;
}

// Writes {prefix}-images-idx3-ubyte[.gz] and labels for n images of h x w.
void write_pair(const fs::path& dir, const std::string& prefix, uint32_t n, uint32_t n_labels, bool gz) {
  const auto images = idx_bytes({n, 28, 28}, ramp(size_t{n} * 28 * 28));
  std::vector<uint8_t> labels(n_labels);
  for (uint32_t i = 0; i < n_labels; ++i) labels[i] = static_cast<uint8_t>(i % 10);
  const auto label_bytes = idx_bytes({n_labels}, labels);
  if (gz) {
    write_gz(dir / (prefix + "-images-idx3-ubyte.gz"), images);
    write_gz(dir / (prefix + "-labels-idx1-ubyte.gz"), label_bytes);
  } else {
    write_file_atomic(dir / (prefix + "-images-idx3-ubyte"), images);
    write_file_atomic(dir / (prefix + "-labels-idx1-ubyte"), label_bytes);
  }
}

}  // namespace

TEST(Idx, PlainRoundTripIsExact) {
  TempDir dir;
  const auto data = ramp(3 * 4 * 5);
  write_file_atomic(dir.path() / "a.idx", idx_bytes({3, 4, 5}, data));
  const auto t = read_idx(dir.path() / "a.idx");
  ASSERT_EQ(t.scalar_type(), torch::kUInt8);
  ASSERT_EQ(t.sizes(), torch::IntArrayRef({3, 4, 5}));
  EXPECT_EQ(std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel()), data);
  // Element [1][2][3] is byte 1*20 + 2*5 + 3 = 33 of the data.
  EXPECT_EQ(t[1][2][3].item<int>(), data[33]);
}

TEST(Idx, GzipRoundTripIsExact) {
  TempDir dir;
  // Large enough that zlib's output needs several inflate calls.
  const auto data = ramp(2000 * 28 * 28, 13);
  write_gz(dir.path() / "big.gz", idx_bytes({2000, 28, 28}, data));
  const auto t = read_idx(dir.path() / "big.gz");
  ASSERT_EQ(t.sizes(), torch::IntArrayRef({2000, 28, 28}));
  EXPECT_EQ(std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel()), data);

  // Detected by content, not by name; compress() output is zlib-wrapped, so gzip via gzwrite.
  write_gz(dir.path() / "labels-no-extension", idx_bytes({4}, {9, 0, 255, 1}));
  const auto l = read_idx(dir.path() / "labels-no-extension");
  EXPECT_TRUE(torch::equal(l, torch::tensor({9, 0, 255, 1}, torch::kUInt8)));
}

TEST(Idx, TruncatedPlainFileNamesExpectedAndFoundBytes) {
  TempDir dir;
  auto bytes = idx_bytes({2, 3}, ramp(6));  // 4 + 8 + 6 = 18 bytes
  bytes.resize(15);
  const auto path = dir.path() / "short-idx1-ubyte";
  write_file_atomic(path, bytes);
  const auto msg = message_of([&] { read_idx(path); });
  EXPECT_TRUE(contains(msg, path.string())) << msg;
  EXPECT_TRUE(contains(msg, "18")) << msg;
  EXPECT_TRUE(contains(msg, "15")) << msg;
  EXPECT_TRUE(contains(msg, "truncated")) << msg;

  // Cut inside the dimensions.
  write_file_atomic(path, bytes.substr(0, 6));
  EXPECT_TRUE(contains(message_of([&] { read_idx(path); }), "header")) << message_of([&] { read_idx(path); });
}

TEST(Idx, TruncatedGzipStreamIsAnError) {
  TempDir dir;
  const auto plain = idx_bytes({500, 28, 28}, ramp(500 * 28 * 28, 31));
  const auto gz_path = dir.path() / "full.gz";
  write_gz(gz_path, plain);
  const auto gz = read_file(gz_path);

  const auto cut_path = dir.path() / "cut.gz";
  write_file_atomic(cut_path, gz.substr(0, gz.size() / 2));
  const auto msg = message_of([&] { read_idx(cut_path); });
  EXPECT_TRUE(contains(msg, cut_path.string())) << msg;
  EXPECT_TRUE(contains(msg, std::to_string(plain.size()))) << msg;  // what the dims promise
  EXPECT_TRUE(contains(msg, "gzip")) << msg;

  // Only the 8-byte trailer (CRC + size) missing: every data byte decodes, still an error.
  write_file_atomic(cut_path, gz.substr(0, gz.size() - 8));
  const auto msg2 = message_of([&] { read_idx(cut_path); });
  EXPECT_TRUE(contains(msg2, cut_path.string()) && contains(msg2, "truncated")) << msg2;
}

TEST(Idx, BadMagicTypeAndMissingFile) {
  TempDir dir;
  const auto path = dir.path() / "bad";
  write_file_atomic(path, std::string("\x01\x02\x08\x01\x00\x00\x00\x01\x05", 9));
  auto msg = message_of([&] { read_idx(path); });
  EXPECT_TRUE(contains(msg, path.string()) && contains(msg, "magic")) << msg;

  // float32 IDX (type 0x0d) is valid IDX but not something we read.
  write_file_atomic(path, std::string("\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x80\x3f", 12));
  msg = message_of([&] { read_idx(path); });
  EXPECT_TRUE(contains(msg, "0x0d") && contains(msg, "float32") && contains(msg, "uint8")) << msg;

  // Extra bytes after the data mean the dims are wrong.
  write_file_atomic(path, idx_bytes({2}, {1, 2}) + "x");
  msg = message_of([&] { read_idx(path); });
  EXPECT_TRUE(contains(msg, "trailing")) << msg;

  msg = message_of([&] { read_idx(dir.path() / "nope.idx"); });
  EXPECT_TRUE(contains(msg, (dir.path() / "nope.idx").string())) << msg;
}

TEST(Mnist, LoadsPlainAndGzipPairs) {
  TempDir dir;
  write_pair(dir.path(), "train", 12, 12, /*gz=*/true);
  write_pair(dir.path(), "t10k", 5, 5, /*gz=*/false);
  const auto train = load_mnist(dir.path(), "train");
  EXPECT_EQ(train.size(), 12);
  EXPECT_EQ(train.images_u8().sizes(), torch::IntArrayRef({12, 1, 28, 28}));
  EXPECT_EQ(train.labels()[11].item<int64_t>(), 1);
  EXPECT_EQ(train.labels().scalar_type(), torch::kLong);
  EXPECT_EQ(train.images_u8()[0][0][0][1].item<int>(), (1 * 7 + 3) % 256);
  EXPECT_EQ(train.class_names(), mnist_classes());
  const auto test = load_mnist_like(dir.path(), "test", fashion_mnist_classes());
  EXPECT_EQ(test.size(), 5);
  EXPECT_EQ(test.class_names()[9], "Ankle boot");
}

TEST(Mnist, CountMismatchMissingFilesAndBadSplit) {
  TempDir dir;
  write_pair(dir.path(), "train", 6, 5, false);
  auto msg = message_of([&] { load_mnist(dir.path(), "train"); });
  EXPECT_TRUE(contains(msg, "6 images") && contains(msg, "5 labels")) << msg;

  msg = message_of([&] { load_mnist(dir.path(), "test"); });
  EXPECT_TRUE(contains(msg, "t10k-images-idx3-ubyte") && contains(msg, dir.path().string())) << msg;

  msg = message_of([&] { load_mnist(dir.path(), "val"); });
  EXPECT_TRUE(contains(msg, "val") && contains(msg, "train or test")) << msg;

  msg = message_of([&] { load_mnist(dir.path() / "absent", "train"); });
  EXPECT_TRUE(contains(msg, "absent") && contains(msg, "train-images-idx3-ubyte")) << msg;
  EXPECT_FALSE(contains(msg, "dataset-fashion-mnist")) << msg;
}

TEST(Mnist, FashionMissingFolderOrFileNamesDebianPackage) {
  auto msg = message_of([&] { load_fashion_mnist("train", "/nonexistent/loupe/fashion"); });
  EXPECT_TRUE(contains(msg, "/nonexistent/loupe/fashion") && contains(msg, "dataset-fashion-mnist")) << msg;
  TempDir dir;
  write_pair(dir.path(), "train", 3, 3, false);
  msg = message_of([&] { load_fashion_mnist("test", dir.path()); });
  EXPECT_TRUE(contains(msg, "t10k-labels-idx1-ubyte") || contains(msg, "t10k-images-idx3-ubyte")) << msg;
  EXPECT_TRUE(contains(msg, "dataset-fashion-mnist")) << msg;
  EXPECT_EQ(load_fashion_mnist("train", dir.path()).class_names(), fashion_mnist_classes());
}

TEST(Mnist, RealFashionMnistIfInstalled) {
  std::error_code ec;
  if (!fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz", ec))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto train = load_fashion_mnist("train");
  const auto test = load_fashion_mnist("test");
  EXPECT_EQ(train.images_u8().sizes(), torch::IntArrayRef({60000, 1, 28, 28}));
  EXPECT_EQ(test.images_u8().sizes(), torch::IntArrayRef({10000, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(torch::bincount(train.labels()), torch::full({10}, 6000, torch::kLong)));
  EXPECT_TRUE(torch::equal(torch::bincount(test.labels()), torch::full({10}, 1000, torch::kLong)));
  // Real photos of clothes: dark backgrounds, bright garments, using the full range.
  EXPECT_EQ(train.images_u8().max().item<int>(), 255);
  EXPECT_EQ(train.images_u8().min().item<int>(), 0);
  EXPECT_EQ(train.class_names()[0], "T-shirt/top");
}

}  // namespace loupe
