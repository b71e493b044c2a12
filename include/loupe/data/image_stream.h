// Images read a batch at a time, for datasets of any size: memory is bounded by the
// batch, not the dataset. Three sources behind one interface:
//   - image files (PNG/JPEG) or folders of them, in the sorted order of list_images;
//     a folder whose subfolders hold the images is a labelled image folder (ImageFolder:
//     classes are the subfolder names, sorted);
//   - an IDX images file (MNIST's "...-images-idx3-ubyte", plain or .gz), labels from its
//     "...-labels-idx1-ubyte" twin when that exists; read forward with zlib, never whole;
//   - an HDF5 file "images.h5" (or "file.h5:dataset"): uint8 [N,H,W], [N,H,W,C] (0-255)
//     or float32 [N,C,H,W] (0-1) read by hyperslab; labels from an integer "labels"
//     dataset [N] when present.
// Every image comes out float [C,H,W] in [0,1] with the asked channels (gray replicated,
// RGB to luma) and size.
#pragma once

#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"

namespace loupe {

struct ImageStreamOptions {
  int64_t channels = 3;  // 1 or 3
  int64_t size = 0;      // resize to size x size; 0 = keep (then all images must share one size)
  // clang-format off
  ImageStreamOptions& set_channels(int64_t v) { channels = v; return *this; }
  ImageStreamOptions& set_size(int64_t v) { size = v; return *this; }
  // clang-format on
};

class ImageStream {
 public:
  virtual ~ImageStream() = default;
  virtual int64_t size() const = 0;
  // A stable name for image i: its file path, or "<file>#<index>" for IDX/HDF5.
  virtual std::string id(int64_t i) const = 0;
  // float [B,C,H,W] for the given positions (fastest in ascending order).
  virtual torch::Tensor read(const std::vector<int64_t>& positions) = 0;
  // int64 [B] class labels, when the source has them.
  virtual bool has_labels() const { return false; }
  virtual torch::Tensor labels(const std::vector<int64_t>& positions);
  virtual std::vector<std::string> class_names() const { return {}; }
  // What was opened, for reports: "IDX file t10k-images-idx3-ubyte.gz (10000 images, 28x28)".
  virtual std::string describe() const = 0;
  // The [H,W] of every image when known without reading them all (IDX, HDF5, or `size`).
  virtual std::optional<std::pair<int64_t, int64_t>> image_size() const = 0;
};

// `inputs` as `loupe explain --images` takes them: one IDX or HDF5 file, or any mix of
// image files and folders. Empty inputs, unknown formats, a truncated IDX header and
// unsupported HDF5 layouts are loupe::Errors naming the input.
std::unique_ptr<ImageStream> open_image_stream(const std::vector<std::string>& inputs,
                                               const ImageStreamOptions& options);

// A labelled stream as a Dataset (`loupe eval --images` streams through it): get()
// reads only the asked batch. Labels outside [0, num_classes) are errors naming the
// image; class names are the stream's (class folders) or "0".."K-1".
class StreamDataset : public Dataset {
 public:
  StreamDataset(ImageStream& stream, int64_t num_classes);
  int64_t size() const override { return stream_.size(); }
  Batch get(const torch::Tensor& indices) const override;
  std::vector<std::string> class_names() const override { return classes_; }
  std::array<int64_t, 3> image_shape() const override { return shape_; }

 private:
  ImageStream& stream_;
  std::vector<std::string> classes_;
  std::array<int64_t, 3> shape_{};
};

// True for a path named like an IDX images file ("*idx3-ubyte", "*idx3-ubyte.gz").
bool is_idx_images_path(const fs::path& path);
// True for "*.h5" / "*.hdf5", with an optional ":dataset" suffix.
bool is_hdf5_images_spec(const std::string& input);

}  // namespace loupe
