// Writes the seed corpus: tiny valid files of every kind the harnesses parse, one
// folder per harness, made with loupe's writers and tests/format_builders.h.
// Usage: loupe_fuzz_seeds OUT_DIR
#include <torch/torch.h>

#ifdef LOUPE_HAVE_HDF5
#include <hdf5.h>
#endif

#include <cstdio>
#include <string>
#include <vector>

#include "format_builders.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/core/npy.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/safetensors.h"
#include "loupe/models/zoo.h"

#ifdef LOUPE_HAVE_HDF5
#include "loupe/data/shapes3d.h"
#endif

namespace loupe {
namespace {

void write_npy_seeds(const fs::path& dir) {
  torch::manual_seed(0);
  write_npy(dir / "f32.npy", torch::rand({2, 3}));
  write_npy(dir / "f64_scalar.npy", torch::tensor(1.5, torch::kDouble));
  write_npy(dir / "i64.npy", torch::arange(4));
  write_npy(dir / "i32.npy", torch::arange(4, torch::kInt).view({2, 2}));
  write_npy(dir / "u8.npy", torch::arange(6, torch::kUInt8).view({3, 1, 2}));
  write_npy(dir / "bool.npy", torch::tensor({true, false, true}));
  write_npy(dir / "empty.npy", torch::zeros({0, 3}));
  // Format 2.0: a 4-byte header length instead of 2.
  const std::string v1 = encode_npy(torch::arange(3, torch::kInt));
  std::string v2 = v1.substr(0, 6) + "\x02\x00" + v1.substr(8, 2) + std::string(2, '\0') + v1.substr(10);
  write_file_atomic(dir / "v2.npy", v2);
}

void write_safetensors_seeds(const fs::path& dir) {
  torch::manual_seed(0);
  SafeTensors st;
  st.tensors["weight"] = torch::rand({2, 3});
  st.tensors["bias"] = torch::rand({3}, torch::kDouble);
  st.tensors["half"] = torch::rand({2}).to(torch::kHalf);
  st.tensors["bf16"] = torch::rand({2}).to(torch::kBFloat16);
  st.tensors["steps"] = torch::arange(3);
  st.tensors["mask"] = torch::tensor({true, false});
  st.tensors["bytes"] = torch::arange(4, torch::kUInt8);
  st.tensors["small"] = torch::arange(2, torch::kShort);
  st.tensors["signed"] = torch::arange(2, torch::kChar);
  st.tensors["ints"] = torch::arange(2, torch::kInt);
  st.tensors["empty"] = torch::zeros({0, 4});
  st.metadata["format"] = "pt";
  write_safetensors(dir / "mixed.safetensors", st);
  write_safetensors(dir / "nothing.safetensors", SafeTensors{});
  SafeTensors one;
  one.tensors["x"] = torch::ones({1});
  write_safetensors(dir / "one.safetensors", one);
}

void write_idx_seeds(const fs::path& dir) {
  std::vector<uint8_t> pixels(3 * 4 * 5);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  const std::string images = test::idx_bytes({3, 4, 5}, pixels);
  const std::string labels = test::idx_bytes({6}, {0, 1, 2, 9, 8, 7});
  write_file_atomic(dir / "images-idx3-ubyte", images);
  write_file_atomic(dir / "labels-idx1-ubyte", labels);
  write_file_atomic(dir / "images-idx3-ubyte.gz", test::gzip_bytes(images));
  // gzip allows concatenated members; the reader joins them.
  write_file_atomic(dir / "two-members.gz", test::gzip_bytes(labels.substr(0, 7)) + test::gzip_bytes(labels.substr(7)));
}

void write_image_seeds(const fs::path& dir) {
  torch::manual_seed(0);
  for (int64_t c = 1; c <= 4; ++c)
    write_png(dir / ("c" + std::to_string(c) + ".png"), torch::randint(0, 256, {c, 3, 5}, torch::kUInt8));
  // What loupe never writes: palette with transparency, 1-bit and 16-bit gray, Adam7.
  const std::string plte("\xff\x00\x00\x00\x00\xff", 6);
  write_file_atomic(dir / "palette.png", test::hand_png(2, 1, 8, 3, std::string("\x00\x00\x01", 3),
                                                        {{"PLTE", plte}, {"tRNS", std::string("\xff\x80", 2)}}));
  write_file_atomic(dir / "gray1.png", test::hand_png(8, 1, 1, 0, std::string("\x00\xb0", 2)));
  write_file_atomic(dir / "gray16.png", test::hand_png(2, 1, 16, 0, std::string("\x00\x12\x34\xff\xff", 5)));
  // A 1x1 interlaced image has one pixel in Adam7's first pass and nothing in the others.
  write_file_atomic(dir / "adam7.png", test::hand_png(1, 1, 8, 2, std::string("\x00\x10\x20\x30", 4), {}, true));
  std::vector<unsigned char> pixels(8 * 8 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 13);
  write_file_atomic(dir / "gray.jpg", test::encode_jpeg(pixels, 8, 8, 1, 90));
  write_file_atomic(dir / "rgb.jpg", test::encode_jpeg(pixels, 8, 8, 3, 75));
  write_file_atomic(dir / "progressive.jpg", test::encode_jpeg(pixels, 8, 8, 3, 75, /*progressive=*/true));
  write_file_atomic(dir / "cmyk.jpg", test::encode_jpeg(pixels, 8, 8, 4, 75));
}

void write_checkpoint_seeds(const fs::path& dir) {
  torch::manual_seed(0);
  const ModelSpec spec{"small_cnn", 1, 2};
  auto model = make_model(spec);
  save_checkpoint(dir / "small_cnn.ckpt", *model, spec, nullptr, 3, "{\"loss\": [1.0]}");
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  save_checkpoint(dir / "small_cnn_sgd.ckpt", *model, spec, &sgd, 4);
}

#ifdef LOUPE_HAVE_HDF5
// images uint8 [n,64,64,3] (deflated in chunks when `chunked`) and labels float64 [n,6].
void write_shapes3d(const fs::path& path, hsize_t n, bool chunked) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t image_dims[4] = {n, 64, 64, 3}, label_dims[2] = {n, 6};
  std::vector<uint8_t> pixels(n * 64 * 64 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i / 4096);
  std::vector<double> labels;
  for (hsize_t row = 0; row < n; ++row)
    for (int64_t f = 0; f < 6; ++f) labels.push_back(shapes3d_factor_values(f)[row % 2]);
  const hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    const hsize_t chunk[4] = {1, 64, 64, 3};
    H5Pset_chunk(properties, 4, chunk);
    H5Pset_deflate(properties, 9);
  }
  const hid_t image_space = H5Screate_simple(4, image_dims, nullptr);
  const hid_t images = H5Dcreate2(file, "images", H5T_NATIVE_UINT8, image_space, H5P_DEFAULT, properties, H5P_DEFAULT);
  H5Dwrite(images, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data());
  const hid_t label_space = H5Screate_simple(2, label_dims, nullptr);
  const hid_t label_set =
      H5Dcreate2(file, "labels", H5T_NATIVE_DOUBLE, label_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(label_set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data());
  for (hid_t id : {images, label_set}) H5Dclose(id);
  for (hid_t id : {image_space, label_space}) H5Sclose(id);
  H5Pclose(properties);
  H5Fclose(file);
}
#endif

}  // namespace
}  // namespace loupe

int main(int argc, char** argv) {
  using namespace loupe;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const auto folder = [&](const std::string& harness) {
    fs::create_directories(out / harness);
    return out / harness;
  };
  write_npy_seeds(folder("npy"));
  write_safetensors_seeds(folder("safetensors"));
  write_idx_seeds(folder("idx"));
  write_image_seeds(folder("image"));
  write_checkpoint_seeds(folder("checkpoint"));
#ifdef LOUPE_HAVE_HDF5
  write_shapes3d(folder("shapes3d_h5") / "contiguous.h5", 1, false);
  write_shapes3d(folder("shapes3d_h5") / "chunked.h5", 2, true);
#endif
  return 0;
}
