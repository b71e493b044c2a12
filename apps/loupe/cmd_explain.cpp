// loupe explain [--methods a,b,...]: several explanation methods side by side
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <limits>
#include <map>
#include <set>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/core/shard.h"
#include "loupe/data/image_folder.h"
#include "loupe/data/image_stream.h"
#include "loupe/explain/explainer.h"
#include "loupe/report/report.h"
#include "loupe/studies/compare.h"
#include "loupe/studies/dataset_audit.h"
#include "loupe/studies/explain_images.h"

namespace loupe::cli {
namespace {

// "constant" etc. → Masker; the CLI checks membership first.
Masker parse_masker(const std::string& text) {
  if (text == "constant") return Masker::kConstant;
  if (text == "mean") return Masker::kImageMean;
  if (text == "blur") return Masker::kBlur;
  if (text == "gaussian-blur") return Masker::kGaussianBlur;
  if (text == "segment-mean") return Masker::kSegmentMean;
  return Masker::kAuto;
}

Precision parse_precision(const std::string& text) {
  if (text == "bf16") return Precision::kBFloat16;
  if (text == "fp16") return Precision::kHalf;
  if (text == "int8") return Precision::kInt8;
  return Precision::kFloat;
}

struct ExplainFlags {
  CommonFlags common{"auto", 0, "loupe-explain"};
  ClassifierSource model;
  std::vector<std::string> images, methods, positional_methods;
  std::string tap, target = "top1", segmentation = "quickshift", masker = "auto", precision = "float", iou = "top:20",
                   memory_format = "channels-last", shard, results = "auto";
  int64_t shards = 0;  // N of a Kubernetes Indexed Job (with JOB_COMPLETION_INDEX)
  bool signed_maps = false, faithfulness = false, resume = false;
  int64_t size = 0, batch = 32;
  PerturbationOptions p;
  GradientOptions g;
};

bool is_class_index(const std::string& text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Every value checked before a model or image is read (names and choices: CLI11).
void check_explain_flags(const ExplainFlags& f, const std::vector<std::string>& methods) {
  check_common_flags(f.common);
  std::set<std::string> seen;
  for (const auto& m : methods) LOUPE_CHECK(seen.insert(m).second, "--methods: method '", m, "' is listed twice");
  LOUPE_CHECK(f.target == "top1" || is_class_index(f.target), "--target ", f.target,
              ": expected top1 or a class index (a number >= 0)");
  check_classifier_flags(f.model);
  if (f.size != 0) check_image_side("--size", f.size, 3, "or 0 to keep each image's size");
  check_count("--batch", f.batch, 1, 4096);
  const auto& p = f.p;
  check_count("--perturbation-batch", p.batch_size, 1, 4096);
  check_count("--samples", p.samples, 0, 100000, "0 = each method's default");
  check_count("--max-evals", p.max_evals, 4, 1000000);
  check_count("--n-segments", p.segmentation.slic.n_segments, 1, 100000);
  check_positive("--compactness", p.segmentation.slic.compactness);
  check_positive("--kernel-size", p.segmentation.quickshift.kernel_size, 100);
  check_real("--max-dist", p.segmentation.quickshift.max_dist, 0, std::numeric_limits<double>::infinity());
  check_real("--ratio", p.segmentation.quickshift.ratio, 0, 1);
  check_count("--grid-cell", p.segmentation.grid_cell, 1, kMaxImageSide);
  check_real("--fill", p.fill_value, 0, 1, "a pixel value; images are in [0,1]");
  check_count("--blur-size", p.blur_size, 1, kMaxImageSide);
  check_count("--window", p.window, 1, kMaxImageSide);
  check_count("--stride", p.stride, 1, kMaxImageSide);
  check_count("--top-labels", p.top_labels, 0, 100000, "0 = the explained class only");
  check_count("--ig-steps", f.g.steps, 1, 10000);
  check_count("--smooth-samples", f.g.samples, 1, 10000);
  check_real("--noise", f.g.noise_level, 0, 10, "sigma as a fraction of each image's range");
}

// Above this many images, `--results auto` streams into results.h5.
constexpr size_t kNpyImages = 256;

// The flags that shape the maps, as JSON: a resume or a merge refuses results written
// with others. Batch sizes and the memory format do not change the maps.
std::string map_settings(const ExplainFlags& f) {
  const auto& p = f.p;
  report::json j = {{"size", f.size},
                    {"tap", f.tap},
                    {"signed", f.signed_maps},
                    {"iou", f.iou},
                    {"seed", f.common.seed},
                    {"segmentation", f.segmentation},
                    {"n_segments", p.segmentation.slic.n_segments},
                    {"compactness", p.segmentation.slic.compactness},
                    {"kernel_size", p.segmentation.quickshift.kernel_size},
                    {"max_dist", p.segmentation.quickshift.max_dist},
                    {"ratio", p.segmentation.quickshift.ratio},
                    {"connect_segments", p.segmentation.quickshift.connect},
                    {"grid_cell", p.segmentation.grid_cell},
                    {"masker", f.masker},
                    {"fill", p.fill_value},
                    {"blur_size", p.blur_size},
                    {"window", p.window},
                    {"stride", p.stride},
                    {"samples", p.samples},
                    {"max_evals", p.max_evals},
                    {"top_labels", p.top_labels},
                    {"precision", f.precision},
                    {"ig_steps", f.g.steps},
                    {"smooth_samples", f.g.samples},
                    {"noise", f.g.noise_level}};
  return j.dump();
}

bool is_dataset_file(const std::vector<std::string>& images) {
  return images.size() == 1 && (is_idx_images_path(images[0]) || is_hdf5_images_spec(images[0]));
}

// "npy" or "h5": auto streams IDX/HDF5 datasets and more than kNpyImages images.
std::string results_mode(const ExplainFlags& f) {
  const bool dataset = is_dataset_file(f.images);
  LOUPE_CHECK(!(dataset && f.results == "npy"), "--results npy: ", f.images[0],
              " is a dataset file; explain it with --results h5 (or auto)");
  if (f.results != "auto") return f.results;
  if (dataset) return "h5";
  // A missing file is reported by the run itself, after --out is taken (as before).
  size_t files = 0;
  try {
    for (const auto& p : f.images) files += list_images(p).size();
  } catch (const Error&) {
    return "npy";
  }
  return files > kNpyImages ? "h5" : "npy";
}

// --results h5: the dataset streamed in batches into results.h5 (dataset_audit.h).
void explain_dataset(const ExplainFlags& f, const CompareOptions& o, const Shard& shard) {
  const auto device = resolve_device(f.common.device);
  const OutputDir folder(f.common.out, OutputDirOptions().set_subfolders({"partial"}));
  // The images' size first (a TorchScript model's probe needs it), then the model's channels.
  const auto probe = open_image_stream(f.images, ImageStreamOptions().set_size(f.size));
  auto source = f.model;
  source.probe_size = probe->image_size() ? probe->image_size()->first : 224;
  auto [model, spec] = load_classifier(source);
  model->to(device);
  set_channels_last(*model, f.memory_format == "channels-last");
  auto images = open_image_stream(f.images, ImageStreamOptions().set_channels(spec.in_channels).set_size(f.size));
  DatasetAuditOptions a;
  a.compare = o;
  a.target = f.target;
  a.settings = map_settings(f);
  a.batch = f.batch;
  a.shard = shard;
  a.resume = f.resume;
  a.out = f.common.out;
  a.model_name = f.model.checkpoint.empty() ? f.model.model : f.model.checkpoint.string();
  for (const auto& input : f.images) a.inputs.push_back(fs::absolute(input).string());
  a.size = f.size;
  const auto done = audit_dataset(*model, spec, *images, a);
  audit_report(done.results, images.get()).write(f.common.out);
  if (!shard.whole())
    std::cout << "shard " << shard.str() << ": " << done.images << " of " << images->size() << " images\n";
  if (done.explained < done.images)
    std::cout << "resumed: " << done.images - done.explained << " image(s) were done, " << done.explained
              << " explained now\n";
  std::cout << "explained " << done.images << " image(s) with " << join_names(o.methods) << " in "
            << format_duration(done.seconds) << "\n"
            << "results: " << done.results.string() << "\nreport: " << (fs::path(f.common.out) / "report.html").string()
            << "\n";
}

}  // namespace

Runner add_explain_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("explain", "Explain a model's decisions on images with one or several methods");
  cmd->footer(
      "Methods: " + join_names(explainer_names()) +
      "\n\nExamples:\n  loupe explain gradcam --checkpoint lazy.pt --images shirt.png --out cams\n"
      "  loupe explain --methods gradcam,ablationcam,scorecam,lime,kernelshap,partition --model resnet50 \\\n"
      "      --weights resnet50.safetensors --images photos/ --size 224 --target top1 --out compare\n"
      "  loupe explain --methods gradcam,lime --model my_model.pt --tap layer4 --images photos/ --size 224 \\\n"
      "      --precision bf16 --out audit   # a TorchScript file (torch.jit.save), bf16 on AVX-512 CPUs\n"
      "  loupe explain --methods gradcam,occlusion --checkpoint fm.pt --images val-images-idx3-ubyte --results h5 \\\n"
      "      --shard 0/4 --out audit/shard-0   # then: loupe merge audit/shard-* --out audit/merged\n"
      "Writes report.html (a row per image, a column per method, the IoU agreement table), metrics.json,\n"
      "maps/<image>/<method>.npy (float32 [H,W]) and overlays/<image>_<method>.png; with --results h5\n"
      "(datasets, more than 256 images) results.h5 instead (docs/results-h5.md) and a report of aggregates\n"
      "and extreme examples.");
  auto f = std::make_shared<ExplainFlags>();
  cmd->add_option("methods", f->positional_methods, "methods, as --methods (e.g. 'loupe explain gradcam ...')")
      ->delimiter(',')
      ->check(CLI::IsMember(explainer_names()));
  cmd->add_option("--methods", f->methods, "comma-separated methods (default gradcam); see the list below")
      ->delimiter(',')
      ->check(CLI::IsMember(explainer_names()));
  add_classifier_flags(cmd, f->model);
  cmd->add_option("--memory-format", f->memory_format,
                  "channels-last (faster convolutions; maps equal to the last bits) or contiguous")
      ->check(CLI::IsMember({"channels-last", "contiguous"}))
      ->capture_default_str();
  cmd->add_option("--images", f->images,
                  "image files or folders (PNG/JPEG), or one dataset file: IDX (*-images-idx3-ubyte[.gz]) or HDF5 "
                  "(file.h5[:dataset], default dataset 'images')")
      ->required();
  cmd->add_option("--results", f->results,
                  "npy: maps/<image>/<method>.npy and overlays, all images in memory; h5: the images streamed in "
                  "batches of --batch into results.h5 (resumable with --resume; shards merge with loupe merge); "
                  "auto: h5 for dataset files and more than 256 images")
      ->check(CLI::IsMember({"auto", "npy", "h5"}))
      ->capture_default_str();
  cmd->add_flag("--resume", f->resume,
                "--results h5: keep the batches an interrupted run finished in --out and explain the rest");
  cmd->add_option("--shard", f->shard,
                  "explain shard K/N of the images (those at positions i mod N = K of the sorted list; default: "
                  "from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX when set, else all)");
  cmd->add_option("--shards", f->shards, "N for a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (its completions)");
  cmd->add_option("--size", f->size, "resize images to SIZE x SIZE (0 = keep)")->capture_default_str();
  cmd->add_option("--target", f->target, "top1 (each image's predicted class) or a class index")->capture_default_str();
  cmd->add_option("--tap", f->tap, "CAM methods: layer to explain (default: the model's last feature map)");
  cmd->add_flag("--signed", f->signed_maps, "keep negative evidence (maps in [-1,1], diverging colours)");
  cmd->add_option("--batch", f->batch, "images per pass of the gradient methods, and per batch of --results h5")
      ->capture_default_str();
  cmd->add_option("--perturbation-batch", f->p.batch_size, "perturbation methods: perturbed images per forward pass")
      ->capture_default_str();
  cmd->add_option("--samples", f->p.samples, "LIME / KernelSHAP / RISE samples per image (0 = method default)")
      ->capture_default_str();
  cmd->add_option("--max-evals", f->p.max_evals, "Partition SHAP: model evaluations per image")->capture_default_str();
  cmd->add_option("--segmentation", f->segmentation, "LIME / KernelSHAP superpixels")
      ->check(CLI::IsMember({"quickshift", "slic", "grid"}))
      ->capture_default_str();
  cmd->add_option("--n-segments", f->p.segmentation.slic.n_segments, "SLIC: approximate number of segments")
      ->capture_default_str();
  cmd->add_option("--compactness", f->p.segmentation.slic.compactness, "SLIC: compactness")->capture_default_str();
  cmd->add_option("--kernel-size", f->p.segmentation.quickshift.kernel_size, "quickshift: kernel size")
      ->capture_default_str();
  cmd->add_option("--max-dist", f->p.segmentation.quickshift.max_dist, "quickshift: max distance")
      ->capture_default_str();
  cmd->add_option("--ratio", f->p.segmentation.quickshift.ratio, "quickshift: colour/space ratio")
      ->capture_default_str();
  cmd->add_flag("--connect-segments", f->p.segmentation.quickshift.connect,
                "quickshift: split segments that are not 4-connected (scikit-image and lime keep them whole)");
  cmd->add_option("--grid-cell", f->p.segmentation.grid_cell, "grid segmentation: cell side in pixels")
      ->capture_default_str();
  cmd->add_option("--masker", f->masker, "fill of hidden pixels (auto = each method's default)")
      ->check(CLI::IsMember({"auto", "constant", "mean", "blur", "gaussian-blur", "segment-mean"}))
      ->capture_default_str();
  cmd->add_option("--fill", f->p.fill_value, "constant masker / occlusion baseline value")->capture_default_str();
  cmd->add_option("--blur-size", f->p.blur_size,
                  "blur maskers: kernel side in pixels (blur = shap's box blur, gaussian-blur)")
      ->capture_default_str();
  cmd->add_option("--window", f->p.window, "occlusion: window side")->capture_default_str();
  cmd->add_option("--stride", f->p.stride, "occlusion: stride")->capture_default_str();
  cmd->add_flag("!--no-incremental", f->p.incremental,
                "occlusion: run every occluded image through the whole model (by default the zoo's CNNs recompute "
                "only each layer's occluded region, Krypton; the maps agree to float rounding)");
  cmd->add_option("--top-labels", f->p.top_labels, "LIME: explain the k largest outputs at once")
      ->capture_default_str();
  cmd->add_option("--ig-steps", f->g.steps, "Integrated Gradients: points on the path")->capture_default_str();
  cmd->add_option("--smooth-samples", f->g.samples, "SmoothGrad: noisy copies per image")->capture_default_str();
  cmd->add_option("--noise", f->g.noise_level, "SmoothGrad: noise sigma as a fraction of the range")
      ->capture_default_str();
  cmd->add_option("--precision", f->precision,
                  "perturbation methods: autocast dtype (CPU: float or bf16, about 1.7-2.5x faster with AVX-512 bf16; "
                  "CUDA: also fp16), or int8 (the zoo's CNNs on the CPU, post-training quantisation calibrated on "
                  "each run's first perturbed batch; ScoreCAM/AblationCAM stay float)")
      ->check(CLI::IsMember({"float", "bf16", "fp16", "int8"}))
      ->capture_default_str();
  cmd->add_option("--iou", f->iou, "how maps are binarised for the IoU table: top:PERCENT, otsu or value:V")
      ->capture_default_str();
  cmd->add_flag("--faithfulness", f->faithfulness, "also deletion / insertion curves and their AUC per method");
  add_common_flags(cmd, f->common, "output folder (report.html, metrics.json, maps/, overlays/)");
  return [f] {
    auto methods = f->methods;
    methods.insert(methods.end(), f->positional_methods.begin(), f->positional_methods.end());
    if (methods.empty()) methods = {"gradcam"};
    check_explain_flags(*f, methods);
    CompareOptions o;
    o.methods = methods;
    o.threshold = parse_map_threshold(f->iou);
    o.faithfulness = f->faithfulness;
    o.explain.tap = f->tap;
    o.explain.signed_maps = f->signed_maps;
    o.explain.batch_size = f->batch;
    o.explain.gradient = f->g;
    o.explain.gradient.seed = static_cast<uint64_t>(f->common.seed);
    o.explain.perturbation = f->p;
    o.explain.perturbation.seed = static_cast<uint64_t>(f->common.seed);
    o.explain.perturbation.segmentation.method = f->segmentation;
    o.explain.perturbation.masker = parse_masker(f->masker);
    o.explain.perturbation.precision = parse_precision(f->precision);
    o.faithfulness_options.batch_size = f->p.batch_size;
    // Checks every name before loading anything.
    for (const auto& m : methods) make_explainer(m, o.explain);

    const auto shard = resolve_shard(f->shard.empty() ? std::nullopt : std::optional<std::string>(f->shard),
                                     f->shards > 0 ? std::optional<int64_t>(f->shards) : std::nullopt);
    const auto mode = results_mode(*f);
    LOUPE_CHECK(!f->resume || mode == "h5",
                "--resume: only runs with --results h5 resume (this one writes .npy files)");
    if (mode == "h5") return explain_dataset(*f, o, shard);
    const auto device = resolve_device(f->common.device);
    const OutputDir folder(f->common.out, OutputDirOptions().set_subfolders({"maps", "overlays"}));
    ExplainImagesOptions run;
    for (const auto& p : f->images)
      for (const auto& file : list_images(p)) run.files.push_back(file);
    LOUPE_CHECK(!run.files.empty(), "--images: no PNG or JPEG images found in ", join_names(f->images));
    const auto total = run.files.size();
    run.files = shard_items(shard, run.files);
    LOUPE_CHECK(!run.files.empty(), "shard ", shard.str(), " takes none of the ", total,
                " image(s): use at most as many shards as images");
    auto source = f->model;
    source.probe_size = probe_side(f->size, run.files);
    auto [model, spec] = load_classifier(source);
    model->to(device);
    set_channels_last(*model, f->memory_format == "channels-last");
    run.size = f->size;
    run.target = f->target;
    run.compare = o;
    run.out = f->common.out;
    run_explain_images(*model, spec, run);
    if (!shard.whole())
      std::cout << "shard " << shard.str() << ": " << run.files.size() << " of " << total << " images\n";
    std::cout << "explained " << run.files.size() << " image(s) with " << join_names(methods) << "\n"
              << "report: " << (run.out / "report.html").string() << "\n";
  };
}

}  // namespace loupe::cli
