#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <random>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/models/safetensors.h"
#include "test_util.h"

namespace loupe {
using test::TempDir;
using test::contains;
using test::error_of;
using test::message_of;
namespace {

// The on-disk layout, built by hand: u64 little-endian header length, header, buffer.
std::string file_bytes(const std::string& header, const std::string& buffer) {
  std::string s;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return s + header + buffer;
}

}  // namespace

TEST(SafeTensors, RoundTripsEveryDtypeExactly) {
  SafeTensors st;
  st.tensors["f64"] = torch::tensor({1.5, -2.25, 1e300}, torch::kDouble);
  st.tensors["f32"] = torch::arange(6, torch::kFloat).view({2, 3}).mul(-0.75f);
  st.tensors["f16"] = torch::tensor({0.5f, -1024.0f, 65504.0f}).to(torch::kHalf);
  st.tensors["bf16"] = torch::tensor({1.0f, -3.0f, 2.5e38f}).to(torch::kBFloat16);
  st.tensors["i64"] = torch::tensor({int64_t{1} << 40, int64_t{-7}}, torch::kLong);
  st.tensors["i32"] = torch::tensor({-2147483647, 5}, torch::kInt);
  st.tensors["i16"] = torch::tensor({-32768, 32767}, torch::kShort);
  st.tensors["i8"] = torch::tensor({-128, 127, 0}, torch::kChar);
  st.tensors["u8"] = torch::tensor({255, 0, 17}, torch::kByte);
  st.tensors["bool"] = torch::tensor({true, false, true});
  st.tensors["scalar"] = torch::tensor(3.25f);
  st.tensors["empty"] = torch::zeros({0, 3});
  st.tensors["strided"] = torch::arange(12, torch::kFloat).view({3, 4}).t();  // non-contiguous input
  st.metadata = {{"format", "pt"}, {"note", "héllo \"quoted\""}};

  TempDir dir;
  const auto path = dir.path() / "all.safetensors";
  write_safetensors(path, st);
  const auto back = read_safetensors(path);
  EXPECT_EQ(back.metadata, st.metadata);
  ASSERT_EQ(back.tensors.size(), st.tensors.size());
  for (const auto& [name, t] : st.tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    const auto& b = back.tensors.at(name);
    EXPECT_EQ(b.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(b.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(b, t)) << name;
    EXPECT_TRUE(b.is_contiguous()) << name;
  }
  EXPECT_EQ(serialize_safetensors(st), read_file(path));
}

TEST(SafeTensors, WriterLayoutFollowsTheReference) {
  SafeTensors st;
  st.tensors["b"] = torch::tensor({1.0f, 2.0f});
  st.tensors["a"] = torch::tensor({int16_t{3}}, torch::kShort);
  const auto bytes = serialize_safetensors(st);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);  // padded so the buffer starts 8-aligned
  ASSERT_EQ(bytes.size(), 8 + n + 2 + 8);
  const auto header = bytes.substr(8, n);
  EXPECT_EQ(header[header.find_last_not_of(' ')], '}');  // JSON, then only spaces
  // Name order: "a" at [0,2), then "b" at [2,10).
  EXPECT_TRUE(contains(header, R"("a":{"data_offsets":[0,2])")) << header;
  EXPECT_TRUE(contains(header, R"("b":{"data_offsets":[2,10])")) << header;
  const std::string buffer = bytes.substr(8 + n);
  EXPECT_EQ(buffer, std::string("\x03\x00\x00\x00\x80\x3f\x00\x00\x00\x40", 10));
}

TEST(SafeTensors, HandBuiltFileParsesPerTheSpec) {
  // Bytes as the format defines them, independent of our writer: offsets relative to
  // the buffer, little-endian values, an unpadded header, entries in any order.
  const std::string header = R"({"b":{"dtype":"I16","shape":[1,2],"data_offsets":[8,12]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}})";
  const std::string buffer(
      "\x00\x00\x80\x3f"  // 1.0f
      "\x00\x00\x20\xc0"  // -2.5f
      "\x02\x01"          // 258
      "\xff\xff",         // -1
      12);
  TempDir dir;
  const auto path = dir.path() / "hand.safetensors";
  write_file_atomic(path, file_bytes(header, buffer));
  const auto st = read_safetensors(path);
  EXPECT_EQ(st.metadata.at("format"), "pt");
  EXPECT_TRUE(torch::equal(st.tensors.at("a"), torch::tensor({1.0f, -2.5f})));
  EXPECT_TRUE(torch::equal(st.tensors.at("b"), torch::tensor({258, -1}, torch::kShort).view({1, 2})));

  // Header padded with spaces, as the reference writer does, and a bool tensor.
  const std::string h2 = R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})" + std::string(5, ' ');
  const auto st2 = parse_safetensors(file_bytes(h2, std::string("\x01\x00\x01", 3)), "h2");
  EXPECT_TRUE(torch::equal(st2.tensors.at("m"), torch::tensor({true, false, true})));
  EXPECT_TRUE(st2.metadata.empty());
}

TEST(SafeTensors, MalformedFilesNameTheFileAndTensor) {
  TempDir dir;
  const std::string f32_2 = R"("dtype":"F32","shape":[2])";
  struct Case {
    std::string what, bytes, tensor, expect;
  };
  const std::vector<Case> cases = {
      {"short", "abc", "", "8-byte"},
      {"header_too_long", std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10), "", "255"},
      {"not_json", file_bytes("{\"w\": [", ""), "", "JSON"},
      {"not_object", file_bytes("[1,2]", ""), "", "object"},
      {"missing_offsets", file_bytes(R"({"w":{)" + f32_2 + "}}", std::string(8, '\0')), "w", "data_offsets"},
      {"missing_dtype", file_bytes(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')), "w", "dtype"},
      {"unknown_dtype", file_bytes(R"({"w":{"dtype":"X42","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
       "w", "X42"},
      {"negative_shape", file_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0')),
       "w", "shape"},
      {"end_before_begin", file_bytes(R"({"w":{)" + f32_2 + R"(,"data_offsets":[8,0]}})", std::string(8, '\0')), "w",
       "end before begin"},
      {"beyond_buffer", file_bytes(R"({"w":{)" + f32_2 + R"(,"data_offsets":[0,8]}})", std::string(4, '\0')), "w",
       "beyond"},
      {"size_mismatch", file_bytes(R"({"w":{)" + f32_2 + R"(,"data_offsets":[0,4]}})", std::string(8, '\0')), "w",
       "needs 8 bytes"},
      {"overlap",
       file_bytes(R"({"v":{)" + f32_2 + R"(,"data_offsets":[0,8]},"w":{)" + f32_2 + R"(,"data_offsets":[4,12]}})",
                  std::string(12, '\0')),
       "w", "overlap"},
      {"bad_metadata", file_bytes(R"({"__metadata__":{"k":3}})", ""), "", "__metadata__"},
  };
  for (const auto& c : cases) {
    const auto path = dir.path() / ("bad_" + c.what + ".safetensors");
    write_file_atomic(path, c.bytes);
    const auto msg = message_of([&] { read_safetensors(path); });
    EXPECT_TRUE(contains(msg, path.filename().string())) << c.what << ": " << msg;
    EXPECT_TRUE(c.tensor.empty() || contains(msg, "'" + c.tensor + "'")) << c.what << ": " << msg;
    EXPECT_TRUE(contains(msg, c.expect)) << c.what << ": " << msg;
  }
  const auto msg = message_of([&] { read_safetensors(dir.path() / "absent.safetensors"); });
  EXPECT_TRUE(contains(msg, "absent.safetensors")) << msg;
}

TEST(SafeTensors, WriterRejectsUnsupportedDtypesAndReservedName) {
  SafeTensors st;
  st.tensors["c"] = torch::zeros({2}, torch::kComplexFloat);
  EXPECT_THROW(serialize_safetensors(st), Error);
  SafeTensors reserved;
  reserved.tensors["__metadata__"] = torch::zeros({1});
  EXPECT_THROW(serialize_safetensors(reserved), Error);
}

}  // namespace loupe
