#include "loupe/studies/explain_images.h"

#include <torch/torch.h>

#include <map>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/explain/target.h"
#include "loupe/studies/toolkit.h"

namespace loupe {

torch::Tensor load_image_batch(const std::vector<fs::path>& files, int64_t channels, int64_t size) {
  LOUPE_CHECK(!files.empty(), "images: expected at least one PNG or JPEG file");
  std::vector<torch::Tensor> images;
  for (const auto& file : files) {
    const auto img = load_image(file, ImageLoadOptions().set_channels(static_cast<int>(channels)).set_size(size));
    if (!images.empty())
      LOUPE_CHECK(img.sizes() == images.front().sizes(), file.string(), ": size ", img.size(1), "x", img.size(2),
                  " differs from the first image's ", images.front().size(1), "x", images.front().size(2),
                  "; pass --size N to resize all images");
    images.push_back(img);
  }
  return torch::stack(images);
}

std::vector<std::string> image_names(const std::vector<fs::path>& files) {
  std::vector<std::string> names;
  std::map<std::string, int> uses;
  for (const auto& f : files) {
    const auto stem = f.stem().string();
    const int k = ++uses[stem];
    names.push_back(k == 1 ? stem : stem + "_" + std::to_string(k));
  }
  return names;
}

namespace {

void write_overlays(const fs::path& out, const torch::Tensor& images, const std::vector<std::string>& names,
                    const MethodComparison& c, bool signed_maps) {
  const auto cmap = signed_maps ? Colormap::diverging : Colormap::jet;
  for (int64_t i = 0; i < images.size(0); ++i)
    for (const auto& run : c.runs) {
      const auto map = run.attribution.maps[i];
      write_png(out / "overlays" / (names[i] + "_" + run.method + ".png"),
                overlay_heatmap(images[i], signed_maps ? (map + 1) / 2 : map, 0.5, cmap));
    }
}

}  // namespace

report::Report run_explain_images(TappedModel& model, const ModelSpec& spec, const ExplainImagesOptions& o) {
  const auto images = load_image_batch(o.files, spec.in_channels, o.size);
  const auto names = image_names(o.files);
  const auto predicted = study::predict_classes(model, images, model_device(model), 64);
  const auto classes = target_classes(o.target, predicted, spec.num_classes);
  const auto c = compare_methods(model, images, classes, o.compare);

  const bool signed_maps = o.compare.explain.signed_maps;
  const auto tap = o.compare.explain.tap.empty() ? model.default_cam_tap() : o.compare.explain.tap;
  report::Report r("Explanations", fs::path(spec.arch).filename().string() + " · " + std::to_string(images.size(0)) +
                                       " image(s) · " + join_names(o.compare.methods) + " · target " + o.target);
  r.section("Maps");
  r.text("One row per image, one column per method; each map is scaled to [0,1] per image" +
         std::string(signed_maps ? " by its largest |value| (red: evidence for the class, blue: against)." : ".") +
         " CAM methods explain tap " + tap + ". Raw maps: maps/<image>/<method>.npy (float32, image size).");
  add_comparison_to_report(r, images, names, c, o.compare);
  report::json per_image = report::json::array();
  for (int64_t i = 0; i < images.size(0); ++i)
    per_image.push_back({{"file", o.files[i].string()},
                         {"name", names[i]},
                         {"predicted", predicted[i].item<int64_t>()},
                         {"explained_class", classes[i].item<int64_t>()}});
  r.metric("images", per_image);
  r.metric("tap", tap);
  r.metric("maps", write_comparison_maps(o.out, names, c));
  write_overlays(o.out, images, names, c, signed_maps);
  r.write(o.out);
  return r;
}

}  // namespace loupe
