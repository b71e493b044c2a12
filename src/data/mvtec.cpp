#include "loupe/data/mvtec.h"

#include <torch/torch.h>

#include <algorithm>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/progress.h"
#include "loupe/data/image_folder.h"

namespace loupe {
namespace {

// The subfolders of `dir`, sorted; dot folders skipped.
std::vector<std::string> mvtec_subfolders(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.is_directory() && !name.empty() && name[0] != '.') names.push_back(name);
  }
  LOUPE_CHECK(!ec, dir.string(), ": cannot list folder (", ec.message(), ")");
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<fs::path> mvtec_images(const fs::path& dir) {
  std::error_code ec;
  LOUPE_CHECK(fs::is_directory(dir, ec), dir.string(),
              ": folder not found; expected the MVTec AD layout CATEGORY/train/good/*.png, CATEGORY/test/<kind>/*.png");
  auto files = list_images(dir);
  LOUPE_CHECK(!files.empty(), dir.string(), ": holds no .png, .jpg or .jpeg images");
  return files;
}

fs::path mask_path(const fs::path& category_dir, const std::string& kind, const fs::path& image) {
  return category_dir / "ground_truth" / kind / (image.stem().string() + "_mask.png");
}

// The mask of a defect image at the image's resolution, checked against its size.
torch::Tensor read_mask(const fs::path& file, const fs::path& image_file, int64_t image_h, int64_t image_w,
                        int64_t size) {
  std::error_code ec;
  LOUPE_CHECK(fs::is_regular_file(file, ec), image_file.string(), ": defect image without its mask; expected ",
              file.string());
  const auto mask = read_image(file, 1);
  LOUPE_CHECK(mask.size(1) * image_w == mask.size(2) * image_h, file.string(), ": mask of ", mask.size(2), "x",
              mask.size(1), " (WxH) has another aspect ratio than its image ", image_file.string(), " (", image_w, "x",
              image_h, "); expected a mask of the image's size (or of its aspect ratio)");
  return resize_mask(mask, size);
}

// Source row or column of each output one: floor((i + 0.5) · in / out), the centre-aligned
// nearest neighbour (PIL's NEAREST, torch's nearest-exact).
torch::Tensor mvtec_nearest_indices(int64_t in, int64_t out) {
  const auto centres = (torch::arange(out, torch::kDouble) + 0.5) * (static_cast<double>(in) / out);
  return centres.floor().clamp_max(in - 1).to(torch::kLong);
}

struct MvtecFile {
  fs::path path;
  int64_t kind;
};

MvtecSplit read_split(const fs::path& category_dir, const std::vector<MvtecFile>& files,
                      const std::vector<std::string>& kind_names, int64_t size, const std::string& label) {
  const auto n = static_cast<int64_t>(files.size());
  MvtecSplit split;
  split.images = torch::empty({n, 3, size, size}, torch::kUInt8);
  split.masks = torch::zeros({n, 1, size, size}, torch::kBool);
  split.kinds = torch::empty({n}, torch::kLong);
  split.kind_names = kind_names;
  Progress progress("loading " + label, n, "img");
  for (int64_t i = 0; i < n; ++i) {
    const auto& [file, kind] = files[i];
    const auto original = read_image(file, 3);
    const auto image = resize_image(original, size, size);
    split.images[i] = to_uint8_image(image);
    if (kind > 0)
      split.masks[i] =
          read_mask(mask_path(category_dir, kind_names[kind], file), file, original.size(1), original.size(2), size);
    split.kinds[i] = kind;
    split.files.push_back(file);
    progress.advance();
  }
  progress.finish();
  return split;
}

}  // namespace

torch::Tensor resize_mask(const torch::Tensor& mask, int64_t size) {
  LOUPE_CHECK(mask.dim() == 3 && mask.size(0) == 1, "mask: expected [1,H,W], got ", mask.sizes());
  const auto rows = mvtec_nearest_indices(mask.size(1), size), cols = mvtec_nearest_indices(mask.size(2), size);
  return mask.index_select(1, rows).index_select(2, cols).to(torch::kFloat) > 0.5;
}

TensorDataset MvtecSplit::dataset() const { return TensorDataset(images, kinds, kind_names); }

MvtecCategory load_mvtec_category(const fs::path& category_dir, const MvtecOptions& options) {
  check_image_side("MVTec image size", options.size, 3);
  std::error_code ec;
  LOUPE_CHECK(fs::is_directory(category_dir, ec), category_dir.string(),
              ": MVTec AD category folder not found; expected CATEGORY/train/good/*.png");
  MvtecCategory category;
  category.name = category_dir.filename().string();
  if (category.name.empty()) category.name = category_dir.parent_path().filename().string();

  std::vector<MvtecFile> train, test;
  for (const auto& file : mvtec_images(category_dir / "train" / "good")) train.push_back({file, 0});
  std::vector<std::string> kinds = {"good"};
  const auto test_dir = category_dir / "test";
  LOUPE_CHECK(fs::is_directory(test_dir, ec), test_dir.string(),
              ": folder not found; expected the MVTec AD layout CATEGORY/test/{good,<defect>}/*.png");
  for (const auto& name : mvtec_subfolders(test_dir))
    if (name != "good") kinds.push_back(name);

  for (size_t k = 0; k < kinds.size(); ++k) {
    if (k == 0 && !fs::is_directory(test_dir / "good", ec)) continue;  // some categories test defects only
    for (const auto& file : mvtec_images(test_dir / kinds[k])) test.push_back({file, static_cast<int64_t>(k)});
  }
  LOUPE_CHECK(!test.empty(), test_dir.string(), ": holds no image folders; expected test/good and test/<defect>");
  category.train = read_split(category_dir, train, kinds, options.size, category.name + " train");
  category.test = read_split(category_dir, test, kinds, options.size, category.name + " test");
  return category;
}

}  // namespace loupe
