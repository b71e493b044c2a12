#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "format_builders.h"
#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"

namespace loupe {
using test::encode_jpeg;
using test::hand_png;
namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("loupe_test_image_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Asserts that `f` throws a loupe::Error whose message contains every one of `parts`.
template <class F>
void expect_error_containing(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a loupe::Error";
  } catch (const Error& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << part;
  }
}

torch::Tensor as_u8(const torch::Tensor& unit_float) { return unit_float.mul(255).round().to(torch::kUInt8); }

TEST(Image, PngRoundTripIsExactForEveryChannelCount) {
  torch::manual_seed(0);
  for (int64_t c = 1; c <= 4; ++c) {
    const auto u8 = torch::randint(0, 256, {c, 5, 7}, torch::kUInt8);
    const auto back = decode_image(encode_png(u8), "mem.png");
    ASSERT_EQ(back.sizes(), u8.sizes()) << "channels " << c;
    EXPECT_EQ(back.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(as_u8(back), u8)) << "channels " << c;
    // The float path gives the same bytes for values that are exact multiples of 1/255.
    EXPECT_EQ(encode_png(u8.to(torch::kFloat32) / 255), encode_png(u8)) << "channels " << c;
  }
  const auto plane = torch::randint(0, 256, {3, 4}, torch::kUInt8);
  const auto back = decode_image(encode_png(plane), "plane.png");
  EXPECT_EQ(back.sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_TRUE(torch::equal(as_u8(back[0]), plane));
}

TEST(Image, FloatsAreClampedAndRoundedToNearest) {
  // v*255 + 0.5, floored: 0.5 -> 128 (127.5 rounds up), 0.25 -> 64 (63.75),
  // 0.75 -> 191 (191.25), 0.125 -> 32 (31.875), 0.003 -> 1 (0.765), -0.3 -> 0, 1.2 -> 255.
  const auto values = torch::tensor({0.5, 0.25, 0.75, 0.125, 0.003, -0.3, 1.2, 1.0, 0.0}).view({1, 1, 9});
  const std::vector<int> expected = {128, 64, 191, 32, 1, 0, 255, 255, 0};
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const auto back = as_u8(decode_image(encode_png(values.to(dtype)), "mem.png")).flatten();
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(back[i].item<int>(), expected[i]) << "index " << i;
  }
}

TEST(Image, ChannelConversionOnRead) {
  // RGB (100,150,200) and (0,0,0): gray by BT.601 luma = 0.299*100 + 0.587*150 + 0.114*200 = 140.75.
  auto rgb = torch::zeros({3, 1, 2}, torch::kUInt8);
  rgb.select(2, 0).copy_(torch::tensor({100, 150, 200}, torch::kUInt8).view({3, 1}));
  const auto png = encode_png(rgb);
  const auto gray = decode_image(png, "rgb.png", 1);
  ASSERT_EQ(gray.sizes(), (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(gray[0][0][0].item<float>(), 140.75f / 255.f, 1e-6);
  EXPECT_EQ(gray[0][0][1].item<float>(), 0.f);

  const auto rgba = decode_image(png, "rgb.png", 4);
  ASSERT_EQ(rgba.size(0), 4);
  EXPECT_TRUE(torch::equal(rgba[3], torch::ones({1, 2})));
  EXPECT_TRUE(torch::equal(rgba.narrow(0, 0, 3), decode_image(png, "rgb.png")));

  const auto g = torch::tensor({10, 240}, torch::kUInt8).view({1, 1, 2});
  const auto replicated = decode_image(encode_png(g), "g.png", 3);
  ASSERT_EQ(replicated.size(0), 3);
  for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(replicated[c], replicated[0]));
  EXPECT_NEAR(replicated[1][0][1].item<float>(), 240.f / 255.f, 1e-6);

  // Alpha is dropped, not composited.
  auto ga = torch::tensor({77, 77, 0, 255}, torch::kUInt8).view({2, 1, 2});
  const auto dropped = decode_image(encode_png(ga), "ga.png", 3);
  EXPECT_NEAR(dropped[0][0][0].item<float>(), 77.f / 255.f, 1e-6);
  EXPECT_NEAR(dropped[2][0][1].item<float>(), 77.f / 255.f, 1e-6);

  expect_error_containing([&] { decode_image(png, "rgb.png", 5); }, {"rgb.png", "channels"});
}

TEST(Image, ReadsPaletteWithTransparency) {
  // Palette red, blue; tRNS makes blue half transparent -> RGBA.
  const std::string plte = std::string("\xff\x00\x00\x00\x00\xff", 6);
  const std::string trns = std::string("\xff\x80", 2);
  const std::string rows = std::string("\x00\x00\x01", 3);
  const auto img = decode_image(hand_png(2, 1, 8, 3, rows, {{"PLTE", plte}, {"tRNS", trns}}), "palette.png");
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{4, 1, 2}));
  const auto u8 = as_u8(img).flatten(1);
  EXPECT_TRUE(torch::equal(u8, torch::tensor({255, 0, 0, 0, 0, 255, 255, 128}, torch::kUInt8).view({4, 2})));
}

TEST(Image, ReadsLowAndHighBitDepthGray) {
  // 1-bit: 0b10110000 -> 255,0,255,255,0,0,0,0.
  const auto one_bit = decode_image(hand_png(8, 1, 1, 0, std::string("\x00\xb0", 2)), "1bit.png");
  EXPECT_TRUE(torch::equal(as_u8(one_bit).flatten(), torch::tensor({255, 0, 255, 255, 0, 0, 0, 0}, torch::kUInt8)));
  // 16-bit scaled with rounding: v*255/65535 -> 0x0000 = 0, 0xffff = 255, 0x8080 = 128, 0x1234 = 18.13 -> 18.
  const std::string rows = std::string("\x00\x00\x00\xff\xff\x80\x80\x12\x34", 9);
  const auto sixteen = decode_image(hand_png(4, 1, 16, 0, rows), "16bit.png");
  EXPECT_TRUE(torch::equal(as_u8(sixteen).flatten(), torch::tensor({0, 255, 128, 18}, torch::kUInt8)));
}

TEST(Image, TruncatedPngIsAnErrorNamingThePath) {
  const auto dir = temp_dir("truncated");
  torch::manual_seed(1);
  const auto img = torch::rand({3, 32, 32});
  write_png(dir / "ok.png", img);
  const auto bytes = read_file(dir / "ok.png");
  EXPECT_EQ(read_image(dir / "ok.png").sizes(), img.sizes());
  for (size_t keep : {bytes.size() / 2, bytes.size() - 12, size_t(20), size_t(8)}) {
    const auto path = dir / ("cut_" + std::to_string(keep) + ".png");
    write_file_atomic(path, bytes.substr(0, keep));
    expect_error_containing([&] { read_image(path); }, {path.string(), "not a valid PNG"});
  }
  // A flipped byte inside IDAT breaks its CRC.
  auto corrupt = bytes;
  corrupt[bytes.size() / 2] = static_cast<char>(corrupt[bytes.size() / 2] ^ 0x55);
  write_file_atomic(dir / "corrupt.png", corrupt);
  expect_error_containing([&] { read_image(dir / "corrupt.png"); }, {(dir / "corrupt.png").string(), "PNG"});
}

TEST(Image, UnknownFormatAndMissingFileAreErrors) {
  const auto dir = temp_dir("garbage");
  write_file_atomic(dir / "garbage.png", "this is not an image at all");
  expect_error_containing([&] { read_image(dir / "garbage.png"); },
                          {(dir / "garbage.png").string(), "expected a PNG or JPEG"});
  write_file_atomic(dir / "empty.jpg", "");
  expect_error_containing([&] { read_image(dir / "empty.jpg"); }, {(dir / "empty.jpg").string()});
  expect_error_containing([&] { read_image(dir / "missing.png"); }, {(dir / "missing.png").string()});
}

TEST(Image, EncodeRejectsNonFiniteAndBadShapes) {
  auto img = torch::rand({3, 4, 4});
  img[1][2][3] = std::nan("");
  expect_error_containing([&] { encode_png(img); }, {"NaN"});
  img[1][2][3] = std::numeric_limits<float>::infinity();
  expect_error_containing([&] { encode_png(img); }, {"infinite"});
  const auto dir = temp_dir("nan");
  expect_error_containing([&] { write_png(dir / "nan.png", img); }, {(dir / "nan.png").string()});
  EXPECT_FALSE(fs::exists(dir / "nan.png"));

  expect_error_containing([&] { encode_png(torch::rand({5, 4, 4})); }, {"channels", "[5, 4, 4]"});
  expect_error_containing([&] { encode_png(torch::rand({1, 3, 4, 4})); }, {"[1, 3, 4, 4]"});
  expect_error_containing([&] { encode_png(torch::zeros({3, 4, 4}, torch::kInt32)); }, {"uint8"});
  expect_error_containing([&] { encode_png(torch::rand({3, 0, 4})); }, {"size"});
  expect_error_containing(
      [&] {
        check_finite(torch::tensor({1.0, std::nan("")}), "my tensor");
      },
      {"my tensor", "1 NaN"});
  EXPECT_NO_THROW(check_finite(torch::tensor({1, 2}), "ints"));
}

TEST(Image, DecodesJpegWithinTolerance) {
  const int w = 16, h = 8;
  // Solid colour RGB: a flat block survives JPEG almost exactly.
  std::vector<unsigned char> rgb(w * h * 3);
  for (int i = 0; i < w * h; ++i) {
    rgb[i * 3] = 200;
    rgb[i * 3 + 1] = 100;
    rgb[i * 3 + 2] = 50;
  }
  const auto img = decode_image(encode_jpeg(rgb, w, h, 3, 95), "solid.jpg");
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, h, w}));
  const auto expected = torch::tensor({200.f, 100.f, 50.f}).view({3, 1, 1}).expand({3, h, w}) / 255;
  EXPECT_LE((img - expected).abs().max().item<float>(), 3.f / 255);
  // Gray horizontal gradient 0..240.
  std::vector<unsigned char> gray(w * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) gray[y * w + x] = static_cast<unsigned char>(x * 16);
  const auto g = decode_image(encode_jpeg(gray, w, h, 1, 95), "gradient.jpg");
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{1, h, w}));
  const auto ramp = torch::arange(0, w).mul(16).to(torch::kFloat32).div(255).view({1, 1, w}).expand({1, h, w});
  EXPECT_LE((g - ramp).abs().max().item<float>(), 4.f / 255);
  // Converted on read like PNG: gray -> RGB replicates, RGB -> gray is luma.
  EXPECT_EQ(decode_image(encode_jpeg(gray, w, h, 1, 95), "gradient.jpg", 3).size(0), 3);
  const auto luma = decode_image(encode_jpeg(rgb, w, h, 3, 95), "solid.jpg", 1);
  EXPECT_NEAR(luma.mean().item<float>(), (0.299f * 200 + 0.587f * 100 + 0.114f * 50) / 255, 3.f / 255);
}

TEST(Image, TruncatedJpegIsAnErrorNamingThePath) {
  const int w = 32, h = 32;
  std::vector<unsigned char> rgb(w * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>((i * 37) % 251);
  const auto bytes = encode_jpeg(rgb, w, h, 3, 90);
  const auto dir = temp_dir("jpeg");
  // Detected by content: a JPEG named .png reads fine.
  write_file_atomic(dir / "actually_jpeg.png", bytes);
  EXPECT_EQ(read_image(dir / "actually_jpeg.png").sizes(), (std::vector<int64_t>{3, h, w}));
  for (size_t keep : {bytes.size() * 2 / 3, bytes.size() - 2, size_t(100), size_t(3)}) {
    const auto path = dir / ("cut_" + std::to_string(keep) + ".jpg");
    write_file_atomic(path, bytes.substr(0, keep));
    expect_error_containing([&] { read_image(path); }, {path.string(), "not a valid JPEG"});
  }
}

// Found by fuzz/fuzz_image: an IHDR claiming 327680x196608 8-bit gray pixels made
// decode_image malloc 64 GB before reading a byte of pixel data.
TEST(Image, PngHeaderClaimingMorePixelsThanTheFileHoldsIsRefused) {
  const auto png = test::hand_png(327680, 196608, 8, 0, std::string(1, '\0'));
  expect_error_containing([&] { decode_image(png, "huge.png"); },
                          {"huge.png", "327680x196608", "more than a " + std::to_string(png.size()) + "-byte file"});
}

// Found by fuzz/fuzz_image: an ancillary chunk (here zTXt) whose length field says
// 1.1 GB made libpng allocate that much before finding the file ends. The allocation
// itself is only visible under the fuzzer's malloc limit; here the error must still
// come out as a loupe::Error naming the file.
TEST(Image, PngAncillaryChunkLongerThanTheFileIsRefused) {
  std::string png = "\x89PNG\r\n\x1a\n";
  png += test::png_chunk("IHDR", test::be32(1) + test::be32(1) + std::string("\x08\x02\x00\x00\x00", 5));
  png += test::be32(0x4452000c) + "zTXtIDAT";
  expect_error_containing([&] { decode_image(png, "ztxt.png"); }, {"ztxt.png", "not a valid PNG", "ends early"});
}

// What the header check must let through: deflate's best case (1032:1) on zeros.
TEST(Image, HighlyCompressedImagesStillDecode) {
  const auto zeros = torch::zeros({1, 2048, 2048}, torch::kUInt8);
  const auto png = encode_png(zeros);
  EXPECT_GT(2048.0 * 2048 / png.size(), 500) << "the PNG should be near deflate's limit";
  EXPECT_TRUE(torch::equal(decode_image(png, "zeros.png"), zeros.to(torch::kFloat)));
  const int side = 1024;
  const std::vector<unsigned char> gray(side * side, 128);
  for (const bool progressive : {false, true}) {
    const auto jpeg = encode_jpeg(gray, side, side, 1, 10, progressive);
    const auto img = decode_image(jpeg, "flat.jpg");
    EXPECT_EQ(img.sizes(), (std::vector<int64_t>{1, side, side})) << "progressive " << progressive;
  }
}

// A JPEG whose SOF0 claims 60000x60000 pixels (3.6 G) in a few hundred bytes: the
// same check as for PNG, before libjpeg or loupe allocate for it.
TEST(Image, JpegHeaderClaimingMorePixelsThanTheFileHoldsIsRefused) {
  std::vector<unsigned char> pixels(8 * 8 * 3, 90);
  std::string jpeg = encode_jpeg(pixels, 8, 8, 3, 75);
  const size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  // SOF0: marker, length (2), precision (1), height (2), width (2).
  jpeg.replace(sof + 5, 4, std::string("\xea\x60\xea\x60", 4));
  expect_error_containing([&] { decode_image(jpeg, "huge.jpg"); },
                          {"huge.jpg", "60000x60000", "more than a " + std::to_string(jpeg.size()) + "-byte file"});
}

}  // namespace
}  // namespace loupe
