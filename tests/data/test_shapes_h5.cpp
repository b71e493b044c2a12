#ifdef LOUPE_HAVE_HDF5

#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>

#include <fstream>

#include "loupe/core/error.h"
#include "loupe/data/shapes3d.h"
#include "loupe/data/shapes3d_h5.h"

namespace loupe {
namespace {

// Writes `data` as a dataset `name` of the given HDF5 type and dims (nullptr skips it).
void write_dataset(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& dims, const void* data) {
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(set);
  H5Sclose(space);
}

struct FileSpec {
  std::vector<hsize_t> image_dims = {4, 64, 64, 3};
  bool with_labels = true;
  double first_hue = 0.0;  // floor hue of row 0
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
    write_dataset(file, "labels", H5T_NATIVE_DOUBLE, {4, 6}, labels.data());
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

}  // namespace
}  // namespace loupe

#endif  // LOUPE_HAVE_HDF5
