// An image-folder dataset: root/<class>/*.png|jpg|jpeg, classes sorted by name
// (like torchvision's ImageFolder). Images are resized to a common size.
#pragma once

#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/data/dataset.h"

namespace loupe {

struct ImageFolderOptions {
  int channels = 3;  // 1 or 3
  int64_t size = 0;  // resize to size x size (resize_image); 0 = all images must share a size
};

// An empty root, a class folder without images or an unreadable image is a
// loupe::Error naming the path.
TensorDataset load_image_folder(const fs::path& root, const ImageFolderOptions& options = {});

// Every .png/.jpg/.jpeg file in a folder (sorted), or the single file given.
std::vector<fs::path> list_images(const fs::path& path_or_folder);

// root/<class>/*.png|jpg|jpeg: classes sorted by name (hidden folders skipped), each
// image with its class index. No class folder, or one without images, is a loupe::Error.
struct ClassFolders {
  std::vector<std::string> classes;
  std::vector<fs::path> files;
  std::vector<int64_t> labels;
};
ClassFolders list_class_folders(const fs::path& root);

}  // namespace loupe
