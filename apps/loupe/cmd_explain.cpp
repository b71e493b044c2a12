// loupe explain gradcam
#include <iostream>

#include <torch/torch.h>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/data/image_folder.h"
#include "loupe/explain/explainer.h"
#include "loupe/models/checkpoint.h"
#include "loupe/report/report.h"

namespace loupe::cli {
namespace {

struct ModelFlags {
  std::string checkpoint, arch, weights;
  int64_t num_classes = 1000, in_channels = 3;
};

std::shared_ptr<TappedModel> load_flagged_model(const ModelFlags& m, ModelSpec& spec) {
  if (!m.checkpoint.empty()) {
    LOUPE_CHECK(m.arch.empty() && m.weights.empty(), "--checkpoint ", m.checkpoint,
                ": give either --checkpoint or --model with --weights, not both");
    CheckpointInfo info;
    auto model = load_model(m.checkpoint, &info);
    spec = info.spec;
    return model;
  }
  LOUPE_CHECK(!m.arch.empty(), "no model given: use --checkpoint FILE, or --model ARCH with --weights FILE.safetensors");
  spec = ModelSpec{m.arch, m.in_channels, m.num_classes};
  auto model = make_model(spec);
  LOUPE_CHECK(!m.weights.empty(), "--model ", m.arch, ": give its weights with --weights FILE.safetensors");
  load_torchvision_weights(*model, m.weights);
  return model;
}

// Reads every image, checks channels against the model and resizes to a common size.
torch::Tensor load_images(const std::vector<fs::path>& files, int64_t channels, int64_t size) {
  std::vector<torch::Tensor> images;
  for (const auto& file : files) {
    auto img = read_image(file);
    LOUPE_CHECK(img.size(0) == channels || (img.size(0) == 4 && channels == 3), file.string(), ": has ",
                img.size(0), " channel(s); the model expects ", channels);
    if (img.size(0) == 4) img = img.narrow(0, 0, 3);
    if (size > 0 && (img.size(1) != size || img.size(2) != size))
      img = torch::nn::functional::interpolate(img.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                     .size(std::vector<int64_t>{size, size})
                                                                     .mode(torch::kBilinear)
                                                                     .align_corners(false))
                .squeeze(0)
                .clamp(0, 1);
    if (!images.empty())
      LOUPE_CHECK(img.sizes() == images.front().sizes(), file.string(), ": size ", img.size(1), "x", img.size(2),
                  " differs from the first image's ", images.front().size(1), "x", images.front().size(2),
                  "; pass --size N to resize all images");
    images.push_back(img);
  }
  return torch::stack(images);
}

}  // namespace

Runner add_explain_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("explain", "Explain a model's decisions on images");
  cmd->require_subcommand(1, 1);
  auto* gradcam = cmd->add_subcommand("gradcam", "Grad-CAM maps for any tap and target");
  gradcam->footer(
      "Examples:\n  loupe explain gradcam --checkpoint lazy.pt --images shirt.png --target top1 --out cams\n"
      "  loupe explain gradcam --model resnet50 --weights resnet50.safetensors --images photos/ --size 224 "
      "--tap layer4 --target 281");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-explain"};
    ModelFlags model;
    std::vector<std::string> images;
    std::string tap, target = "top1";
    bool signed_maps = false;
    int64_t size = 0, batch = 32;
  };
  auto f = std::make_shared<Flags>();
  gradcam->add_option("--checkpoint", f->model.checkpoint, "a checkpoint written by loupe train");
  gradcam->add_option("--model", f->model.arch, "zoo architecture (with --weights)")
      ->check(CLI::IsMember(model_names()));
  gradcam->add_option("--weights", f->model.weights, "torchvision-named weights (.safetensors)");
  gradcam->add_option("--num-classes", f->model.num_classes, "classes of --model")->capture_default_str();
  gradcam->add_option("--in-channels", f->model.in_channels, "input channels of --model")->capture_default_str();
  gradcam->add_option("--images", f->images, "image files or folders (PNG/JPEG)")->required();
  gradcam->add_option("--tap", f->tap, "layer to explain (default: the model's last feature map)");
  gradcam->add_option("--target", f->target, "top1 or a class index")->capture_default_str();
  gradcam->add_flag("--signed", f->signed_maps, "keep negative evidence (no ReLU; maps in [-1,1], diverging colours)");
  gradcam->add_option("--size", f->size, "resize images to SIZE x SIZE (0 = keep)")->capture_default_str();
  gradcam->add_option("--batch", f->batch, "images per pass")->capture_default_str();
  add_common_flags(gradcam, f->common, "output folder (report.html, metrics.json, one overlay PNG per image)");
  return [f] {
    const auto device = resolve_device(f->common.device);
    ModelSpec spec;
    auto model = load_flagged_model(f->model, spec);
    model->to(device);
    model->eval();
    std::vector<fs::path> files;
    for (const auto& p : f->images)
      for (const auto& file : list_images(p)) files.push_back(file);
    LOUPE_CHECK(!files.empty(), "--images: no PNG or JPEG images found");
    const auto images = load_images(files, spec.in_channels, f->size);
    const auto target = parse_target(f->target, spec.num_classes);
    ExplainOptions opts;
    opts.tap = f->tap;
    opts.signed_maps = f->signed_maps;
    opts.batch_size = f->batch;
    auto explainer = make_explainer("gradcam", opts);
    const auto attr = explainer->explain(*model, images, target);
    torch::Tensor predicted;
    {
      torch::NoGradGuard guard;
      predicted = model->forward(images.to(device)).argmax(1).cpu();
    }
    const auto map = f->signed_maps ? Colormap::diverging : Colormap::jet;
    const fs::path out = f->common.out;
    std::vector<torch::Tensor> cells;
    std::vector<std::string> labels;
    report::json per_image = report::json::array();
    for (int64_t i = 0; i < images.size(0); ++i) {
      // Signed maps in [-1,1] are shifted to [0,1] for the colour lookup, so 0 is white.
      const auto heat = f->signed_maps ? (attr.maps[i] + 1) / 2 : attr.maps[i];
      const auto over = overlay_heatmap(images[i], heat, 0.5, map);
      write_png(out / "overlays" / (files[i].stem().string() + ".png"), over);
      cells.push_back(images[i].size(0) == 1 ? images[i].expand({3, -1, -1}) : images[i]);
      cells.push_back(over);
      labels.push_back(files[i].filename().string().substr(0, 18));
      labels.push_back("pred " + std::to_string(predicted[i].item<int64_t>()));
      per_image.push_back({{"file", files[i].string()},
                           {"predicted", predicted[i].item<int64_t>()},
                           {"target_score", attr.scores[i].item<double>()}});
    }
    const auto tap = f->tap.empty() ? model->default_cam_tap() : f->tap;
    report::Report r("Grad-CAM", spec.arch + " · tap " + tap + " · target " + f->target);
    r.section("Maps");
    r.text(std::string("Each image beside its Grad-CAM overlay") +
           (f->signed_maps ? " (signed: red = evidence for the target, blue = against)." : "."));
    const int64_t cell = std::max<int64_t>(96, std::min<int64_t>(224, images.size(3)));
    r.figure("Grad-CAM overlays", image_grid(cells, labels, GridOptions(std::min<int64_t>(8, cells.size())).cell_size(cell)));
    r.figure("Colour scale (bottom = 0, top = 1)", colorbar(160, 16, map));
    r.metric("images", per_image);
    r.metric("tap", tap);
    r.write(out);
    std::cout << "explained " << images.size(0) << " image(s) with Grad-CAM at " << tap << "\n"
              << "report: " << (out / "report.html").string() << "\n";
  };
}

}  // namespace loupe::cli
