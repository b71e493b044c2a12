#include "loupe/studies/compare_study.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/data/dataset.h"
#include "loupe/data/image_folder.h"
#include "loupe/explain/explainer.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/classifier_source.h"
#include "loupe/models/zoo.h"
#include "loupe/studies/compare.h"
#include "loupe/studies/toolkit.h"
#include "loupe/train/classifier.h"

namespace loupe {
namespace {

namespace F = torch::nn::functional;
using report::json;

struct SkimagePhoto {
  const char* file;
  const char* group;
};

// scikit-image's photographs (not its test patterns), grouped as in the comparison that
// found higher Grad-CAM/LIME agreement on single-object images than on cluttered ones.
const std::vector<SkimagePhoto>& skimage_photo_list() {
  static const std::vector<SkimagePhoto> list = {
      {"astronaut.png", "single object"}, {"camera.png", "single object"},
      {"chelsea.png", "single object"},   {"coffee.png", "single object"},
      {"horse.png", "single object"},     {"rocket.jpg", "single object"},
      {"coins.png", "cluttered"},         {"hubble_deep_field.jpg", "cluttered"},
      {"ihc.png", "cluttered"},           {"motorcycle_left.png", "cluttered"},
      {"page.png", "cluttered"},          {"gravel.png", "cluttered"},
  };
  return list;
}

// Random square crops of every photo (side 40-100% of the short side), flipped half the
// time and brightness-jittered, labelled by photo: the instance-discrimination task.
TensorDataset photo_crops(const std::vector<torch::Tensor>& photos, const std::vector<std::string>& names,
                          int64_t per_photo, int64_t size, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto n = static_cast<int64_t>(photos.size());
  auto images = torch::empty({n * per_photo, 3, size, size}, torch::kUInt8);
  auto labels = torch::empty({n * per_photo}, torch::kLong);
  for (int64_t p = 0; p < n; ++p) {
    // Work at twice the output size so crops are downsampled, never blown up much.
    const auto& full = photos[p];
    const double scale = 2.0 * size / std::min(full.size(1), full.size(2));
    const auto photo = resize_image(full, std::max<int64_t>(size, std::lround(full.size(1) * scale)),
                                    std::max<int64_t>(size, std::lround(full.size(2) * scale)));
    const int64_t h = photo.size(1), w = photo.size(2), short_side = std::min(h, w);
    const auto u = at::rand({per_photo, 5}, gen, torch::kDouble);
    for (int64_t k = 0; k < per_photo; ++k) {
      const int64_t side = std::max<int64_t>(8, std::lround(short_side * (0.4 + 0.6 * u[k][0].item<double>())));
      const int64_t top = std::lround((h - side) * u[k][1].item<double>());
      const int64_t left = std::lround((w - side) * u[k][2].item<double>());
      auto crop = resize_image(photo.narrow(1, top, side).narrow(2, left, side), size, size);
      if (u[k][3].item<double>() < 0.5) crop = crop.flip({2});
      crop = (crop * (0.8 + 0.4 * u[k][4].item<double>())).clamp(0, 1);
      images[p * per_photo + k] = crop.mul(255).round().to(torch::kUInt8);
      labels[p * per_photo + k] = p;
    }
  }
  return TensorDataset(images, labels, names);
}

// Every option checked before any photo is read or any model trained.
void check_compare_options(const CompareStudyOptions& o) {
  const auto known = explainer_names();
  LOUPE_CHECK(!o.methods.empty(), "--methods: expected at least one of ", join_names(known));
  std::set<std::string> seen;
  for (const auto& m : o.methods) {
    LOUPE_CHECK(std::find(known.begin(), known.end(), m) != known.end(), "--methods ", m,
                ": unknown method; expected one of ", join_names(known));
    LOUPE_CHECK(seen.insert(m).second, "--methods: method '", m, "' is listed twice");
  }
  check_count("--num-classes", o.num_classes, 1, 100000);
  if (o.size) check_image_side("--size", *o.size, 3);
  if (o.train_steps) check_count("--steps", *o.train_steps, 1, 10000000);
  if (o.samples) check_count("--samples", *o.samples, 1, 100000);
  if (o.faithfulness_steps) check_count("--faithfulness-steps", *o.faithfulness_steps, 1, 10000);
  parse_map_threshold(o.iou_threshold);
  LOUPE_CHECK(o.arch.empty() || !is_zoo_model(o.arch) || !o.weights.empty(), "--model ", o.arch,
              ": give its weights with --weights FILE.safetensors");
  LOUPE_CHECK(o.weights.empty() || fs::is_regular_file(o.weights), "--weights ", o.weights.string(),
              ": file not found");
}

}  // namespace

PhotoSet load_photos(const fs::path& dir, int64_t size, bool skimage_groups) {
  LOUPE_CHECK(size >= 8, "photo size ", size, ": expected at least 8 pixels");
  PhotoSet set;
  std::vector<torch::Tensor> images;
  auto add = [&](const fs::path& file, const std::string& group) {
    // Transparent pixels on white, as scikit-image shows its photos.
    const auto rgb = ImageLoadOptions().set_channels(3).set_composite_on_white(true);
    set.originals.push_back(load_image(file, rgb));
    images.push_back(load_image(file, ImageLoadOptions(rgb).set_size(size).set_centre_crop(true)));
    set.files.push_back(file);
    set.names.push_back(file.stem().string());
    set.groups.push_back(group);
  };
  if (skimage_groups) {
    for (const auto& p : skimage_photo_list())
      if (fs::exists(dir / p.file)) add(dir / p.file, p.group);
  } else {
    std::error_code ec;
    LOUPE_CHECK(fs::is_directory(dir, ec), "--images ", dir.string(), ": expected a folder of photos");
    for (const auto& file : list_images(dir)) add(file, "");
    std::vector<fs::path> subfolders;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_directory()) subfolders.push_back(entry.path());
    std::sort(subfolders.begin(), subfolders.end());
    for (const auto& sub : subfolders)
      for (const auto& file : list_images(sub)) add(file, sub.filename().string());
  }
  LOUPE_CHECK(!images.empty(), "--images ", dir.string(), ": no PNG or JPEG photos found",
              skimage_groups ? " (expected scikit-image's astronaut.png, chelsea.png, ...)" : "");
  // Names must be unique: they name the .npy folders.
  std::map<std::string, int> uses;
  for (size_t i = 0; i < set.names.size(); ++i)
    if (++uses[set.names[i]] > 1) set.names[i] += "_" + std::to_string(uses[set.names[i]]);
  set.images = torch::stack(images);
  return set;
}

namespace {

// The study's numbers once the preset and the options are combined.
struct CompareSettings {
  bool pretrained = false;
  int64_t size = 0, steps = 0, samples = 0, faithfulness_steps = 0;
  fs::path photo_dir;
  bool skimage = false;  // scikit-image's photos and groups (no --images)
  double quickshift_kernel = 0;
};

CompareSettings resolve(const CompareStudyOptions& o) {
  const bool quick = o.common.preset == Preset::kQuick;
  CompareSettings s;
  s.pretrained = !o.arch.empty();
  s.size = o.size.value_or(s.pretrained ? 224 : (quick ? 64 : 128));
  s.steps = o.train_steps.value_or(quick ? 500 : 3000);
  s.samples = o.samples.value_or(quick ? 500 : 1000);
  s.faithfulness_steps = o.faithfulness_steps.value_or(quick ? 32 : 100);
  // LIME's quickshift kernel (4) is meant for ~224-pixel images; on smaller ones it gives
  // a handful of segments, so it shrinks with the image: 2 at 64 pixels.
  s.quickshift_kernel = std::clamp(4.0 * static_cast<double>(s.size) / 128.0, 1.0, 4.0);
  s.photo_dir = o.images;
  s.skimage = o.images.empty();
  if (s.skimage) {
    s.photo_dir = find_skimage_photos();
    LOUPE_CHECK(!s.photo_dir.empty(),
                "scikit-image's photos not found: run scripts/fetch_photos.sh (downloads Debian's python3-skimage "
                "into data/skimage), set LOUPE_PHOTOS=DIR, or pass --images DIR");
  }
  return s;
}

// The model every method explains, the class it explains per photo, and how it was made.
struct StudyClassifier {
  std::shared_ptr<TappedModel> model;
  torch::Tensor classes;  // int64 [N]: the class explained for each photo
  std::string description;
  json training = json::object();  // the instance classifier's run; empty for --weights
};

StudyClassifier pretrained_classifier(const CompareStudyOptions& o, const PhotoSet& photos) {
  StudyClassifier c;
  ClassifierSource source;
  source.model = o.arch;
  source.weights = o.weights;
  source.num_classes = is_zoo_model(o.arch) ? o.num_classes : 0;
  source.in_channels = 3;
  source.probe_size = photos.images.size(2);
  c.model = load_classifier(source).model;
  c.model->to(o.common.device);
  c.classes = study::predict_classes(*c.model, photos.images, o.common.device, 64);
  c.description = (is_zoo_model(o.arch) ? o.arch + " with weights " + o.weights.filename().string()
                                        : "TorchScript model " + fs::path(o.arch).filename().string()) +
                  "; every method explains the model's top-1 class of each photo.";
  return c;
}

// A small CNN taught to tell the photos apart from random crops: class k is photo k.
StudyClassifier train_instance_classifier(const CompareStudyOptions& o, const CompareSettings& s,
                                          const PhotoSet& photos) {
  const int64_t n = photos.images.size(0);
  LOUPE_CHECK(n >= 2, "--images ", s.photo_dir.string(), ": the instance classifier needs at least 2 photos, found ",
              n);
  const int64_t batch = 32, epochs = 4;
  const int64_t per_photo = std::max<int64_t>(16, (s.steps * batch + n - 1) / n / epochs);
  const auto train = photo_crops(photos.originals, photos.names, per_photo, s.size, o.common.seed * 2 + 1);
  const auto val =
      photo_crops(photos.originals, photos.names, std::max<int64_t>(8, per_photo / 10), s.size, o.common.seed * 2 + 2);
  const ModelSpec spec{"small_cnn", 3, n};
  StudyClassifier c;
  c.model = make_model(spec);
  TrainOptions t;
  t.set_lr(1e-3).set_epochs(epochs).set_batch_size(batch).set_seed(o.common.seed).set_label("instance classifier");
  t.set_checkpoint(o.common.out / "models" / "instance_classifier.pt");
  const auto result = train_classifier(*c.model, spec, train, &val, t, o.common.device);
  c.classes = torch::arange(n, torch::kLong);
  const double val_accuracy = result.history.back().value("val_accuracy");
  const double photo_accuracy = study::predict_classes(*c.model, photos.images, o.common.device, 64)
                                    .eq(c.classes)
                                    .to(torch::kDouble)
                                    .mean()
                                    .item<double>();
  c.training = {{"steps", result.step},
                {"crops_per_photo", per_photo},
                {"validation_accuracy", val_accuracy},
                {"photo_accuracy", photo_accuracy},
                {"seconds", result.seconds}};
  c.description =
      "No ImageNet weights ship with Debian, so this preset trains its own classifier: a small CNN that tells the " +
      std::to_string(n) + " photos apart from random crops (40-100% of the short side, flips, brightness jitter; " +
      std::to_string(result.step) + " steps, " + std::to_string(per_photo) +
      " crops per photo). It recognises held-out crops with " + study::fixed(val_accuracy, 3) +
      " accuracy and the whole photos with " + study::fixed(photo_accuracy, 3) +
      ". Class k is photo k, so each map shows which part of the photo identifies it. "
      "Pass --model with --weights (a zoo architecture) or --model FILE.pt (your TorchScript model) to explain a "
      "pretrained classifier instead.";
  return c;
}

CompareOptions comparison_options(const CompareStudyOptions& o, const CompareSettings& s) {
  CompareOptions c;
  c.methods = o.methods;
  c.threshold = parse_map_threshold(o.iou_threshold);
  c.faithfulness = true;
  c.faithfulness_options.steps = s.faithfulness_steps;
  c.explain.perturbation.samples = s.samples;
  c.explain.perturbation.segmentation.quickshift.kernel_size = s.quickshift_kernel;
  c.explain.perturbation.seed = o.common.seed;
  c.explain.gradient.seed = o.common.seed;
  return c;
}

void add_photos_section(report::Report& r, const CompareSettings& s, const PhotoSet& photos,
                        const StudyClassifier& classifier) {
  const int64_t n = photos.images.size(0);
  r.section("Photos and classifier");
  r.text(classifier.description);
  std::vector<torch::Tensor> cells;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < n; ++i) {
    cells.push_back(photos.images[i]);
    labels.push_back(photos.names[i] + (photos.groups[i].empty() ? "" : " (" + photos.groups[i].substr(0, 6) + ")"));
  }
  r.figure("The photos (" + std::to_string(s.size) + "x" + std::to_string(s.size) + ", centre crop)",
           image_grid(cells, labels, GridOptions(std::min<int64_t>(6, n)).cell_size(std::max<int64_t>(96, s.size))));
}

int64_t method_index(const std::vector<std::string>& methods, const std::string& method) {
  const auto it = std::find(methods.begin(), methods.end(), method);
  return it == methods.end() ? -1 : static_cast<int64_t>(it - methods.begin());
}

// The IoU(Grad-CAM, LIME) table per photo, highest first, and its mean by group; only when
// both methods ran.
void add_gradcam_lime_agreement(report::Report& r, const PhotoSet& photos, const MethodComparison& comparison,
                                const CompareOptions& c) {
  const int64_t gi = method_index(c.methods, "gradcam"), li = method_index(c.methods, "lime");
  if (gi < 0 || li < 0) return;
  r.section("Agreement of Grad-CAM and LIME");
  const auto agreement = study::to_doubles(comparison.iou.select(1, gi).select(1, li));
  std::vector<size_t> order(agreement.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return agreement[a] > agreement[b]; });
  report::Table t{"IoU(Grad-CAM, LIME) per photo, highest first (maps binarised to " + describe(c.threshold) + ")",
                  {"photo", "group", "IoU"},
                  {}};
  json rows = json::array();
  std::map<std::string, std::pair<double, int>> by_group;  // group -> (sum, count)
  for (const auto i : order) {
    const double v = agreement[i];
    t.rows.push_back({photos.names[i], photos.groups[i], v});
    rows.push_back({{"photo", photos.names[i]}, {"group", photos.groups[i]}, {"iou", v}});
    auto& g = by_group[photos.groups[i].empty() ? "all" : photos.groups[i]];
    g.first += v;
    g.second += 1;
  }
  r.table(t);
  r.metric("gradcam_lime_iou", rows);
  if (by_group.size() < 2) return;
  report::Table g{"Mean IoU(Grad-CAM, LIME) by group", {"group", "photos", "mean IoU"}, {}};
  std::string sentence = "Mean agreement:";
  for (const auto& [name, sum] : by_group) {
    const double mean = sum.first / sum.second;
    g.rows.push_back({name, sum.second, mean});
    r.metric("gradcam_lime_iou_by_group." + name, mean);
    sentence += " " + name + " " + study::fixed(mean, 3) + ";";
  }
  r.text(sentence +
         " the study it repeats found higher agreement on single-object photos than on cluttered "
         "ones.");
  r.table(g);
}

void add_all_methods_section(report::Report& r, const CompareStudyOptions& o, const CompareSettings& s,
                             const PhotoSet& photos, const MethodComparison& comparison, const CompareOptions& c) {
  r.section("All methods");
  r.text(
      "Every method explains the same class per photo. Maps are scaled to [0,1] per photo. LIME and KernelSHAP use " +
      std::to_string(s.samples) + " samples on quickshift superpixels (kernel size " +
      study::fixed(s.quickshift_kernel, 2) + "); deletion / insertion use " + std::to_string(s.faithfulness_steps) +
      " steps and the class probability.");
  add_comparison_to_report(r, photos.images, photos.names, comparison, c);
  r.metric("maps", write_comparison_maps(o.common.out, photos.names, comparison));
}

void add_settings_section(report::Report& r, const CompareStudyOptions& o, const CompareSettings& s,
                          const StudyClassifier& classifier, int64_t photos, double seconds) {
  r.section("Settings");
  r.table({"Settings",
           {"setting", "value"},
           {{"photos", s.photo_dir.string()},
            {"image size", s.size},
            {"classifier",
             s.pretrained ? fs::path(o.arch).filename().string() : std::string("small_cnn (instance discrimination)")},
            {"samples (LIME, KernelSHAP)", s.samples},
            {"faithfulness steps", s.faithfulness_steps},
            {"seed", static_cast<int64_t>(o.common.seed)},
            {"device", o.common.device.str()},
            {"run time (s)", seconds}}});
  r.metric("training", classifier.training);
  r.metric("photos", photos);
  r.metric("seconds", seconds);
}

}  // namespace

report::Report run_compare_study(const CompareStudyOptions& o) {
  check_compare_options(o);
  const auto started = std::chrono::steady_clock::now();
  const auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models", "maps"}));
  const auto photos = load_photos(s.photo_dir, s.size, s.skimage);
  const auto classifier = s.pretrained ? pretrained_classifier(o, photos) : train_instance_classifier(o, s, photos);
  const auto c = comparison_options(o, s);
  const auto comparison = compare_methods(*classifier.model, photos.images, classifier.classes, c);
  const double seconds = seconds_since(started);

  const int64_t n = photos.images.size(0);
  report::Report r("Method comparison",
                   std::to_string(n) + " photos · " +
                       (s.pretrained ? fs::path(o.arch).filename().string() : std::string("instance classifier")) +
                       " · " + join_names(o.methods));
  add_photos_section(r, s, photos, classifier);
  add_gradcam_lime_agreement(r, photos, comparison, c);
  add_all_methods_section(r, o, s, photos, comparison, c);
  add_settings_section(r, o, s, classifier, n, seconds);
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
