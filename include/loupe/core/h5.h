// loupe's own HDF5 files (the results of dataset audits): a small RAII layer over the
// HDF5 C library. Datasets grow along their first axis ("rows": one per image), are
// chunked and gzip-compressed, and are read back by row ranges; attributes live on the
// root group. Errors are loupe::Errors naming the file and the dataset or attribute.
// Built without HDF5, every call but available() is a loupe::Error saying so.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "loupe/core/fs.h"

namespace loupe::h5 {

bool available();  // true when loupe was built with HDF5

class File {
 public:
  // Creates (truncating) a file, or opens one; a file that is not HDF5 is an error.
  static File create(const fs::path& path);
  static File open(const fs::path& path);
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const fs::path& path() const;
  bool has(const std::string& name) const;  // a dataset or group, e.g. "maps/gradcam"

  // An empty dataset of rows shaped `row_shape` (float32, float64, int64 or uint8),
  // chunked by `chunk_rows` rows, gzip level `gzip` (0 = none). Missing groups on the
  // way ("maps/") are created.
  void create_rows(const std::string& name, torch::ScalarType dtype, const std::vector<int64_t>& row_shape,
                   int64_t chunk_rows, int gzip = 4);
  void create_string_rows(const std::string& name, int64_t chunk_rows);  // UTF-8, any length
  int64_t rows(const std::string& name) const;
  std::vector<int64_t> row_shape(const std::string& name) const;
  torch::ScalarType dtype(const std::string& name) const;  // of a numeric dataset
  // Appends rows [k, row_shape...] (converted to the dataset's type; k may be 0).
  void append(const std::string& name, const torch::Tensor& rows);
  void append_strings(const std::string& name, const std::vector<std::string>& rows);
  // Rows [first, first + count) as a contiguous CPU tensor of the dataset's type.
  torch::Tensor read(const std::string& name, int64_t first, int64_t count) const;
  torch::Tensor read_all(const std::string& name) const { return read(name, 0, rows(name)); }
  std::vector<std::string> read_strings(const std::string& name, int64_t first, int64_t count) const;
  // Names directly below a group ("maps"), sorted.
  std::vector<std::string> children(const std::string& group) const;

  void set_attr(const std::string& key, int64_t value);
  void set_attr(const std::string& key, const std::string& value);
  bool has_attr(const std::string& key) const;
  int64_t attr_int(const std::string& key) const;
  std::string attr_string(const std::string& key) const;

  void flush();
  void close();  // also done by the destructor; errors surface here, not there

 private:
  struct State;
  explicit File(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace loupe::h5
