#include "loupe/data/image_stream.h"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>

#include "loupe/core/error.h"
#include "loupe/core/h5.h"
#include "loupe/core/image.h"
#include "loupe/data/image_folder.h"
#include "loupe/data/mnist.h"

namespace loupe {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// float [C,H,W] in [0,1] → the asked channels and size.
torch::Tensor conform(torch::Tensor image, const ImageStreamOptions& o) {
  if (image.size(0) != o.channels) {
    if (o.channels == 3 && image.size(0) == 1) {
      image = image.expand({3, -1, -1}).contiguous();
    } else if (o.channels == 1 && image.size(0) == 3) {
      // ITU-R 601 luma, as load_image converts RGB to gray.
      image = (image[0] * 0.299 + image[1] * 0.587 + image[2] * 0.114).unsqueeze(0);
    } else {
      fail("images have ", image.size(0), " channel(s); the model expects ", o.channels);
    }
  }
  if (o.size > 0 && (image.size(1) != o.size || image.size(2) != o.size)) image = resize_image(image, o.size, o.size);
  return image;
}

uint32_t big_endian(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// ---- image files ------------------------------------------------------------------

class FileStream : public ImageStream {
 public:
  FileStream(const std::vector<std::string>& inputs, const ImageStreamOptions& o) : o_(o) {
    for (const auto& input : inputs) {
      const fs::path p(input);
      std::error_code ec;
      // A folder of class subfolders (and no images of its own) is labelled.
      const auto is_folder = [](const fs::directory_entry& e) { return e.is_directory(); };
      if (fs::is_directory(p, ec) && inputs.size() == 1 && list_images(p).empty() &&
          std::any_of(fs::directory_iterator(p, ec), fs::directory_iterator(), is_folder)) {
        auto listed = list_class_folders(p);
        classes_ = std::move(listed.classes);
        files_ = std::move(listed.files);
        labels_ = std::move(listed.labels);
        continue;
      }
      for (const auto& f : list_images(p)) files_.push_back(f);
    }
    LOUPE_CHECK(!files_.empty(), "--images: no PNG or JPEG images found");
  }

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  std::string id(int64_t i) const override { return files_.at(static_cast<size_t>(i)).string(); }
  torch::Tensor read(const std::vector<int64_t>& positions) override {
    std::vector<torch::Tensor> images;
    for (const auto i : positions) {
      const auto& file = files_.at(static_cast<size_t>(i));
      auto img = load_image(file, ImageLoadOptions().set_channels(static_cast<int>(o_.channels)).set_size(o_.size));
      if (!first_size_) first_size_ = {img.size(1), img.size(2)};
      LOUPE_CHECK(img.size(1) == first_size_->first && img.size(2) == first_size_->second, file.string(), ": size ",
                  img.size(1), "x", img.size(2), " differs from the first image's ", first_size_->first, "x",
                  first_size_->second, "; pass --size N to resize all images");
      images.push_back(img);
    }
    return torch::stack(images);
  }
  bool has_labels() const override { return !labels_.empty(); }
  torch::Tensor labels(const std::vector<int64_t>& positions) override {
    auto out = torch::empty({static_cast<int64_t>(positions.size())}, torch::kLong);
    for (size_t k = 0; k < positions.size(); ++k)
      out[static_cast<int64_t>(k)] = labels_.at(static_cast<size_t>(positions[k]));
    return out;
  }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string describe() const override {
    return std::to_string(files_.size()) + " image file(s)" +
           (classes_.empty() ? "" : " in " + std::to_string(classes_.size()) + " class folders");
  }
  std::optional<std::pair<int64_t, int64_t>> image_size() const override {
    if (o_.size > 0) return std::make_pair(o_.size, o_.size);
    return first_size_;
  }
  // The first image's size, read once (explain needs it before the first batch).
  void probe() {
    if (!first_size_) read({0});
  }

 private:
  ImageStreamOptions o_;
  std::vector<fs::path> files_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
  std::optional<std::pair<int64_t, int64_t>> first_size_;
};

// ---- IDX ---------------------------------------------------------------------------

class IdxStream : public ImageStream {
 public:
  IdxStream(const fs::path& path, const ImageStreamOptions& o) : path_(path), o_(o) {
    std::error_code ec;
    LOUPE_CHECK(fs::is_regular_file(path, ec), "--images ", path.string(), ": IDX file not found");
    file_ = gzopen(path.c_str(), "rb");
    LOUPE_CHECK(file_ != nullptr, "--images ", path.string(), ": cannot open");
    unsigned char header[16];
    LOUPE_CHECK(gzread(file_, header, 16) == 16, "--images ", path.string(),
                ": truncated IDX header (16 bytes expected)");
    LOUPE_CHECK(big_endian(header) == 0x00000803, "--images ", path.string(),
                ": not an IDX images file (magic 0x00000803 expected, got 0x", std::hex, big_endian(header), ")");
    n_ = big_endian(header + 4);
    h_ = big_endian(header + 8);
    w_ = big_endian(header + 12);
    LOUPE_CHECK(n_ >= 1 && h_ >= 1 && w_ >= 1 && h_ <= 65536 && w_ <= 65536, "--images ", path.string(),
                ": IDX header declares ", n_, " images of ", h_, "x", w_);
    // The last image must be there: a truncated file fails now, not after hours.
    if (gzdirect(file_)) {
      const auto bytes = static_cast<int64_t>(fs::file_size(path, ec));
      LOUPE_CHECK(bytes == 16 + n_ * h_ * w_, "--images ", path.string(), ": ", bytes, " bytes, expected ",
                  16 + n_ * h_ * w_, " for ", n_, " images of ", h_, "x", w_, " (truncated?)");
    }
    offset_ = 16;
    const auto labels_path = labels_twin(path);
    if (!labels_path.empty()) {
      labels_ = read_idx(labels_path).to(torch::kLong);
      LOUPE_CHECK(labels_.dim() == 1 && labels_.size(0) == n_, labels_path.string(), ": ", labels_.numel(),
                  " labels for ", n_, " images in ", path.string());
    }
  }
  ~IdxStream() override {
    if (file_) gzclose(file_);
  }

  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override { return path_.string() + "#" + std::to_string(i); }
  torch::Tensor read(const std::vector<int64_t>& positions) override {
    std::vector<torch::Tensor> images;
    const int64_t bytes = h_ * w_;
    for (const auto i : positions) {
      LOUPE_CHECK(i >= 0 && i < n_, "IDX image ", i, " asked of ", n_);
      const int64_t at = 16 + i * bytes;
      if (at != offset_) {
        LOUPE_CHECK(gzseek(file_, at, SEEK_SET) == at, path_.string(), ": cannot seek to image ", i, " (truncated?)");
        offset_ = at;
      }
      auto pixels = torch::empty({1, h_, w_}, torch::kByte);
      LOUPE_CHECK(gzread(file_, pixels.data_ptr(), static_cast<unsigned>(bytes)) == bytes, path_.string(), ": image ",
                  i, " is cut short (truncated file)");
      offset_ += bytes;
      images.push_back(conform(pixels.to(torch::kFloat) / 255.0, o_));
    }
    return torch::stack(images);
  }
  bool has_labels() const override { return labels_.defined(); }
  torch::Tensor labels(const std::vector<int64_t>& positions) override {
    return labels_.index_select(0, torch::tensor(positions, torch::kLong));
  }
  std::string describe() const override {
    return "IDX file " + path_.filename().string() + " (" + std::to_string(n_) + " images, " + std::to_string(h_) +
           "x" + std::to_string(w_) + ")";
  }
  std::optional<std::pair<int64_t, int64_t>> image_size() const override {
    if (o_.size > 0) return std::make_pair(o_.size, o_.size);
    return std::make_pair(h_, w_);
  }

 private:
  static fs::path labels_twin(const fs::path& images) {
    auto name = images.filename().string();
    for (const std::string from : {"images-idx3", "images.idx3"}) {
      const auto at = name.find(from);
      if (at == std::string::npos) continue;
      name.replace(at, from.size(), from == "images-idx3" ? "labels-idx1" : "labels.idx1");
      std::error_code ec;
      const auto twin = images.parent_path() / name;
      if (fs::is_regular_file(twin, ec)) return twin;
    }
    return {};
  }

  fs::path path_;
  ImageStreamOptions o_;
  gzFile file_ = nullptr;
  int64_t n_ = 0, h_ = 0, w_ = 0, offset_ = 0;
  torch::Tensor labels_;
};

// ---- HDF5 --------------------------------------------------------------------------

class H5Stream : public ImageStream {
 public:
  H5Stream(const std::string& spec, const ImageStreamOptions& o) : o_(o), file_(open(spec)) {
    LOUPE_CHECK(file_.has(dataset_), "--images ", spec, ": no dataset '", dataset_, "' in ", path_.string());
    shape_ = file_.row_shape(dataset_);
    n_ = file_.rows(dataset_);
    dtype_ = file_.dtype(dataset_);
    const bool u8 = dtype_ == torch::kByte, f32 = dtype_ == torch::kFloat;
    channels_last_ = u8 && (shape_.size() == 2 || (shape_.size() == 3 && (shape_[2] == 1 || shape_[2] == 3)));
    const bool planar = f32 && shape_.size() == 3 && (shape_[0] == 1 || shape_[0] == 3);
    LOUPE_CHECK(n_ >= 1 && (channels_last_ || planar), "--images ", spec, ": dataset '", dataset_, "' holds ", n_,
                " rows of ", shape_, " ", c10::toString(dtype_),
                "; expected uint8 [N,H,W] or [N,H,W,C] (C 1 or 3) or float32 [N,C,H,W]");
    if (file_.has("labels")) {
      labels_ = file_.read_all("labels");
      LOUPE_CHECK(labels_.dim() == 1 && labels_.size(0) == n_ && !labels_.is_floating_point(), path_.string(),
                  ": 'labels' must be integers [", n_, "]");
      labels_ = labels_.to(torch::kLong);
    }
  }
  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override { return path_.string() + "#" + std::to_string(i); }
  torch::Tensor read(const std::vector<int64_t>& positions) override {
    std::vector<torch::Tensor> images;
    // Consecutive positions are read as one hyperslab.
    for (size_t k = 0; k < positions.size();) {
      size_t run = 1;
      while (k + run < positions.size() && positions[k + run] == positions[k] + static_cast<int64_t>(run)) ++run;
      auto rows = file_.read(dataset_, positions[k], static_cast<int64_t>(run));
      if (rows.is_floating_point())
        check_finite(rows, path_.string() + ":" + dataset_ + " rows from " + std::to_string(positions[k]));
      if (channels_last_) {
        if (rows.dim() == 3) rows = rows.unsqueeze(3);
        rows = rows.permute({0, 3, 1, 2}).to(torch::kFloat) / 255.0;
      }
      for (int64_t r = 0; r < rows.size(0); ++r) images.push_back(conform(rows[r].clamp(0, 1), o_));
      k += run;
    }
    return torch::stack(images);
  }
  bool has_labels() const override { return labels_.defined(); }
  torch::Tensor labels(const std::vector<int64_t>& positions) override {
    return labels_.index_select(0, torch::tensor(positions, torch::kLong));
  }
  std::string describe() const override {
    return "HDF5 " + path_.filename().string() + ":" + dataset_ + " (" + std::to_string(n_) + " images)";
  }
  std::optional<std::pair<int64_t, int64_t>> image_size() const override {
    if (o_.size > 0) return std::make_pair(o_.size, o_.size);
    return channels_last_ ? std::make_pair(shape_[0], shape_[1]) : std::make_pair(shape_[1], shape_[2]);
  }

 private:
  h5::File open(const std::string& spec) {
    const auto colon = spec.rfind(':');
    const bool has_dataset = colon != std::string::npos && !ends_with(spec, ".h5") && !ends_with(spec, ".hdf5");
    path_ = has_dataset ? spec.substr(0, colon) : spec;
    dataset_ = has_dataset ? spec.substr(colon + 1) : "images";
    return h5::File::open(path_);
  }

  ImageStreamOptions o_;
  fs::path path_;
  std::string dataset_;
  h5::File file_;
  std::vector<int64_t> shape_;
  int64_t n_ = 0;
  torch::ScalarType dtype_ = torch::kByte;
  bool channels_last_ = false;
  torch::Tensor labels_;
};

}  // namespace

torch::Tensor ImageStream::labels(const std::vector<int64_t>&) { fail(describe(), ": has no labels"); }

StreamDataset::StreamDataset(ImageStream& stream, int64_t num_classes) : stream_(stream) {
  LOUPE_CHECK(stream.has_labels(), stream.describe(),
              ": has no labels (expected an IDX file with its labels-idx1 twin, class folders, or an HDF5 "
              "'labels' dataset)");
  classes_ = stream.class_names();
  if (classes_.empty())
    for (int64_t k = 0; k < num_classes; ++k) classes_.push_back(std::to_string(k));
  LOUPE_CHECK(static_cast<int64_t>(classes_.size()) == num_classes, stream.describe(), ": ", classes_.size(),
              " class folders but the model has ", num_classes, " classes");
  const auto first = stream.read({0});
  shape_ = {first.size(1), first.size(2), first.size(3)};
}

Batch StreamDataset::get(const torch::Tensor& indices) const {
  const auto idx = indices.to(torch::kLong).contiguous();
  const std::vector<int64_t> positions(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
  Batch b{stream_.read(positions), stream_.labels(positions)};
  const auto bad = (b.labels < 0).logical_or(b.labels >= static_cast<int64_t>(classes_.size())).nonzero();
  LOUPE_CHECK(bad.numel() == 0, stream_.id(positions[static_cast<size_t>(bad.numel() ? bad[0][0].item<int64_t>() : 0)]),
              ": label ", bad.numel() ? b.labels[bad[0][0]].item<int64_t>() : 0, " outside the model's ",
              classes_.size(), " classes");
  return b;
}

bool is_idx_images_path(const fs::path& path) {
  const auto name = path.filename().string();
  return ends_with(name, "idx3-ubyte") || ends_with(name, "idx3-ubyte.gz");
}

bool is_hdf5_images_spec(const std::string& input) {
  const auto colon = input.rfind(':');
  const auto file = colon == std::string::npos ? input : input.substr(0, colon);
  return ends_with(input, ".h5") || ends_with(input, ".hdf5") || ends_with(file, ".h5") || ends_with(file, ".hdf5");
}

std::unique_ptr<ImageStream> open_image_stream(const std::vector<std::string>& inputs, const ImageStreamOptions& o) {
  LOUPE_CHECK(!inputs.empty(), "--images: expected image files, folders, an IDX file or an HDF5 file");
  LOUPE_CHECK(o.channels == 1 || o.channels == 3, "images: ", o.channels, " channels asked; expected 1 or 3");
  for (const auto& input : inputs) {
    const bool single = is_idx_images_path(input) || is_hdf5_images_spec(input);
    LOUPE_CHECK(!single || inputs.size() == 1, "--images ", input,
                ": an IDX or HDF5 dataset is read on its own; give it as the only --images");
  }
  if (is_idx_images_path(inputs[0])) return std::make_unique<IdxStream>(inputs[0], o);
  if (is_hdf5_images_spec(inputs[0])) return std::make_unique<H5Stream>(inputs[0], o);
  auto files = std::make_unique<FileStream>(inputs, o);
  files->probe();
  return files;
}

}  // namespace loupe
