#include "loupe/core/h5.h"

#include <torch/torch.h>

#include "loupe/core/error.h"

#ifdef LOUPE_HAVE_HDF5
#include <hdf5.h>
#endif

namespace loupe::h5 {

#ifdef LOUPE_HAVE_HDF5

namespace {

// HDF5 prints its error stack to stderr by default; loupe reports its own one line.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// One HDF5 identifier, closed with its own close function.
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Id& operator=(Id&&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

hid_t file_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return H5T_IEEE_F32LE;
    case torch::kDouble:
      return H5T_IEEE_F64LE;
    case torch::kLong:
      return H5T_STD_I64LE;
    case torch::kByte:
      return H5T_STD_U8LE;
    default:
      fail("HDF5: element type ", c10::toString(t), " is not stored; expected float32, float64, int64 or uint8");
  }
}

hid_t memory_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return H5T_NATIVE_FLOAT;
    case torch::kDouble:
      return H5T_NATIVE_DOUBLE;
    case torch::kLong:
      return H5T_NATIVE_INT64;
    case torch::kByte:
      return H5T_NATIVE_UINT8;
    default:
      fail("HDF5: element type ", c10::toString(t), " is not stored");
  }
}

std::vector<hsize_t> dims_of(hid_t dataset) {
  Id space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

hid_t string_type() {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

}  // namespace

struct File::State {
  fs::path path;
  hid_t file = -1;

  std::string where(const std::string& name) const { return path.string() + " (" + name + ")"; }

  Id dataset(const std::string& name) const {
    QuietErrors quiet;
    LOUPE_CHECK(exists(name), "HDF5 file ", path.string(), ": no dataset '", name, "'");
    Id d(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
    LOUPE_CHECK(d.ok(), "HDF5 file ", where(name), ": cannot open the dataset");
    return d;
  }

  torch::ScalarType dtype_of(hid_t dataset, const std::string& name) const {
    Id type(H5Dget_type(dataset), H5Tclose);
    const auto cls = H5Tget_class(type.get());
    const size_t size = H5Tget_size(type.get());
    if (cls == H5T_FLOAT && size == 4) return torch::kFloat;
    if (cls == H5T_FLOAT && size == 8) return torch::kDouble;
    if (cls == H5T_INTEGER && size == 8) return torch::kLong;
    if (cls == H5T_INTEGER && size == 1) return torch::kByte;
    fail("HDF5 file ", where(name), ": elements are neither float32, float64, int64 nor uint8");
  }

  // H5Lexists fails when a group on the way is missing: check each prefix in turn.
  bool exists(const std::string& name) const {
    size_t from = 0;
    while (true) {
      const auto slash = name.find('/', from);
      const auto prefix = name.substr(0, slash);
      if (!prefix.empty() && H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) return true;
      from = slash + 1;
    }
  }
};

bool available() { return true; }

File::File(std::unique_ptr<State> state) : s_(std::move(state)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (s_ && s_->file >= 0) H5Fclose(s_->file);
    s_ = std::move(other.s_);
  }
  return *this;
}
File::~File() {
  if (s_ && s_->file >= 0) {
    QuietErrors quiet;
    H5Fclose(s_->file);
  }
}

File File::create(const fs::path& path) {
  QuietErrors quiet;
  auto s = std::make_unique<State>();
  s->path = path;
  s->file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  LOUPE_CHECK(s->file >= 0, "cannot create HDF5 file ", path.string(),
              ": check that its folder exists and is writable");
  return File(std::move(s));
}

File File::open(const fs::path& path) {
  QuietErrors quiet;
  std::error_code ec;
  LOUPE_CHECK(fs::is_regular_file(path, ec), "HDF5 file ", path.string(), ": not found");
  LOUPE_CHECK(H5Fis_hdf5(path.c_str()) > 0, path.string(), ": not an HDF5 file (truncated or another format)");
  auto s = std::make_unique<State>();
  s->path = path;
  s->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  LOUPE_CHECK(s->file >= 0, "cannot open HDF5 file ", path.string(), " (damaged or truncated?)");
  return File(std::move(s));
}

const fs::path& File::path() const { return s_->path; }

bool File::has(const std::string& name) const {
  QuietErrors quiet;
  return s_->exists(name);
}

void File::create_rows(const std::string& name, torch::ScalarType dtype, const std::vector<int64_t>& row_shape,
                       int64_t chunk_rows, int gzip) {
  QuietErrors quiet;
  LOUPE_CHECK(chunk_rows >= 1, "HDF5 dataset ", s_->where(name), ": chunk rows ", chunk_rows, ", expected >= 1");
  std::vector<hsize_t> dims{0}, max{H5S_UNLIMITED}, chunk{static_cast<hsize_t>(chunk_rows)};
  for (const auto d : row_shape) {
    LOUPE_CHECK(d >= 1, "HDF5 dataset ", s_->where(name), ": row dimension ", d, ", expected >= 1");
    dims.push_back(static_cast<hsize_t>(d));
    max.push_back(static_cast<hsize_t>(d));
    chunk.push_back(static_cast<hsize_t>(d));
  }
  Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max.data()), H5Sclose);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  if (gzip > 0) {
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(std::min(gzip, 9)));
  }
  Id d(H5Dcreate2(s_->file, name.c_str(), file_type(dtype), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
       H5Dclose);
  LOUPE_CHECK(d.ok(), "HDF5 file ", s_->where(name), ": cannot create the dataset (exists already?)");
}

void File::create_string_rows(const std::string& name, int64_t chunk_rows) {
  QuietErrors quiet;
  hsize_t dims = 0, max = H5S_UNLIMITED, chunk = static_cast<hsize_t>(std::max<int64_t>(1, chunk_rows));
  Id space(H5Screate_simple(1, &dims, &max), H5Sclose);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_chunk(dcpl.get(), 1, &chunk);
  H5Pset_deflate(dcpl.get(), 4);
  Id type(string_type(), H5Tclose);
  Id d(H5Dcreate2(s_->file, name.c_str(), type.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT), H5Dclose);
  LOUPE_CHECK(d.ok(), "HDF5 file ", s_->where(name), ": cannot create the dataset (exists already?)");
}

int64_t File::rows(const std::string& name) const {
  const auto d = s_->dataset(name);
  const auto dims = dims_of(d.get());
  return dims.empty() ? 0 : static_cast<int64_t>(dims[0]);
}

std::vector<int64_t> File::row_shape(const std::string& name) const {
  const auto d = s_->dataset(name);
  const auto dims = dims_of(d.get());
  return dims.empty() ? std::vector<int64_t>{} : std::vector<int64_t>(dims.begin() + 1, dims.end());
}

torch::ScalarType File::dtype(const std::string& name) const {
  const auto d = s_->dataset(name);
  return s_->dtype_of(d.get(), name);
}

void File::append(const std::string& name, const torch::Tensor& rows) {
  QuietErrors quiet;
  const auto d = s_->dataset(name);
  auto dims = dims_of(d.get());
  const auto type = s_->dtype_of(d.get(), name);
  LOUPE_CHECK(rows.dim() == static_cast<int64_t>(dims.size()), "HDF5 file ", s_->where(name), ": rows of ",
              rows.dim() - 1, " dimension(s), expected ", dims.size() - 1);
  for (size_t i = 1; i < dims.size(); ++i)
    LOUPE_CHECK(rows.size(static_cast<int64_t>(i)) == static_cast<int64_t>(dims[i]), "HDF5 file ", s_->where(name),
                ": row shape ", rows.sizes().slice(1), " differs from the dataset's");
  const auto k = static_cast<hsize_t>(rows.size(0));
  if (k == 0) return;
  const auto data = rows.to(torch::kCPU, type).contiguous();
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = dims[0];
  count[0] = k;
  dims[0] += k;
  LOUPE_CHECK(H5Dset_extent(d.get(), dims.data()) >= 0, "HDF5 file ", s_->where(name), ": cannot grow the dataset");
  Id file_space(H5Dget_space(d.get()), H5Sclose);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Id memory(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
  LOUPE_CHECK(H5Dwrite(d.get(), memory_type(type), memory.get(), file_space.get(), H5P_DEFAULT, data.data_ptr()) >= 0,
              "HDF5 file ", s_->where(name), ": write failed (disk full?)");
}

void File::append_strings(const std::string& name, const std::vector<std::string>& rows) {
  QuietErrors quiet;
  if (rows.empty()) return;
  const auto d = s_->dataset(name);
  auto dims = dims_of(d.get());
  LOUPE_CHECK(dims.size() == 1, "HDF5 file ", s_->where(name), ": not a list of strings");
  std::vector<const char*> pointers;
  for (const auto& r : rows) pointers.push_back(r.c_str());
  hsize_t start = dims[0], count = rows.size();
  dims[0] += count;
  LOUPE_CHECK(H5Dset_extent(d.get(), dims.data()) >= 0, "HDF5 file ", s_->where(name), ": cannot grow the dataset");
  Id file_space(H5Dget_space(d.get()), H5Sclose);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr);
  Id memory(H5Screate_simple(1, &count, nullptr), H5Sclose);
  Id type(string_type(), H5Tclose);
  LOUPE_CHECK(H5Dwrite(d.get(), type.get(), memory.get(), file_space.get(), H5P_DEFAULT, pointers.data()) >= 0,
              "HDF5 file ", s_->where(name), ": write failed (disk full?)");
}

torch::Tensor File::read(const std::string& name, int64_t first, int64_t count) const {
  QuietErrors quiet;
  const auto d = s_->dataset(name);
  const auto dims = dims_of(d.get());
  LOUPE_CHECK(!dims.empty() && first >= 0 && count >= 0 && first + count <= static_cast<int64_t>(dims[0]), "HDF5 file ",
              s_->where(name), ": rows ", first, "..", first + count, " asked of ", dims.empty() ? 0 : dims[0]);
  const auto type = s_->dtype_of(d.get(), name);
  std::vector<int64_t> shape{count};
  for (size_t i = 1; i < dims.size(); ++i) shape.push_back(static_cast<int64_t>(dims[i]));
  auto out = torch::empty(shape, torch::TensorOptions().dtype(type));
  if (count == 0) return out;
  std::vector<hsize_t> start(dims.size(), 0), n = dims;
  start[0] = static_cast<hsize_t>(first);
  n[0] = static_cast<hsize_t>(count);
  Id file_space(H5Dget_space(d.get()), H5Sclose);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, n.data(), nullptr);
  Id memory(H5Screate_simple(static_cast<int>(n.size()), n.data(), nullptr), H5Sclose);
  LOUPE_CHECK(H5Dread(d.get(), memory_type(type), memory.get(), file_space.get(), H5P_DEFAULT, out.data_ptr()) >= 0,
              "HDF5 file ", s_->where(name), ": read failed (damaged or truncated?)");
  return out;
}

std::vector<std::string> File::read_strings(const std::string& name, int64_t first, int64_t count) const {
  QuietErrors quiet;
  const auto d = s_->dataset(name);
  const auto dims = dims_of(d.get());
  LOUPE_CHECK(dims.size() == 1 && first >= 0 && count >= 0 && first + count <= static_cast<int64_t>(dims[0]),
              "HDF5 file ", s_->where(name), ": strings ", first, "..", first + count, " asked of ",
              dims.empty() ? 0 : dims[0]);
  std::vector<std::string> out;
  if (count == 0) return out;
  hsize_t start = static_cast<hsize_t>(first), n = static_cast<hsize_t>(count);
  Id file_space(H5Dget_space(d.get()), H5Sclose);
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr);
  Id memory(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Id type(string_type(), H5Tclose);
  std::vector<char*> buffer(n, nullptr);
  LOUPE_CHECK(H5Dread(d.get(), type.get(), memory.get(), file_space.get(), H5P_DEFAULT, buffer.data()) >= 0,
              "HDF5 file ", s_->where(name), ": read failed (damaged, truncated, or not strings?)");
  for (char* p : buffer) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type.get(), memory.get(), H5P_DEFAULT, buffer.data());
  return out;
}

std::vector<std::string> File::children(const std::string& group) const {
  QuietErrors quiet;
  std::vector<std::string> names;
  if (!s_->exists(group)) return names;
  Id g(H5Gopen2(s_->file, group.c_str(), H5P_DEFAULT), H5Gclose);
  LOUPE_CHECK(g.ok(), "HDF5 file ", s_->where(group), ": not a group");
  H5G_info_t info;
  H5Gget_info(g.get(), &info);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t size = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(static_cast<size_t>(std::max<ssize_t>(size, 0)) + 1, '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(std::max<ssize_t>(size, 0)));
    names.push_back(name);
  }
  return names;
}

void File::set_attr(const std::string& key, int64_t value) {
  QuietErrors quiet;
  if (H5Aexists(s_->file, key.c_str()) > 0) H5Adelete(s_->file, key.c_str());
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id a(H5Acreate2(s_->file, key.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  LOUPE_CHECK(a.ok() && H5Awrite(a.get(), H5T_NATIVE_INT64, &value) >= 0, "HDF5 file ", s_->where(key),
              ": cannot write the attribute");
}

void File::set_attr(const std::string& key, const std::string& value) {
  QuietErrors quiet;
  if (H5Aexists(s_->file, key.c_str()) > 0) H5Adelete(s_->file, key.c_str());
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id type(string_type(), H5Tclose);
  Id a(H5Acreate2(s_->file, key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  LOUPE_CHECK(a.ok() && H5Awrite(a.get(), type.get(), &p) >= 0, "HDF5 file ", s_->where(key),
              ": cannot write the attribute");
}

bool File::has_attr(const std::string& key) const {
  QuietErrors quiet;
  return H5Aexists(s_->file, key.c_str()) > 0;
}

int64_t File::attr_int(const std::string& key) const {
  QuietErrors quiet;
  LOUPE_CHECK(has_attr(key), "HDF5 file ", s_->path.string(), ": no attribute '", key, "'");
  Id a(H5Aopen(s_->file, key.c_str(), H5P_DEFAULT), H5Aclose);
  Id type(H5Aget_type(a.get()), H5Tclose);
  LOUPE_CHECK(H5Tget_class(type.get()) == H5T_INTEGER, "HDF5 file ", s_->where(key), ": expected an integer");
  int64_t value = 0;
  LOUPE_CHECK(H5Aread(a.get(), H5T_NATIVE_INT64, &value) >= 0, "HDF5 file ", s_->where(key), ": unreadable");
  return value;
}

std::string File::attr_string(const std::string& key) const {
  QuietErrors quiet;
  LOUPE_CHECK(has_attr(key), "HDF5 file ", s_->path.string(), ": no attribute '", key, "'");
  Id a(H5Aopen(s_->file, key.c_str(), H5P_DEFAULT), H5Aclose);
  Id stored(H5Aget_type(a.get()), H5Tclose);
  LOUPE_CHECK(H5Tget_class(stored.get()) == H5T_STRING, "HDF5 file ", s_->where(key), ": expected a string");
  if (H5Tis_variable_str(stored.get()) > 0) {
    Id type(string_type(), H5Tclose);
    char* p = nullptr;
    LOUPE_CHECK(H5Aread(a.get(), type.get(), &p) >= 0, "HDF5 file ", s_->where(key), ": unreadable");
    std::string value = p ? p : "";
    Id space(H5Screate(H5S_SCALAR), H5Sclose);
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, &p);
    return value;
  }
  std::string value(H5Tget_size(stored.get()), '\0');
  LOUPE_CHECK(H5Aread(a.get(), stored.get(), value.data()) >= 0, "HDF5 file ", s_->where(key), ": unreadable");
  return value.substr(0, value.find('\0'));
}

void File::flush() {
  QuietErrors quiet;
  LOUPE_CHECK(H5Fflush(s_->file, H5F_SCOPE_GLOBAL) >= 0, "HDF5 file ", s_->path.string(),
              ": flush failed (disk full?)");
}

void File::close() {
  if (!s_ || s_->file < 0) return;
  QuietErrors quiet;
  const herr_t status = H5Fclose(s_->file);
  s_->file = -1;
  LOUPE_CHECK(status >= 0, "HDF5 file ", s_->path.string(), ": close failed (disk full?)");
}

#else  // built without HDF5

struct File::State {};

namespace {
[[noreturn]] void no_hdf5() { fail("this loupe was built without HDF5 (install libhdf5-dev and rebuild)"); }
}  // namespace

bool available() { return false; }
File::File(std::unique_ptr<State> state) : s_(std::move(state)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;
File File::create(const fs::path&) { no_hdf5(); }
File File::open(const fs::path&) { no_hdf5(); }
const fs::path& File::path() const { no_hdf5(); }
bool File::has(const std::string&) const { no_hdf5(); }
void File::create_rows(const std::string&, torch::ScalarType, const std::vector<int64_t>&, int64_t, int) { no_hdf5(); }
void File::create_string_rows(const std::string&, int64_t) { no_hdf5(); }
int64_t File::rows(const std::string&) const { no_hdf5(); }
std::vector<int64_t> File::row_shape(const std::string&) const { no_hdf5(); }
torch::ScalarType File::dtype(const std::string&) const { no_hdf5(); }
void File::append(const std::string&, const torch::Tensor&) { no_hdf5(); }
void File::append_strings(const std::string&, const std::vector<std::string>&) { no_hdf5(); }
torch::Tensor File::read(const std::string&, int64_t, int64_t) const { no_hdf5(); }
std::vector<std::string> File::read_strings(const std::string&, int64_t, int64_t) const { no_hdf5(); }
std::vector<std::string> File::children(const std::string&) const { no_hdf5(); }
void File::set_attr(const std::string&, int64_t) { no_hdf5(); }
void File::set_attr(const std::string&, const std::string&) { no_hdf5(); }
bool File::has_attr(const std::string&) const { no_hdf5(); }
int64_t File::attr_int(const std::string&) const { no_hdf5(); }
std::string File::attr_string(const std::string&) const { no_hdf5(); }
void File::flush() { no_hdf5(); }
void File::close() {}

#endif

}  // namespace loupe::h5
