#ifdef LOUPE_HAVE_HDF5

#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>

#include <fstream>
#include <tuple>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/data/shapes3d.h"
#include "loupe/data/shapes3d_h5.h"

namespace loupe {
namespace {

// Writes `data` as a dataset `name` of the given HDF5 type and dims (nullptr skips it).
void write_dataset(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& dims, const void* data,
                   hid_t properties = H5P_DEFAULT) {
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, properties, H5P_DEFAULT);
  H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(set);
  H5Sclose(space);
}

struct FileSpec {
  std::vector<hsize_t> image_dims = {4, 64, 64, 3};
  bool with_labels = true;
  double first_hue = 0.0;       // floor hue of row 0
  bool compact_labels = false;  // labels stored inside the object header
};

// Four rows, in no particular order, with the factor values 3dshapes.h5 stores;
// row i's image is filled with the byte 10·i + 1.
const std::vector<std::vector<int64_t>> kRows = {
    {0, 3, 7, 4, 2, 7}, {9, 9, 9, 7, 3, 14}, {0, 0, 0, 0, 0, 0}, {5, 1, 2, 3, 1, 6}};

fs::path write_file(const std::string& name, const FileSpec& spec = {}) {
  const auto path = fs::temp_directory_path() / ("loupe_test_" + name + ".h5");
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t count = 1;
  for (auto d : spec.image_dims) count *= d;
  std::vector<uint8_t> images(count);
  for (size_t i = 0; i < count; ++i) images[i] = static_cast<uint8_t>(10 * (i / (count / spec.image_dims[0])) + 1);
  write_dataset(file, "images", H5T_NATIVE_UINT8, spec.image_dims, images.data());
  if (spec.with_labels) {
    std::vector<double> labels;
    for (const auto& row : kRows)
      for (int64_t f = 0; f < 6; ++f) labels.push_back(shapes3d_factor_values(f)[row[f]]);
    labels[0] = spec.first_hue;
    const hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    if (spec.compact_labels) H5Pset_layout(properties, H5D_COMPACT);
    write_dataset(file, "labels", H5T_NATIVE_DOUBLE, {4, 6}, labels.data(), properties);
    H5Pclose(properties);
  }
  H5Fclose(file);
  return path;
}

std::string h5_error_of(const fs::path& path) {
  try {
    Shapes3DFile file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Shapes3DFile, ReadsLabelsAsFactorsAndImagesLazily) {
  const Shapes3DFile file(write_file("ok"));
  ASSERT_EQ(file.size(), 4);
  EXPECT_TRUE(torch::equal(
      file.factors(torch::arange(4)),
      torch::tensor(std::vector<int64_t>{0, 3, 7, 4, 2, 7, 9, 9, 9, 7, 3, 14, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 1, 6})
          .reshape({4, 6})));
  EXPECT_TRUE(torch::equal(file.index_of(file.factors(torch::tensor({3L, 1L}))), torch::tensor({3L, 1L})));
  EXPECT_THROW(file.index_of(torch::tensor({1L, 1L, 1L, 1L, 1L, 1L}).reshape({1, 6})), Error);
  // Out of order with a repeat: two runs (0..1 and 3) read, then permuted back.
  const auto batch = file.get(torch::tensor({3L, 0L, 1L, 3L}));
  ASSERT_EQ(batch.images.sizes(), (torch::IntArrayRef{4, 3, 64, 64}));
  const std::vector<double> expected = {31, 1, 11, 31};
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(batch.images[i].min().item<float>(), expected[i] / 255.0);
    EXPECT_FLOAT_EQ(batch.images[i].max().item<float>(), expected[i] / 255.0);
  }
  EXPECT_TRUE(torch::equal(batch.labels, torch::tensor({1L, 2L, 3L, 1L})));  // shapes
  EXPECT_EQ(file.class_names()[2], "sphere");
}

TEST(Shapes3DFile, ClearErrors) {
  EXPECT_NE(h5_error_of("/nonexistent/3dshapes.h5").find("not found"), std::string::npos);
  const auto text = fs::temp_directory_path() / "loupe_test_not_h5.h5";
  std::ofstream(text) << "not an hdf5 file";
  EXPECT_NE(h5_error_of(text).find("not an HDF5 file"), std::string::npos);
  FileSpec no_labels;
  no_labels.with_labels = false;
  EXPECT_NE(h5_error_of(write_file("no_labels", no_labels)).find("missing dataset 'labels'"), std::string::npos);
  FileSpec small;
  small.image_dims = {4, 32, 32, 3};
  const auto m = h5_error_of(write_file("small", small));
  EXPECT_NE(m.find("[4,32,32,3]"), std::string::npos) << m;
  FileSpec off_grid;
  off_grid.first_hue = 0.05;  // between two hue values
  const auto m2 = h5_error_of(write_file("off_grid", off_grid));
  EXPECT_NE(m2.find("row 0"), std::string::npos) << m2;
  EXPECT_NE(m2.find("floor_hue"), std::string::npos) << m2;
  const Shapes3DFile file(write_file("ok"));
  EXPECT_THROW(file.get(torch::tensor({4L})), Error);
}

// The file's bytes with the one occurrence of `from` replaced by `to` (same length):
// how the tests below reproduce a field that fuzz/fuzz_shapes3d_h5 corrupted.
fs::path patched_copy(const fs::path& path, const std::string& from, const std::string& to) {
  std::string bytes = read_file(path);
  const size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(bytes.find(from, at + 1), std::string::npos) << "the pattern must occur once";
  if (at != std::string::npos) bytes.replace(at, from.size(), to);
  const auto out = path.parent_path() / ("patched_" + path.filename().string());
  write_file_atomic(out, bytes);
  return out;
}

// The datatype message of an IEEE little-endian float64 (version 1, class 1, size 8).
const std::string kFloat64Message("\x11\x20\x3f\x00\x08\x00\x00\x00", 8);

// Found by fuzz/fuzz_shapes3d_h5: a labels datatype whose size field says 3690987528
// (0xDC000008) bytes made H5Dread allocate 3.7 GB per row; 2048 bytes made libhdf5 copy
// from a null buffer. Only element sizes of 1 to 8 bytes are read.
TEST(Shapes3DFile, LabelTypeOfImplausibleSizeIsRefused) {
  const auto path = write_file("type_size");
  for (const auto& size : {std::string("\x08\x00\x00\xdc", 4), std::string("\x00\x08\x00\x00", 4)}) {
    const auto bad = patched_copy(path, kFloat64Message, kFloat64Message.substr(0, 4) + size);
    const auto m = h5_error_of(bad);
    EXPECT_NE(m.find(bad.string()), std::string::npos) << m;
    EXPECT_NE(m.find("dataset 'labels' holds"), std::string::npos) << m;
    EXPECT_NE(m.find("-byte floats, expected float64"), std::string::npos) << m;
  }
}

// Found by fuzz/fuzz_shapes3d_h5: compact labels whose layout message stores 0 bytes
// for a [4,6] float64 dataset made H5Dread memcpy from a null pointer (SIGSEGV).
TEST(Shapes3DFile, StorageSmallerThanTheShapeIsRefused) {
  FileSpec compact;
  compact.compact_labels = true;
  const auto path = write_file("compact", compact);
  EXPECT_EQ(Shapes3DFile(path).size(), 4);
  // Compact layout message: version 3, class 0, size 192 (4 x 6 x 8 bytes) little-endian.
  const auto bad = patched_copy(path, std::string("\x03\x00\xc0\x00", 4), std::string("\x03\x00\x00\x00", 4));
  const auto m = h5_error_of(bad);
  EXPECT_NE(m.find("dataset 'labels' stores 0 bytes but its shape and type need 192"), std::string::npos) << m;
}

// Chunked datasets need no storage until written, so a header may declare 2^40 rows in
// a few kilobytes; reading the labels would then allocate 48 TB. Rows are checked
// against the file's size (deflate's 1032:1 at best) first.
TEST(Shapes3DFile, MoreRowsThanTheFileCanHoldIsRefused) {
  const auto path = fs::temp_directory_path() / "loupe_test_sparse.h5";
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t rows = hsize_t{1} << 40;
  const std::vector<hsize_t> image_dims = {rows, 64, 64, 3}, image_chunk = {1, 64, 64, 3};
  const std::vector<hsize_t> label_dims = {rows, 6}, label_chunk = {1024, 6};
  for (const auto& [name, type, dims, chunk] :
       {std::make_tuple("images", H5T_NATIVE_UINT8, image_dims, image_chunk),
        std::make_tuple("labels", H5T_NATIVE_DOUBLE, label_dims, label_chunk)}) {
    const hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(properties, static_cast<int>(chunk.size()), chunk.data());
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    H5Dclose(H5Dcreate2(file, name, type, space, H5P_DEFAULT, properties, H5P_DEFAULT));
    H5Sclose(space);
    H5Pclose(properties);
  }
  H5Fclose(file);
  const auto m = h5_error_of(path);
  EXPECT_NE(m.find("datasets declare 1099511627776 rows, more than its"), std::string::npos) << m;
}

}  // namespace
}  // namespace loupe

#endif  // LOUPE_HAVE_HDF5
