#include "loupe/data/image_folder.h"

#include <torch/torch.h>

#include <algorithm>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/progress.h"

namespace loupe {

namespace {

bool is_image_file(const fs::directory_entry& entry) {
  const auto ext = lower_extension(entry.path());
  return entry.is_regular_file() && (ext == "png" || ext == "jpg" || ext == "jpeg");
}

// Dot files are skipped: macOS leaves "._name.png" resource forks beside real images.
bool is_hidden(const fs::path& path) {
  const auto name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

}  // namespace

std::vector<fs::path> list_images(const fs::path& path_or_folder) {
  std::error_code ec;
  LOUPE_CHECK(fs::exists(path_or_folder, ec), path_or_folder.string(), ": no such file or folder");
  if (!fs::is_directory(path_or_folder, ec)) return {path_or_folder};
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path_or_folder, ec))
    if (is_image_file(entry) && !is_hidden(entry.path())) files.push_back(entry.path());
  LOUPE_CHECK(!ec, path_or_folder.string(), ": cannot list folder (", ec.message(), ")");
  std::sort(files.begin(), files.end());
  return files;
}

ClassFolders list_class_folders(const fs::path& root) {
  std::error_code ec;
  ClassFolders out;
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory() && !is_hidden(entry.path())) out.classes.push_back(entry.path().filename().string());
  LOUPE_CHECK(!ec, root.string(), ": cannot list folder (", ec.message(), ")");
  LOUPE_CHECK(!out.classes.empty(), root.string(),
              ": no class subfolders; expected one folder per class holding its images (root/<class>/*.png|jpg)");
  std::sort(out.classes.begin(), out.classes.end());
  for (size_t c = 0; c < out.classes.size(); ++c) {
    const auto folder = root / out.classes[c];
    const auto images = list_images(folder);
    LOUPE_CHECK(!images.empty(), folder.string(), ": class folder holds no .png, .jpg or .jpeg images");
    for (const auto& file : images) {
      out.files.push_back(file);
      out.labels.push_back(static_cast<int64_t>(c));
    }
  }
  return out;
}

TensorDataset load_image_folder(const fs::path& root, const ImageFolderOptions& options) {
  LOUPE_CHECK(options.channels == 1 || options.channels == 3, root.string(),
              ": image folder channels = ", options.channels, "; expected 1 (gray) or 3 (RGB)");
  LOUPE_CHECK(options.size >= 0, root.string(), ": image folder size = ", options.size,
              "; expected 0 (keep) or a positive side length");
  std::error_code ec;
  LOUPE_CHECK(fs::exists(root, ec), root.string(), ": image folder not found");
  LOUPE_CHECK(fs::is_directory(root, ec), root.string(),
              ": expected an image folder (root/<class>/*.png), found a file");

  const auto listed = list_class_folders(root);
  std::vector<std::pair<fs::path, int64_t>> files;
  for (size_t k = 0; k < listed.files.size(); ++k) files.emplace_back(listed.files[k], listed.labels[k]);
  const auto& classes = listed.classes;

  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  images.reserve(files.size());
  labels.reserve(files.size());
  Progress progress("loading " + root.filename().string(), static_cast<int64_t>(files.size()), "img");
  for (const auto& [file, label] : files) {
    auto img = load_image(file, ImageLoadOptions().set_channels(options.channels).set_size(options.size));
    if (!images.empty()) {
      const auto& first = images.front();
      LOUPE_CHECK(img.size(1) == first.size(1) && img.size(2) == first.size(2), file.string(), ": size ", img.size(2),
                  "x", img.size(1), " (WxH) differs from ", files.front().first.string(), "'s ", first.size(2), "x",
                  first.size(1), "; set the image folder size option to resize every image");
    }
    images.push_back(to_uint8_image(img));
    labels.push_back(label);
    progress.advance();
  }
  progress.finish();
  return TensorDataset(torch::stack(images), torch::tensor(labels, torch::kLong), classes);
}

}  // namespace loupe
