#include <torch/torch.h>

#include <chrono>
#include <random>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/models/checkpoint.h"
#include "loupe/probe/colour_stats.h"
#include "loupe/probe/dissect.h"
#include "loupe/probe/feature_vis.h"
#include "loupe/probe/sae.h"
#include "loupe/probe/top_activations.h"
#include "loupe/probe/units.h"
#include "loupe/studies/bias.h"
#include "loupe/studies/probe.h"
#include "loupe/studies/shortcut.h"
#include "loupe/studies/toolkit.h"
#include "probe_steps.h"

namespace loupe {

ProbeStudySettings resolve(const ProbeStudyOptions& o) {
  const bool paper = o.common.preset == Preset::kPaper;
  ProbeStudySettings s;
  BiasStudyOptions bias;
  bias.common = o.common;
  s.training = resolve(bias);
  s.arch = s.training.arch;
  s.units_shown = o.units_shown.value_or(paper ? 64 : 16);
  s.probe_images = o.probe_images.value_or(paper ? 10000 : 2000);
  s.steps = o.steps.value_or(300);
  s.sae_features = o.sae_features.value_or(paper ? 4096 : 512);
  s.sae_steps = o.sae_steps.value_or(paper ? 5000 : 400);
  s.sae_batch = paper ? 64 : 32;
  parse_sae_kind(o.sae_kind, "--sae");
  check_count("--sae-features", s.sae_features, 1, 1 << 20);
  check_count("--sae-steps", s.sae_steps, 1, 10000000);
  LOUPE_CHECK(o.sae_kind != "topk" || (o.sae_k >= 1 && o.sae_k <= s.sae_features), "--sae-k ", o.sae_k,
              ": expected 1 to the dictionary size ", s.sae_features);
  check_real("--sae-l1", o.sae_l1, 0, 1e6);
  check_shortcut_data_options(ShortcutDataOptions{o.base, o.data_dir, o.bias, o.test_offset});
  check_count("--units", s.units_shown, 1, 4096, "units per tap shown");
  check_count("--probe-images", s.probe_images, 10, 10000, "probe images (the test split has 10000)");
  check_count("--steps", s.steps, 1, 100000);
  check_count("--top-k", o.top_k, 1, 100);
  check_real("--quantile", o.quantile, 1e-6, 0.5, "NetDissect's top quantile");
  return s;
}

namespace probe_study {

namespace {

Model obtain_model(const ProbeStudyOptions& o, const ProbeStudySettings& s, const ShortcutData& d,
                   const std::string& name, const fs::path& checkpoint) {
  const auto device = o.common.device;
  if (!checkpoint.empty())
    return {name, load_shortcut_model(checkpoint, "--" + name + " " + checkpoint.string(), device),
            checkpoint.string()};
  const auto& b = s.training;
  ShortcutTrainOptions t;
  t.arch = s.arch;
  t.optimizer = b.optimizer;
  t.lr = b.lr;
  t.epochs = b.epochs;
  t.batch_size = b.batch_size;
  t.seed = o.common.seed;
  t.checkpoint = o.common.out / "models" / (name + ".pt");
  t.label = "train " + name;
  return {name, train_shortcut_model(d, name == "control", t, device).model, "trained here"};
}

ProbeSet probe_set(const ShortcutData& d, int64_t n, uint64_t seed) {
  LOUPE_CHECK(n <= d.gray.test.size(), "--probe-images ", n, ": the test split has only ", d.gray.test.size(),
              " images");
  auto set = recolour_randomly(d.gray.test.subset(torch::arange(n, torch::kLong)), seed);
  return {std::move(set.data), std::move(set.colours)};
}

}  // namespace

namespace {

LogitVis logit_visualisations(TappedModel& net, const ProbeStudySettings& s, uint64_t seed) {
  const auto tap = net.tap_names().back();
  auto o = FeatureVisOptions().set_size(3, 28, 28).set_steps(s.steps).set_seed(seed);
  LogitVis v;
  v.pixel = visualize_units(net, tap, {}, o);
  v.fourier = visualize_units(net, tap, {}, FeatureVisOptions(o).set_method(FeatureVisMethod::kFourier));
  const auto& palette = coloured_palette();
  // Class k wears colour k in training; green/dark green and cyan/teal share a
  // chromaticity, so a match is k being among the nearest.
  const auto matched = [&palette](const torch::Tensor& images) {
    const auto d = palette_distances(images, palette);
    return d.diagonal().le(std::get<0>(d.min(1)) + 1e-9);
  };
  v.saturation_pixel = mean_saturation(v.pixel.images);
  v.saturation_fourier = mean_saturation(v.fourier.images);
  v.colour_pixel = nearest_palette_colour(v.pixel.images, palette);
  v.colour_fourier = nearest_palette_colour(v.fourier.images, palette);
  v.matched_pixel = matched(v.pixel.images);
  v.matched_fourier = matched(v.fourier.images);
  v.match_pixel = v.matched_pixel.to(torch::kDouble).mean().item<double>();
  v.match_fourier = v.matched_fourier.to(torch::kDouble).mean().item<double>();
  return v;
}

LayerProbe probe_layer(TappedModel& net, const std::string& tap, const ProbeSet& probe, const ConceptSet& concepts,
                       const ProbeStudyOptions& o, const ProbeStudySettings& s) {
  const auto device = o.common.device;
  LayerProbe l;
  l.tap = tap;
  const int64_t count = unit_count(net, tap, {3, 28, 28});
  std::vector<int64_t> shown;
  for (int64_t u = 0; u < std::min(count, s.units_shown); ++u) shown.push_back(u);
  const auto vis = FeatureVisOptions().set_size(3, 28, 28).set_steps(s.steps).set_seed(o.common.seed);
  l.pixel = visualize_units(net, tap, shown, vis);
  l.fourier = visualize_units(net, tap, shown, FeatureVisOptions(vis).set_method(FeatureVisMethod::kFourier));
  l.top = top_activations(net, probe.data, tap, {}, TopActivationsOptions().set_k(o.top_k), device);
  l.class_entropy =
      row_entropy(probe.data.labels().index_select(0, l.top.indices.flatten()).view(l.top.indices.sizes()), 10);
  const auto colours = torch::tensor(probe.colours, torch::kLong);
  l.colour_entropy = row_entropy(colours.index_select(0, l.top.indices.flatten()).view(l.top.indices.sizes()), 10);
  l.dissection = dissect(net, probe.data, tap, {}, concepts, DissectOptions().set_quantile(o.quantile), device);
  int64_t colour_units = 0;
  for (const auto b : study::to_int64s(l.dissection.best))
    colour_units += concepts.kinds[static_cast<size_t>(b)] == "colour";
  l.colour_share = static_cast<double>(colour_units) / static_cast<double>(count);
  return l;
}

}  // namespace

}  // namespace probe_study

report::Report run_probe_study(const ProbeStudyOptions& o) {
  using namespace probe_study;
  const auto started = std::chrono::steady_clock::now();
  const auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models"}));
  ShortcutDataOptions data_options{o.base, o.data_dir, o.bias, o.test_offset};
  data_options.seed = o.common.seed;
  data_options.train_images = s.training.train_images;
  const auto d = load_shortcut_data(data_options);
  std::vector<ModelProbe> models;
  models.push_back({obtain_model(o, s, d, "lazy", o.lazy), {}, {}, {}});
  models.push_back({obtain_model(o, s, d, "control", o.control), {}, {}, {}});
  const auto probe = probe_set(d, s.probe_images, o.common.seed);
  const auto concepts = coloured_concepts(d.classes, probe.colours, probe.data.labels());
  auto taps = o.taps.empty() ? feature_map_taps(*models[0].model.net, {3, 28, 28}) : o.taps;
  for (auto& m : models) {
    m.logits = logit_visualisations(*m.model.net, s, o.common.seed);
    for (const auto& tap : taps) m.layers.push_back(probe_layer(*m.model.net, tap, probe, concepts, o, s));
    m.sae = sae_probe(*m.model.net, taps.back(), m.model.name, probe, o, s);
  }
  report::Report r("Probe study: what the shortcut study's models detect",
                   "preset " + preset_name(o.common.preset) + " · " + s.arch + " · " + std::to_string(s.probe_images) +
                       " probe images");
  add_report(r, o, s, d, probe, concepts, models, seconds_since(started));
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
