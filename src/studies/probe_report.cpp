// The probe study's report sections and metrics (probe_steps.h).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/data/coloured.h"
#include "loupe/studies/toolkit.h"
#include "probe_steps.h"

namespace loupe::probe_study {

namespace {

using report::json;

double mean_of(const torch::Tensor& t) { return t.to(torch::kDouble).mean().item<double>(); }

std::string short_name(const std::string& n) {
  if (n.size() <= 7) return n;
  auto cut = n.substr(0, 6);
  while (!cut.empty() && cut.back() == ' ') cut.pop_back();
  return cut + ".";
}

// The concept label without its kind ("colour:red" → "red").
std::string concept_label(const ConceptSet& c, int64_t i) {
  const auto& n = c.names[static_cast<size_t>(i)];
  const auto colon = n.find(':');
  return colon == std::string::npos ? n : n.substr(colon + 1);
}

void add_summary(report::Report& r, const ProbeStudySettings& s, const std::vector<ModelProbe>& m) {
  r.section("Summary");
  const auto& lazy = m[0];
  const auto& control = m[1];
  std::ostringstream t;
  t << "Class-logit visualisations: the lazy model's wear their class's colour for "
    << study::percent(lazy.logits.match_fourier, 0) << " of classes (Fourier method; pixel method "
    << study::percent(lazy.logits.match_pixel, 0) << "), the control's for "
    << study::percent(control.logits.match_fourier, 0) << " (pixel " << study::percent(control.logits.match_pixel, 0)
    << "; chance is 10%). Mean saturation " << study::fixed(mean_of(lazy.logits.saturation_fourier), 2) << " against "
    << study::fixed(mean_of(control.logits.saturation_fourier), 2) << ". ";
  t << "Units labelled with a colour concept by NetDissect, per layer (lazy / control): ";
  for (size_t i = 0; i < lazy.layers.size(); ++i)
    t << (i ? ", " : "") << lazy.layers[i].tap << " " << study::percent(lazy.layers[i].colour_share, 0) << " / "
      << study::percent(control.layers[i].colour_share, 0);
  t << " (the control never saw colour, yet a tint changes how bright a stroke is, yellow more than blue, and its "
       "units follow brightness: the gap between the two models is the measure, not the share alone)";
  t << ". The colour entropy of each unit's top images (bits; 3.32 is colour-blind, 0 a single colour): ";
  for (size_t i = 0; i < lazy.layers.size(); ++i)
    t << (i ? ", " : "") << lazy.layers[i].tap << " " << study::fixed(mean_of(lazy.layers[i].colour_entropy), 2)
      << " / " << study::fixed(mean_of(control.layers[i].colour_entropy), 2);
  t << ". Probe images: gray test images each tinted with a colour drawn independently of its class, so colour and "
       "shape units can be told apart; "
    << s.probe_images << " of them.";
  r.text(t.str());
  std::vector<std::vector<json>> rows;
  for (const auto& model : m)
    for (const auto& l : model.layers)
      rows.push_back({model.model.name, l.tap, l.top.units.size(0), l.colour_share, 1.0 - l.colour_share,
                      mean_of(l.class_entropy), mean_of(l.colour_entropy), mean_of(l.dissection.best_iou)});
  r.table({"Per layer",
           {"model", "tap", "units", "colour units", "class units", "class entropy of top-k (bits)",
            "colour entropy of top-k (bits)", "mean best IoU"},
           rows});
  std::vector<std::string> taps;
  std::vector<double> lazy_share, control_share, lazy_h, control_h;
  for (size_t i = 0; i < lazy.layers.size(); ++i) {
    taps.push_back(lazy.layers[i].tap);
    lazy_share.push_back(lazy.layers[i].colour_share);
    control_share.push_back(control.layers[i].colour_share);
    lazy_h.push_back(mean_of(lazy.layers[i].colour_entropy));
    control_h.push_back(mean_of(control.layers[i].colour_entropy));
  }
  r.chart("Share of units whose best NetDissect concept is a colour",
          report::bar_chart("tap", "colour units", taps, {{"lazy", lazy_share}, {"control", control_share}}));
  r.chart("Colour entropy of each unit's top images, mean per layer (lower: the unit picks a colour)",
          report::bar_chart("tap", "bits", taps, {{"lazy", lazy_h}, {"control", control_h}}));
}

void add_logit_section(report::Report& r, const ShortcutData& d, const std::vector<ModelProbe>& m) {
  r.section("Class-logit visualisations");
  r.text(
      "One image per class maximising its logit: the reference's pixel method (noise start, Adam 0.05, blur every "
      "4 steps, clamp) and Lucid's Fourier method (1/f spectrum, decorrelated colour, jitter/scale/rotation). "
      "Caption: the class, then the palette colour nearest to the image's colour (a match means the class's own "
      "colour in training).");
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions, rows;
  const auto& names = coloured_palette_names();
  for (const auto& model : m)
    for (const bool fourier : {false, true}) {
      const auto& v = fourier ? model.logits.fourier : model.logits.pixel;
      const auto& colour = fourier ? model.logits.colour_fourier : model.logits.colour_pixel;
      const auto& matched = fourier ? model.logits.matched_fourier : model.logits.matched_pixel;
      for (int64_t k = 0; k < v.images.size(0); ++k) {
        cells.push_back(v.images[k]);
        const bool own = matched[k].item<bool>();
        const auto c = own ? k : colour[k].item<int64_t>();
        captions.push_back(short_name(d.classes[static_cast<size_t>(k)]) + (own ? " =" : " ~") +
                           names[static_cast<size_t>(c)]);
      }
      rows.push_back(model.model.name + (fourier ? " fourier" : " pixel"));
    }
  r.figure("Class-logit visualisations, lazy and control, both methods",
           image_grid(cells, captions, GridOptions(10).cell_size(84).padding(6), rows));
}

void add_layer_sections(report::Report& r, const ProbeStudyOptions& o, const ProbeSet& probe,
                        const ConceptSet& concepts, const std::vector<ModelProbe>& m) {
  for (size_t i = 0; i < m[0].layers.size(); ++i) {
    const auto& tap = m[0].layers[i].tap;
    r.section("Layer " + tap);
    std::vector<torch::Tensor> cells;
    std::vector<std::string> captions, rows;
    const int64_t shown = m[0].layers[i].pixel.images.size(0);
    for (const auto& model : m)
      for (const bool fourier : {false, true}) {
        const auto& l = model.layers[i];
        const auto& v = fourier ? l.fourier : l.pixel;
        for (int64_t u = 0; u < shown; ++u) {
          cells.push_back(v.images[u]);
          captions.push_back(std::to_string(u) + " " + concept_label(concepts, l.dissection.best[u].item<int64_t>()));
        }
        rows.push_back(model.model.name + (fourier ? " fourier" : " pixel"));
      }
    r.text("The first " + std::to_string(shown) +
           " units' visualisations; caption: the unit and its NetDissect label "
           "(the concept of highest IoU at the top " +
           study::fixed(100 * o.quantile, 1) + "% of its activations).");
    r.figure("Units of " + tap, image_grid(cells, captions, GridOptions(shown).cell_size(56).padding(4), rows));
    // The most colour-selective units of each model, with their top images and maps.
    for (const auto& model : m) {
      const auto& l = model.layers[i];
      const auto order = std::get<1>(l.colour_entropy.sort(true, 0, false));
      std::vector<torch::Tensor> tops;
      std::vector<std::string> tcaps, trows;
      const int64_t n_units = std::min<int64_t>(4, order.size(0)), k = l.top.indices.size(1);
      for (int64_t j = 0; j < n_units; ++j) {
        const int64_t u = order[j].item<int64_t>();
        for (int64_t t = 0; t < k; ++t) {
          const int64_t img = l.top.indices[u][t].item<int64_t>();
          const auto image = probe.data.get(torch::tensor({img})).images[0];
          auto map = l.top.maps[u][t];
          map = (map - map.min()) / (map.max() - map.min()).clamp_min(1e-12);
          tops.push_back(overlay_heatmap(image, map, 0.3));
          tcaps.push_back(coloured_palette_names()[static_cast<size_t>(probe.colours[static_cast<size_t>(img)])]);
        }
        trows.push_back("unit " + std::to_string(l.top.units[u].item<int64_t>()) +
                        " H=" + study::fixed(std::fabs(l.colour_entropy[u].item<double>()), 1));
      }
      r.figure(model.model.name + ": the " + std::to_string(n_units) +
                   " units of lowest colour entropy, their top images (caption: the image's colour)",
               image_grid(tops, tcaps, GridOptions(k).cell_size(56).padding(4), trows));
    }
  }
}

double nan_mean(const torch::Tensor& t) { return torch::nanmean(t.to(torch::kDouble)).item<double>(); }

void add_sae_section(report::Report& r, const ShortcutData& d, const ProbeSet& probe,
                     const std::vector<ModelProbe>& m) {
  r.section("Sparse autoencoder");
  const auto& first = m[0].sae;
  const auto& spec = first.training.sae->spec();
  r.text("A " + sae_kind_names()[static_cast<size_t>(spec.kind)] + " sparse autoencoder of " +
         std::to_string(spec.features) + " features on each model's " + first.tap +
         " activations (every position of every probe image is a sample), trained on the one training loop. "
         "Spliced: the model with " +
         first.tap + " replaced by the SAE's reconstruction; zero: with " + first.tap +
         " set to 0; loss recovered = (CE zero − CE spliced) / (CE zero − CE model). Colour entropy of a feature: of "
         "its top images' colours (low: a colour feature).");
  std::vector<std::vector<json>> rows;
  for (const auto& model : m) {
    const auto& x = model.sae.metrics;
    rows.push_back({model.model.name, x.mse, x.explained_variance, x.l0, x.dead_fraction, x.accuracy,
                    x.accuracy_spliced, x.accuracy_zero, x.loss_recovered, model.sae.training.resampled,
                    nan_mean(model.sae.colour_entropy), nan_mean(model.sae.class_entropy)});
  }
  r.table({"SAE metrics on the probe set",
           {"model", "MSE", "explained variance", "L0", "dead", "accuracy", "spliced", "zero-ablated", "CE recovered",
            "resampled", "colour entropy", "class entropy"},
           rows});
  for (const auto& model : m) {
    const auto& p = model.sae;
    // Dashboards: the 4 live features of lowest colour entropy and the 4 of lowest class entropy.
    std::vector<int64_t> picked;
    for (const auto* h : {&p.colour_entropy, &p.class_entropy}) {
      const auto order = std::get<1>(torch::nan_to_num(*h, 1e9).sort(true, 0, false));
      for (int64_t j = 0, added = 0; j < order.size(0) && added < 4; ++j) {
        const int64_t f = order[j].item<int64_t>();
        if (std::isnan(p.colour_entropy[f].item<double>()) ||
            std::find(picked.begin(), picked.end(), f) != picked.end())
          continue;
        picked.push_back(f);
        ++added;
      }
    }
    std::vector<torch::Tensor> cells;
    std::vector<std::string> captions, rows_label;
    const int64_t k = p.top.indices.size(1);
    for (const auto f : picked) {
      for (int64_t t = 0; t < k; ++t) {
        const int64_t img = p.top.indices[f][t].item<int64_t>();
        auto map = p.top.maps[f][t];
        map = map / map.max().clamp_min(1e-12);
        cells.push_back(overlay_heatmap(probe.data.get(torch::tensor({img})).images[0], map, 0.3));
        captions.push_back(short_name(d.classes[static_cast<size_t>(probe.data.labels()[img].item<int64_t>())]));
      }
      rows_label.push_back("f" + std::to_string(f) + " Hc " +
                           study::fixed(std::fabs(p.colour_entropy[f].item<double>()), 1) + " Hk " +
                           study::fixed(std::fabs(p.class_entropy[f].item<double>()), 1));
    }
    if (!cells.empty())
      r.figure(model.model.name +
                   ": features of lowest colour entropy (top rows) and of lowest class entropy; "
                   "caption: the image's class",
               image_grid(cells, captions, GridOptions(k).cell_size(56).padding(4), rows_label));
    if (p.steered >= 0) {
      std::vector<std::pair<std::string, std::vector<double>>> series;
      for (int64_t c = 0; c < p.steering.size(1); ++c)
        series.push_back({d.classes[static_cast<size_t>(c)], study::to_doubles(p.steering.select(1, c))});
      r.chart(model.model.name + ": steering with feature " + std::to_string(p.steered) +
                  " (lowest colour entropy): mean class probability on 256 probe images as α × its typical activation "
                  "is added at " +
                  p.tap,
              report::line_chart("α", "mean probability", series, p.alphas));
    }
  }
}

void add_metrics(report::Report& r, const ProbeStudyOptions& o, const ProbeStudySettings& s, const ConceptSet& concepts,
                 const std::vector<ModelProbe>& m, double seconds) {
  r.metric("study", "probe");
  r.metric("settings", {{"preset", preset_name(o.common.preset)},
                        {"arch", s.arch},
                        {"probe_images", s.probe_images},
                        {"steps", s.steps},
                        {"top_k", o.top_k},
                        {"quantile", o.quantile},
                        {"sae_kind", o.sae_kind},
                        {"sae_features", s.sae_features},
                        {"sae_steps", s.sae_steps},
                        {"probe_set", "the first probe_images gray test images, colours drawn with seed + 17"},
                        {"seed", o.common.seed}});
  r.metric("concepts", concepts.names);
  for (const auto& model : m) {
    const std::string k = model.model.name + ".";
    r.metric(k + "source", model.model.source);
    r.metric(k + "logits.colour_match_pixel", model.logits.match_pixel);
    r.metric(k + "logits.colour_match_fourier", model.logits.match_fourier);
    r.metric(k + "logits.saturation_pixel", study::to_doubles(model.logits.saturation_pixel));
    r.metric(k + "logits.saturation_fourier", study::to_doubles(model.logits.saturation_fourier));
    r.metric(k + "logits.nearest_colour_fourier", study::to_int64s(model.logits.colour_fourier));
    const auto& p = model.sae;
    r.metric(k + "sae.checkpoint", p.checkpoint.string());
    r.metric(k + "sae.tap", p.tap);
    r.metric(k + "sae.mse", p.metrics.mse);
    r.metric(k + "sae.explained_variance", p.metrics.explained_variance);
    r.metric(k + "sae.l0", p.metrics.l0);
    r.metric(k + "sae.dead_fraction", p.metrics.dead_fraction);
    r.metric(k + "sae.accuracy", p.metrics.accuracy);
    r.metric(k + "sae.accuracy_spliced", p.metrics.accuracy_spliced);
    r.metric(k + "sae.accuracy_zero", p.metrics.accuracy_zero);
    r.metric(k + "sae.loss_recovered", p.metrics.loss_recovered);
    r.metric(k + "sae.resampled", p.training.resampled);
    r.metric(k + "sae.feature_frequency", study::to_doubles(p.metrics.feature_frequency));
    r.metric(k + "sae.colour_entropy", study::to_doubles(p.colour_entropy));
    r.metric(k + "sae.class_entropy", study::to_doubles(p.class_entropy));
    r.metric(k + "sae.top_indices", study::matrix_json(p.top.indices));
    r.metric(k + "sae.steered_feature", p.steered);
    r.metric(k + "sae.steering_alphas", p.alphas);
    if (p.steering.defined()) r.metric(k + "sae.steering", study::matrix_json(p.steering));
    for (const auto& l : model.layers) {
      const std::string t = k + "taps." + l.tap + ".";
      r.metric(t + "colour_share", l.colour_share);
      r.metric(t + "class_entropy", study::to_doubles(l.class_entropy));
      r.metric(t + "colour_entropy", study::to_doubles(l.colour_entropy));
      r.metric(t + "label", study::to_int64s(l.dissection.best));
      r.metric(t + "iou", study::to_doubles(l.dissection.best_iou));
      r.metric(t + "threshold", study::to_doubles(l.dissection.thresholds));
      r.metric(t + "top_indices", study::matrix_json(l.top.indices));
    }
  }
  r.metric("timing.seconds", seconds);
}

}  // namespace

void add_report(report::Report& r, const ProbeStudyOptions& o, const ProbeStudySettings& s, const ShortcutData& d,
                const ProbeSet& probe, const ConceptSet& concepts, const std::vector<ModelProbe>& models,
                double seconds) {
  add_summary(r, s, models);
  add_logit_section(r, d, models);
  add_layer_sections(r, o, probe, concepts, models);
  add_sae_section(r, d, probe, models);
  add_metrics(r, o, s, concepts, models, seconds);
}

}  // namespace loupe::probe_study
