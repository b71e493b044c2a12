#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include "error_matchers.h"
#include "loupe/core/npy.h"

namespace loupe {

namespace {
fs::path temp_dir() {
  auto dir = fs::temp_directory_path() / ("loupe_npy_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}
}  // namespace

TEST(Npy, HeaderMatchesNumpyByteForByte) {
  // numpy.save(np.zeros((2, 3), np.float32)): magic, version 1.0, header length 118, the
  // dict, spaces up to offset 127 and a newline, so the data starts at byte 128.
  const auto bytes = encode_npy(torch::zeros({2, 3}));
  ASSERT_EQ(bytes.size(), 128u + 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]), 118);
  EXPECT_EQ(bytes[9], 0);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 127 - 10 - dict.size()), std::string(127 - 10 - dict.size(), ' '));
  EXPECT_EQ(bytes[127], '\n');
  // Every header is padded to a multiple of 64.
  for (const auto& shape :
       std::vector<std::vector<int64_t>>{{}, {7}, {123456789, 0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}) {
    const auto b = encode_npy(torch::zeros(shape, torch::kByte));
    const size_t header = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
    EXPECT_EQ((10 + header) % 64, 0u);
    EXPECT_EQ(b[9 + header], '\n');
  }
  EXPECT_NE(encode_npy(torch::zeros({7})).find("'shape': (7,)"), std::string::npos);
  EXPECT_NE(encode_npy(torch::zeros({})).find("'shape': ()"), std::string::npos);
}

TEST(Npy, RoundTripsEveryDtypeThroughAFile) {
  const auto dir = temp_dir();
  torch::manual_seed(60);
  const std::vector<torch::Tensor> tensors = {
      torch::randn({3, 4}),
      torch::randn({2, 2, 2}, torch::kDouble),
      torch::randint(-1000000000000LL, 1000000000000LL, {5}, torch::kLong),
      torch::randint(-100000, 100000, {2, 3}, torch::kInt),
      torch::randint(0, 256, {4, 1, 3}, torch::kByte),
      torch::rand({3, 3}) > 0.5,
      torch::tensor(2.5),                    // 0-d
      torch::zeros({0, 3}),                  // empty
      torch::arange(12.f).view({3, 4}).t(),  // non-contiguous: written in C order
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto path = dir / ("t" + std::to_string(i) + ".npy");
    write_npy(path, tensors[i]);
    const auto back = read_npy(path);
    EXPECT_EQ(back.scalar_type(), tensors[i].scalar_type()) << i;
    EXPECT_TRUE(torch::equal(back, tensors[i])) << i;
  }
  fs::remove_all(dir);
}

TEST(Npy, ReadsVersion2HeadersAndDoubleQuotes) {
  std::string dict = "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2,), }";
  dict += std::string(64 - (12 + dict.size() + 1) % 64, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
  bytes += static_cast<char>(dict.size());
  bytes += std::string(3, '\0');
  bytes += dict;
  const int32_t data[2] = {7, -9};
  bytes.append(reinterpret_cast<const char*>(data), sizeof(data));
  EXPECT_TRUE(torch::equal(decode_npy(bytes, "v2"), torch::tensor({7, -9}, torch::kInt)));
}

TEST(Npy, BadFilesAreClearErrors) {
  const auto good = encode_npy(torch::arange(6, torch::kLong).view({2, 3}));
  EXPECT_LOUPE_ERROR(decode_npy("PK\x03\x04 not numpy", "a.npy"), "bad magic");
  EXPECT_LOUPE_ERROR(decode_npy(good.substr(0, good.size() - 1), "a.npy"), "truncated");
  EXPECT_LOUPE_ERROR(decode_npy(good.substr(0, 40), "a.npy"), "truncated");
  EXPECT_LOUPE_ERROR(decode_npy(good.substr(0, 9), "a.npy"), "a.npy");
  auto fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_LOUPE_ERROR(decode_npy(fortran, "a.npy"), "fortran_order");
  auto complex = good;
  complex.replace(complex.find("<i8"), 3, "<c8");
  EXPECT_LOUPE_ERROR(decode_npy(complex, "a.npy"), "dtype '<c8' is not supported");
  auto big = good;
  big.replace(big.find("<i8"), 3, ">i8");
  EXPECT_LOUPE_ERROR(decode_npy(big, "a.npy"), "big-endian");
  EXPECT_LOUPE_ERROR(encode_npy(torch::zeros({2}, torch::kHalf)), "Half");
  EXPECT_LOUPE_ERROR(read_npy(temp_dir() / "absent.npy"), "absent.npy");
}

}  // namespace loupe
