// loupe probe visualize|top|dissect|sae (studies/probe_commands.h)
#include <torch/torch.h>

#include <fstream>
#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/data/coloured.h"
#include "loupe/data/registry.h"
#include "loupe/data/shapes3d.h"
#include "loupe/models/checkpoint.h"
#include "loupe/studies/probe_commands.h"

namespace loupe::cli {

namespace {

// What every probe subcommand takes: the model, the tap, the units, the output.
struct ProbeFlags {
  CommonFlags common{"auto", 0, "loupe-probe"};
  ClassifierSource model;
  std::string tap;
  std::vector<int64_t> units;
};

void add_probe_flags(CLI::App* cmd, ProbeFlags& f) {
  add_classifier_flags(cmd, f.model);
  cmd->add_option("--tap", f.tap, "the layer to probe (an error lists the model's taps)")->required();
  cmd->add_option("--units", f.units, "comma-separated units (channels, or logits at the output tap; default: all)")
      ->delimiter(',');
  add_common_flags(cmd, f.common, "report folder");
}

// The images a probe runs over: a named dataset's split, its first N images, optionally
// recoloured at random (colour and class concepts).
struct ProbeDataFlags {
  std::string name = "gray-fashion-mnist", dir, split = "test";
  int64_t images = 2000;
  bool recolour = false;
};

void add_probe_data_flags(CLI::App* cmd, ProbeDataFlags& f) {
  cmd->add_option("--data", f.name, "dataset name")->check(CLI::IsMember(dataset_names()))->capture_default_str();
  cmd->add_option("--data-dir", f.dir, "folder of the dataset's files where it needs one (mnist, folder)");
  cmd->add_option("--split", f.split, "test or validation")
      ->check(CLI::IsMember({"test", "validation"}))
      ->capture_default_str();
  cmd->add_option("--images", f.images, "use the split's first N images (0 = all)")->capture_default_str();
  cmd->add_flag("--recolour", f.recolour,
                "tint each (gray) image with a random palette colour, independent of its class: adds colour "
                "entropies and colour/class concepts");
}

struct LoadedProbeData {
  std::shared_ptr<TensorDataset> data;
  ProbeData view;
};

LoadedProbeData load_probe_data(const ProbeDataFlags& f, uint64_t seed) {
  check_count("--images", f.images, 0, kNoLimit, "0 = all");
  DataRequest request;
  request.name = f.name;
  request.dir = f.dir;
  request.seed = seed;
  // Generated data render their splits: render only what the probe needs (the validation
  // and test splits get a tenth of the training count).
  if ((f.name == "shapes3d" || f.name == "dsprites") && f.images > 0) request.images = 10 * f.images;
  const auto splits = load_dataset(request);
  auto data = f.split == "test" ? splits.test : splits.validation;
  auto source_indices = f.split == "test" ? splits.test_indices : splits.validation_indices;
  if (f.images > 0 && f.images < data->size()) {
    data = std::make_shared<TensorDataset>(data->subset(torch::arange(f.images, torch::kLong)));
    if (source_indices.defined()) source_indices = source_indices.narrow(0, 0, f.images);
  }
  LoadedProbeData out;
  out.view.name = f.name + " " + f.split;
  // Shapes3D knows every pixel's part: its concepts, mapped to the split's images.
  if (const auto shapes = std::dynamic_pointer_cast<const Shapes3D>(splits.source))
    out.view.concepts = remap_concepts(shapes3d_concepts(*shapes), source_indices);
  if (f.recolour) {
    auto set = recolour_randomly(*data, seed);
    data = std::make_shared<TensorDataset>(std::move(set.data));
    out.view.colours = std::move(set.colours);
    out.view.name += ", recoloured at random";
  }
  out.data = data;
  out.view.data = out.data.get();
  return out;
}

struct LoadedModel {
  std::shared_ptr<TappedModel> model;
  ModelSpec spec;
  torch::Device device = torch::kCPU;
};

// `input_size`: the side of the images the model will see (a TorchScript model's probe).
LoadedModel load_probe_model(const ProbeFlags& f, int64_t input_size) {
  check_common_flags(f.common);
  check_classifier_flags(f.model);
  auto source = f.model;
  source.probe_size = input_size;
  auto [model, spec] = load_classifier(source);
  const auto device = resolve_device(f.common.device);
  model->to(device);
  seed_everything(static_cast<uint64_t>(f.common.seed));
  return {model, spec, device};
}

void check_channels(const LoadedModel& m, const ProbeData& d) {
  LOUPE_CHECK(d.data->image_shape()[0] == m.spec.in_channels, "--data ", d.name, ": images have ",
              d.data->image_shape()[0], " channel(s) but model ", m.spec.arch, " expects ", m.spec.in_channels,
              " (a 3-channel model of the shortcut study takes gray-fashion-mnist or --recolour)");
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  LOUPE_CHECK(in, "--concept-names ", path.string(), ": cannot read the file");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Loads the model and the data, opens the output folder and runs one data probe.
template <class Options, class Run>
void run_data_probe(const ProbeFlags& flags, const ProbeDataFlags& data_flags, Options& o, Run run,
                    OutputDirOptions out_options = OutputDirOptions()) {
  const auto d = load_probe_data(data_flags, static_cast<uint64_t>(flags.common.seed));
  const auto m = load_probe_model(flags, d.view.data->image_shape()[1]);
  check_channels(m, d.view);
  const OutputDir out(flags.common.out, out_options);
  o.out = flags.common.out;
  run(*m.model, d.view, o, m.device);
  print_report_path(flags.common);
}

}  // namespace

Runner add_probe_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("probe", "Look inside a classifier: feature visualisation, top images, dissection, SAE");
  cmd->require_subcommand(1, 1);

  auto* vis = cmd->add_subcommand("visualize", "One image per unit maximising its activation (pixel and Fourier)");
  vis->footer("Example:\n  loupe probe visualize --checkpoint lazy.pt --tap fc --out logits   # one image per class");
  auto fv = std::make_shared<std::pair<ProbeFlags, ProbeVisualizeOptions>>();
  auto method = std::make_shared<std::string>("both");
  add_probe_flags(vis, fv->first);
  vis->add_option("--method", *method, "pixel (the reference), fourier (Lucid) or both")
      ->check(CLI::IsMember({"pixel", "fourier", "both"}))
      ->capture_default_str();
  vis->add_option("--steps", fv->second.vis.steps, "optimisation steps")->capture_default_str();
  vis->add_option("--lr", fv->second.vis.lr, "Adam's learning rate")->capture_default_str();
  vis->add_option("--size", fv->second.vis.height, "image side in pixels (the model's input size)")
      ->capture_default_str();
  vis->add_option("--jitter", fv->second.vis.jitter, "pixel method: largest random roll per step")
      ->capture_default_str();

  auto* top = cmd->add_subcommand("top", "Each unit's most activating images with its maps, and their entropies");
  top->footer(
      "Example:\n  loupe probe top --checkpoint lazy.pt --tap conv3 --data gray-fashion-mnist --recolour --out top");
  auto ft = std::make_shared<std::tuple<ProbeFlags, ProbeDataFlags, ProbeTopOptions>>();
  auto reduce = std::make_shared<std::string>("mean");
  add_probe_flags(top, std::get<0>(*ft));
  add_probe_data_flags(top, std::get<1>(*ft));
  top->add_option("--k", std::get<2>(*ft).top.k, "top images per unit")->capture_default_str();
  top->add_option("--reduce", *reduce, "a unit's score on an image: mean or max of its map")
      ->check(CLI::IsMember(unit_reduce_names()))
      ->capture_default_str();
  top->add_option("--shown", std::get<2>(*ft).shown, "units drawn in the report")->capture_default_str();

  auto* dis = cmd->add_subcommand("dissect", "Unit labels: NetDissect IoU with concept masks, CLIP-Dissect soft-WPMI");
  dis->footer(
      "Examples:\n  loupe probe dissect --checkpoint lazy.pt --tap conv3 --data gray-fashion-mnist --recolour --out "
      "dis\n"
      "  loupe probe dissect --checkpoint m.pt --tap conv3 --data folder --data-dir imgs --images 0 "
      "--concepts clip.npy --concept-names words.txt --out clipdis");
  auto fd = std::make_shared<std::tuple<ProbeFlags, ProbeDataFlags, ProbeDissectOptions>>();
  auto names_file = std::make_shared<std::string>();
  auto concepts_file = std::make_shared<std::string>();
  add_probe_flags(dis, std::get<0>(*fd));
  add_probe_data_flags(dis, std::get<1>(*fd));
  dis->add_option("--quantile", std::get<2>(*fd).dissect.quantile, "NetDissect's top quantile")->capture_default_str();
  dis->add_option("--concepts", *concepts_file, "CLIP-Dissect: concept activations [images, concepts] as .npy");
  dis->add_option("--concept-names", *names_file, "one concept name per line (default: concept 0, 1, ...)");

  auto* sae =
      cmd->add_subcommand("sae", "A sparse autoencoder on the tap's activations: metrics, dashboards, steering");
  sae->footer(
      "Example:\n  loupe probe sae --checkpoint lazy.pt --tap conv3 --data gray-fashion-mnist --recolour "
      "--features 4096 --steps 2000 --out sae");
  auto fs_ = std::make_shared<std::tuple<ProbeFlags, ProbeDataFlags, ProbeSaeOptions>>();
  auto kind = std::make_shared<std::string>("relu");
  auto sampling = std::make_shared<std::string>("positions");
  add_probe_flags(sae, std::get<0>(*fs_));
  add_probe_data_flags(sae, std::get<1>(*fs_));
  auto& so = std::get<2>(*fs_);
  sae->add_option("--kind", *kind, "relu (L1 penalty) or topk")
      ->check(CLI::IsMember(sae_kind_names()))
      ->capture_default_str();
  sae->add_option("--features", so.train.spec.features, "dictionary size")->capture_default_str();
  sae->add_option("--k-active", so.train.spec.k, "topk: active features per sample")->capture_default_str();
  sae->add_option("--l1", so.train.l1, "relu: the L1 coefficient")->capture_default_str();
  sae->add_option("--lr", so.train.lr, "Adam's learning rate")->capture_default_str();
  sae->add_option("--steps", so.train.steps, "optimiser steps")->capture_default_str();
  sae->add_option("--batch", so.train.batch_size, "images per step")->capture_default_str();
  sae->add_option("--sampling", *sampling, "positions (every position is a sample) or pooled")
      ->check(CLI::IsMember(activation_sampling_names()))
      ->capture_default_str();
  sae->add_option("--resample-every", so.train.resample_every, "relu: silent steps before a feature is resampled")
      ->capture_default_str();
  sae->add_option("--steer", so.steer, "feature to steer with (-1 = the most frequent)")->capture_default_str();

  return [vis, top, dis, sae, fv, method, ft, reduce, fd, names_file, concepts_file, fs_, kind, sampling] {
    if (vis->parsed()) {
      auto& [flags, o] = *fv;
      o.tap = flags.tap;
      o.units = flags.units;
      o.methods = *method == "both"
                      ? std::vector<FeatureVisMethod>{FeatureVisMethod::kPixel, FeatureVisMethod::kFourier}
                      : std::vector<FeatureVisMethod>{parse_feature_vis_method(*method, "--method")};
      const auto m = load_probe_model(flags, fv->second.vis.height);
      o.vis.set_size(m.spec.in_channels, o.vis.height, o.vis.height).set_seed(static_cast<uint64_t>(flags.common.seed));
      check_feature_vis_options(o.vis);
      const OutputDir out(flags.common.out, OutputDirOptions().set_subfolders({"units"}));
      o.out = flags.common.out;
      run_probe_visualize(*m.model, o);
      print_report_path(flags.common);
    } else if (top->parsed()) {
      auto& [flags, data_flags, o] = *ft;
      o.tap = flags.tap;
      o.units = flags.units;
      o.top.reduce = parse_unit_reduce(*reduce, "--reduce");
      check_count("--k", o.top.k, 1, 1000);
      check_count("--shown", o.shown, 1, 4096);
      run_data_probe(flags, data_flags, o, run_probe_top);
    } else if (dis->parsed()) {
      auto& [flags, data_flags, o] = *fd;
      o.tap = flags.tap;
      o.units = flags.units;
      o.concepts_npy = *concepts_file;
      if (!names_file->empty()) o.concept_names = read_lines(*names_file);
      check_real("--quantile", o.dissect.quantile, 1e-6, 0.5, "NetDissect's top quantile");
      run_data_probe(flags, data_flags, o, run_probe_dissect);
    } else if (sae->parsed()) {
      auto& [flags, data_flags, o] = *fs_;
      o.tap = flags.tap;
      o.train.spec.kind = parse_sae_kind(*kind, "--kind");
      o.train.sampling = parse_activation_sampling(*sampling, "--sampling");
      o.train.seed = static_cast<uint64_t>(flags.common.seed);
      check_count("--features", o.train.spec.features, 1, 1 << 20);
      LOUPE_CHECK(
          o.train.spec.kind != SaeKind::kTopK || (o.train.spec.k >= 1 && o.train.spec.k <= o.train.spec.features),
          "--k-active ", o.train.spec.k, ": expected 1 to the dictionary size ", o.train.spec.features);
      check_real("--l1", o.train.l1, 0, 1e6);
      check_positive("--lr", o.train.lr);
      check_count("--steps", o.train.steps, 1, 100000000);
      check_count("--batch", o.train.batch_size, 1, 65536);
      check_count("--resample-every", o.train.resample_every, 0, 100000000, "0 = never");
      LOUPE_CHECK(o.steer >= -1, "--steer ", o.steer, ": expected a feature index or -1");
      run_data_probe(flags, data_flags, o, run_probe_sae,
                     OutputDirOptions().set_final_files({"report.html", "metrics.json", "sae.pt"}));
    }
  };
}

}  // namespace loupe::cli
