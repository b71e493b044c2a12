#include "loupe/data/shapes3d_h5.h"

#ifdef LOUPE_HAVE_HDF5

#include <hdf5.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "loupe/core/error.h"
#include "loupe/data/shapes3d.h"

namespace loupe {
namespace {

constexpr int64_t kH5Side = 64, kH5Factors = 6;
constexpr uint64_t kH5MaxCompression = 1032;  // deflate's limit, the filter 3dshapes.h5 uses

// Silences HDF5's own error printing while alive: failures become loupe::Error instead.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// Closes an HDF5 id on scope exit.
struct Owned {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Owned() {
    if (id >= 0) close(id);
  }
};

std::vector<hsize_t> dims_of(hid_t dataset) {
  Owned space{H5Dget_space(dataset), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return dims;
}

std::string dims_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// libhdf5 1.10 trusts the type size and the storage size in a dataset's header:
// a "float" of 3.6 GB or a compact dataset storing fewer bytes than its shape needs
// makes H5Dread allocate gigabytes or copy from a null buffer. Both are checked here
// before any read. Stored elements are at most 8 bytes (uint8 and float64 expected).
void check_h5_storage(hid_t dataset, const char* name, H5T_class_t expected_class, const char* expected_type,
                      uint64_t elements, const fs::path& path) {
  Owned type{H5Dget_type(dataset), H5Tclose};
  const size_t element_size = H5Tget_size(type.id);
  const H5T_class_t type_class = H5Tget_class(type.id);
  const char* class_name = type_class == H5T_INTEGER ? "integers" : type_class == H5T_FLOAT ? "floats" : "non-numbers";
  LOUPE_CHECK(type_class == expected_class && element_size >= 1 && element_size <= 8, "Shapes3D file ", path,
              ": dataset '", name, "' holds ", element_size, "-byte ", class_name, ", expected ", expected_type);
  Owned properties{H5Dget_create_plist(dataset), H5Pclose};
  const H5D_layout_t layout = H5Pget_layout(properties.id);
  if (layout == H5D_COMPACT || layout == H5D_CONTIGUOUS) {
    const uint64_t stored = H5Dget_storage_size(dataset), needed = elements * element_size;
    LOUPE_CHECK(stored == needed, "Shapes3D file ", path, ": dataset '", name, "' stores ", stored,
                " bytes but its shape and type need ", needed, " (corrupt file)");
  }
}

// Label values → factor indices: the nearest grid value, which must lie within 1% of a step.
torch::Tensor to_factor_indices(const torch::Tensor& labels, const fs::path& path) {
  auto out = torch::empty(labels.sizes(), torch::kLong);
  for (int64_t f = 0; f < kH5Factors; ++f) {
    const auto values = shapes3d_factor_values(f);
    const double v0 = values.front(), step = values[1] - values[0];
    const auto col = labels.select(1, f);
    const auto idx = ((col - v0) / step).round();
    const auto ok = (idx >= 0)
                        .logical_and(idx < static_cast<double>(values.size()))
                        .logical_and(((col - v0) - idx * step).abs() <= 0.01 * step);
    if (!ok.all().item<bool>()) {
      const int64_t row = ok.logical_not().nonzero()[0][0].item<int64_t>();
      fail("Shapes3D file ", path, ": labels row ", row, " has ", shapes3d_factor_names()[f], " = ",
           col[row].item<double>(), ", expected one of the ", values.size(), " values ", v0, " … ", values.back());
    }
    out.select(1, f).copy_(idx);
  }
  return out;
}

}  // namespace

struct Shapes3DFile::Handles {
  hid_t file = -1, images = -1;
  ~Handles() {
    if (images >= 0) H5Dclose(images);
    if (file >= 0) H5Fclose(file);
  }
};

Shapes3DFile::Shapes3DFile(const fs::path& path, const std::string& label_factor_name)
    : h5_(std::make_unique<Handles>()), path_(path) {
  label_factor_ = factor_index(label_factor_name);
  QuietHdf5 quiet;
  LOUPE_CHECK(fs::is_regular_file(path), "Shapes3D file ", path, ": not found; expected DeepMind's 3dshapes.h5");
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  LOUPE_CHECK(is_hdf5 > 0, "Shapes3D file ", path, ": not an HDF5 file (corrupt or another format)");
  h5_->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  LOUPE_CHECK(h5_->file >= 0, "Shapes3D file ", path, ": HDF5 could not open it");
  for (const char* name : {"images", "labels"})
    LOUPE_CHECK(H5Lexists(h5_->file, name, H5P_DEFAULT) > 0, "Shapes3D file ", path, ": missing dataset '", name,
                "'; expected 'images' uint8 [N,64,64,3] and 'labels' float64 [N,6]");
  h5_->images = H5Dopen2(h5_->file, "images", H5P_DEFAULT);
  Owned labels{H5Dopen2(h5_->file, "labels", H5P_DEFAULT), H5Dclose};
  LOUPE_CHECK(h5_->images >= 0 && labels.id >= 0, "Shapes3D file ", path, ": 'images' or 'labels' is not a dataset");

  const auto image_dims = dims_of(h5_->images), label_dims = dims_of(labels.id);
  LOUPE_CHECK(image_dims.size() == 4 && image_dims[1] == kH5Side && image_dims[2] == kH5Side && image_dims[3] == 3,
              "Shapes3D file ", path, ": dataset 'images' has shape ", dims_text(image_dims), ", expected [N,64,64,3]");
  LOUPE_CHECK(label_dims.size() == 2 && label_dims[0] == image_dims[0] && label_dims[1] == kH5Factors, "Shapes3D file ",
              path, ": dataset 'labels' has shape ", dims_text(label_dims), ", expected [", image_dims[0], ",6]");
  // The labels are read whole: their rows must fit in the file, compressed at most
  // kH5MaxCompression:1, before N is trusted with an allocation.
  const uint64_t file_bytes = fs::file_size(path), rows = image_dims[0];
  constexpr uint64_t kLabelRowBytes = kH5Factors * sizeof(double);
  LOUPE_CHECK(rows <= file_bytes * kH5MaxCompression / kLabelRowBytes, "Shapes3D file ", path, ": datasets declare ",
              rows, " rows, more than its ", file_bytes, "-byte file can hold");
  check_h5_storage(h5_->images, "images", H5T_INTEGER, "uint8", rows * kH5Side * kH5Side * 3, path);
  check_h5_storage(labels.id, "labels", H5T_FLOAT, "float64", rows * kH5Factors, path);

  const auto n = static_cast<int64_t>(rows);
  auto values = torch::empty({n, kH5Factors}, torch::kDouble);
  LOUPE_CHECK(H5Dread(labels.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data_ptr<double>()) >= 0,
              "Shapes3D file ", path, ": could not read dataset 'labels'");
  factors_ = to_factor_indices(values, path);
  const auto codes = mixed_radix_encode(factors_, shapes3d_factor_sizes());
  row_of_ = torch::full({FactorDataset::size()}, -1, torch::kLong);
  auto* row = row_of_.data_ptr<int64_t>();
  const auto* code = codes.data_ptr<int64_t>();
  for (int64_t i = n - 1; i >= 0; --i) row[code[i]] = i;  // the first row wins for repeated labels
}

Shapes3DFile::~Shapes3DFile() = default;

std::vector<std::string> Shapes3DFile::factor_names() const { return shapes3d_factor_names(); }
std::vector<int64_t> Shapes3DFile::factor_sizes() const { return shapes3d_factor_sizes(); }
std::vector<std::string> Shapes3DFile::value_names(int64_t factor) const { return shapes3d_value_names(factor); }

torch::Tensor Shapes3DFile::factors(const torch::Tensor& indices) const {
  LOUPE_CHECK(indices.dim() == 1, "Shapes3D file ", path_, " indices: expected int64 [B], got ", indices.sizes());
  if (indices.numel() > 0) {
    const int64_t lo = indices.min().item<int64_t>(), hi = indices.max().item<int64_t>();
    LOUPE_CHECK(lo >= 0 && hi < size(), "Shapes3D file ", path_, " indices: found [", lo, ",", hi, "], expected [0,",
                size(), ")");
  }
  return factors_.index_select(0, indices.to(torch::kLong).cpu());
}

torch::Tensor Shapes3DFile::index_of(const torch::Tensor& factor_vectors) const {
  check_factors(factor_vectors, shapes3d_factor_sizes(), "Shapes3D file factor vectors");
  const auto rows = row_of_.index_select(0, mixed_radix_encode(factor_vectors.cpu(), shapes3d_factor_sizes()));
  if (rows.numel() > 0 && rows.min().item<int64_t>() < 0) {
    const int64_t missing = (rows < 0).nonzero()[0][0].item<int64_t>();
    std::string text;
    for (int64_t f = 0; f < kH5Factors; ++f)
      text += (f ? "," : "") + std::to_string(factor_vectors[missing][f].item<int64_t>());
    fail("Shapes3D file ", path_, ": no row has the factor vector (", text, ") (vector ", missing, " of the query)");
  }
  return rows;
}

Batch Shapes3DFile::get(const torch::Tensor& indices) const {
  const auto f = factors(indices);
  const auto idx = indices.to(torch::kLong).cpu().contiguous();
  std::vector<int64_t> wanted(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
  std::vector<int64_t> rows = wanted;
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());

  // One hyperslab read per run of consecutive rows, into a buffer in sorted order.
  auto buffer = torch::empty({static_cast<int64_t>(rows.size()), kH5Side, kH5Side, 3}, torch::kUInt8);
  QuietHdf5 quiet;
  Owned file_space{H5Dget_space(h5_->images), H5Sclose};
  for (size_t start = 0; start < rows.size();) {
    size_t end = start + 1;
    while (end < rows.size() && rows[end] == rows[end - 1] + 1) ++end;
    const hsize_t offset[4] = {static_cast<hsize_t>(rows[start]), 0, 0, 0};
    const hsize_t count[4] = {static_cast<hsize_t>(end - start), kH5Side, kH5Side, 3};
    H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, offset, nullptr, count, nullptr);
    Owned memory{H5Screate_simple(4, count, nullptr), H5Sclose};
    LOUPE_CHECK(H5Dread(h5_->images, H5T_NATIVE_UINT8, memory.id, file_space.id, H5P_DEFAULT,
                        buffer[static_cast<int64_t>(start)].data_ptr<uint8_t>()) >= 0,
                "Shapes3D file ", path_, ": could not read images ", rows[start], "…", rows[end - 1]);
    start = end;
  }
  std::vector<int64_t> position(wanted.size());
  for (size_t i = 0; i < wanted.size(); ++i)
    position[i] = std::lower_bound(rows.begin(), rows.end(), wanted[i]) - rows.begin();
  const auto images = buffer.index_select(0, torch::tensor(position, torch::kLong));
  return {images.permute({0, 3, 1, 2}).to(torch::kFloat).div_(255.0f), f.select(1, label_factor_).clone()};
}

}  // namespace loupe

#endif  // LOUPE_HAVE_HDF5
