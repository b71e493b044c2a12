#include "loupe/studies/probe_commands.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/npy.h"
#include "loupe/data/coloured.h"
#include "loupe/probe/colour_stats.h"
#include "loupe/probe/units.h"
#include "loupe/studies/toolkit.h"

namespace loupe {

namespace {

using report::json;

std::string probe_short(const std::string& n) { return n.size() > 8 ? n.substr(0, 7) + "." : n; }

// Rows of top images with their maps: one row per unit (or feature).
torch::Tensor top_grid(const TopActivations& top, const std::vector<int64_t>& rows, const TensorDataset& data,
                       const std::vector<std::string>& row_names) {
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions;
  const int64_t k = top.indices.size(1);
  for (const auto r : rows)
    for (int64_t t = 0; t < k; ++t) {
      const int64_t img = top.indices[r][t].item<int64_t>();
      auto map = top.maps[r][t];
      map = (map - map.min()) / (map.max() - map.min()).clamp_min(1e-12);
      cells.push_back(overlay_heatmap(data.get(torch::tensor({img})).images[0], map, 0.3));
      captions.push_back(probe_short(data.class_names()[static_cast<size_t>(data.labels()[img].item<int64_t>())]));
    }
  return image_grid(cells, captions, GridOptions(k).cell_size(64).padding(4), row_names);
}

std::vector<int64_t> first_rows(int64_t n, int64_t shown) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < std::min(n, shown); ++i) rows.push_back(i);
  return rows;
}

torch::Tensor gather_rows(const std::vector<int64_t>& values, const torch::Tensor& indices) {
  return torch::tensor(values, torch::kLong).index_select(0, indices.flatten()).view(indices.sizes());
}

}  // namespace

report::Report run_probe_visualize(TappedModel& model, const ProbeVisualizeOptions& o) {
  LOUPE_CHECK(!o.methods.empty(), "--method: expected pixel, fourier or both");
  std::vector<FeatureVis> results;
  for (const auto m : o.methods)
    results.push_back(visualize_units(model, o.tap, o.units, FeatureVisOptions(o.vis).set_method(m)));
  const auto units = study::to_int64s(results.front().units);
  const int64_t n = static_cast<int64_t>(units.size());
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions, rows;
  for (size_t m = 0; m < results.size(); ++m) {
    const auto method = feature_vis_method_names()[static_cast<size_t>(o.methods[m])];
    for (int64_t u = 0; u < n; ++u) {
      const auto image = results[m].images[u];
      write_png(o.out / "units" / (o.tap + "_" + std::to_string(units[static_cast<size_t>(u)]) + "_" + method + ".png"),
                image);
      cells.push_back(image);
      captions.push_back(std::to_string(units[static_cast<size_t>(u)]));
    }
    rows.push_back(method);
  }
  report::Report r("Feature visualisation: " + model.arch() + " · " + o.tap,
                   std::to_string(n) + " unit(s) · " + std::to_string(o.vis.steps) + " steps");
  r.section("Units");
  r.text("One image per unit maximising its mean activation at " + o.tap +
         ": the reference's pixel method (noise start, Adam, blur every " + std::to_string(o.vis.blur_every) +
         " steps, clamp) and Lucid's Fourier method (1/f spectrum, decorrelated colour, transformation robustness). "
         "Every unit of a method is optimised in one batch. The PNGs are in units/.");
  const int64_t cols = std::min<int64_t>(n, 16);
  for (size_t m = 0; m < results.size(); ++m) {
    std::vector<torch::Tensor> part(cells.begin() + static_cast<int64_t>(m) * n,
                                    cells.begin() + static_cast<int64_t>(m + 1) * n);
    std::vector<std::string> caps(captions.begin() + static_cast<int64_t>(m) * n,
                                  captions.begin() + static_cast<int64_t>(m + 1) * n);
    r.figure(rows[m] + " method", image_grid(part, caps, GridOptions(cols).cell_size(64).padding(4)));
  }
  std::vector<std::pair<std::string, std::vector<double>>> curves;
  for (size_t m = 0; m < results.size(); ++m) curves.push_back({rows[m], results[m].objective});
  r.chart("Mean activation of the units over the steps", report::line_chart("step", "mean activation", curves));
  r.metric("tap", o.tap);
  r.metric("units", units);
  for (size_t m = 0; m < results.size(); ++m) {
    r.metric(rows[m] + ".final_activation", study::to_doubles(results[m].activation));
    r.metric(rows[m] + ".saturation",
             study::to_doubles(mean_saturation(
                 results[m].images.size(1) == 3 ? results[m].images : results[m].images.expand({-1, 3, -1, -1}))));
  }
  r.write(o.out);
  return r;
}

report::Report run_probe_top(TappedModel& model, const ProbeData& d, const ProbeTopOptions& o, torch::Device device) {
  const auto top = top_activations(model, *d.data, o.tap, o.units, o.top, device);
  const int64_t k_classes = d.data->num_classes();
  const auto class_h =
      row_entropy(d.data->labels().index_select(0, top.indices.flatten()).view(top.indices.sizes()), k_classes);
  torch::Tensor colour_h;
  if (!d.colours.empty()) colour_h = row_entropy(gather_rows(d.colours, top.indices), 10);
  const auto units = study::to_int64s(top.units);
  report::Report r("Top activations: " + model.arch() + " · " + o.tap,
                   std::to_string(units.size()) + " unit(s) · top " + std::to_string(top.indices.size(1)) + " of " +
                       std::to_string(d.data->size()) + " images (" + d.name + ")");
  r.section("Summary");
  std::string text = "Per unit, the images whose " + unit_reduce_names()[static_cast<size_t>(o.top.reduce)] +
                     " activation at " + o.tap +
                     " is largest, found in one streaming pass, with the unit's map over each. Entropy of their "
                     "classes (bits; 0 = one class): mean " +
                     study::fixed(class_h.mean().item<double>(), 2) + ".";
  if (colour_h.defined())
    text += " Of their colours: mean " + study::fixed(colour_h.mean().item<double>(), 2) +
            " (low: a colour unit; the colours were drawn independently of the class).";
  r.text(text);
  std::vector<std::vector<json>> rows;
  for (size_t i = 0; i < units.size(); ++i) {
    std::vector<json> row = {units[i], top.scores[static_cast<int64_t>(i)][0].item<double>(),
                             class_h[static_cast<int64_t>(i)].item<double>()};
    row.push_back(colour_h.defined() ? json(colour_h[static_cast<int64_t>(i)].item<double>()) : json(nullptr));
    rows.push_back(row);
  }
  r.table({"Units", {"unit", "best activation", "class entropy", "colour entropy"}, rows});
  r.section("Top images");
  const auto shown = first_rows(static_cast<int64_t>(units.size()), o.shown);
  std::vector<std::string> names;
  for (const auto i : shown) names.push_back("unit " + std::to_string(units[static_cast<size_t>(i)]));
  r.figure("The first " + std::to_string(shown.size()) + " units' top images (caption: the class)",
           top_grid(top, shown, *d.data, names));
  r.metric("tap", o.tap);
  r.metric("data", d.name);
  r.metric("units", units);
  r.metric("top_indices", study::matrix_json(top.indices));
  r.metric("top_scores", study::matrix_json(top.scores.to(torch::kDouble)));
  r.metric("class_entropy", study::to_doubles(class_h));
  if (colour_h.defined()) r.metric("colour_entropy", study::to_doubles(colour_h));
  r.write(o.out);
  return r;
}

report::Report run_probe_dissect(TappedModel& model, const ProbeData& d, const ProbeDissectOptions& o,
                                 torch::Device device) {
  const bool netdissect = d.concepts.has_value() || !d.colours.empty(), wpmi = !o.concepts_npy.empty();
  LOUPE_CHECK(
      netdissect || wpmi,
      "dissect: no concepts to compare with; give a gray dataset with --recolour (colour and class concepts "
      "from the strokes), shapes3d (its parts by hue), or a concept-activation matrix with --concepts FILE.npy");
  torch::Tensor concept_matrix;
  std::vector<std::string> concept_names = o.concept_names;
  if (wpmi) {
    concept_matrix = read_npy(o.concepts_npy).to(torch::kDouble);
    LOUPE_CHECK(concept_matrix.dim() == 2 && concept_matrix.size(0) == d.data->size(), "--concepts ",
                o.concepts_npy.string(), ": a matrix of shape ", concept_matrix.sizes(), "; expected [", d.data->size(),
                " images, M concepts] over the probed images in order");
    if (concept_names.empty())
      for (int64_t m = 0; m < concept_matrix.size(1); ++m) concept_names.push_back("concept " + std::to_string(m));
    LOUPE_CHECK(static_cast<int64_t>(concept_names.size()) == concept_matrix.size(1),
                "--concept-names: ", concept_names.size(), " names for ", concept_matrix.size(1), " concepts in ",
                o.concepts_npy.string());
  }
  report::Report r("Unit dissection: " + model.arch() + " · " + o.tap,
                   d.name + " · " + std::to_string(d.data->size()) + " images");
  r.section("Labels");
  std::vector<std::vector<json>> rows;
  Dissection dis;
  ConceptSet concepts;
  if (netdissect) {
    concepts = d.concepts ? *d.concepts : coloured_concepts(d.data->class_names(), d.colours, d.data->labels());
    dis = dissect(model, *d.data, o.tap, o.units, concepts, o.dissect, device);
  }
  torch::Tensor sim, unit_index;
  if (wpmi) {
    const auto shape = d.data->image_shape();
    unit_index = resolve_units(o.units, unit_count(model, o.tap, {shape[0], shape[1], shape[2]}), o.tap);
    torch::NoGradGuard no_grad;
    model.eval();
    std::vector<torch::Tensor> acts;
    for (int64_t start = 0; start < d.data->size(); start += 256) {
      const int64_t n = std::min<int64_t>(256, d.data->size() - start);
      const auto images = d.data->get(torch::arange(start, start + n, torch::kLong)).images.to(device);
      acts.push_back(unit_activations(model, images, o.tap, unit_index).flatten(2).mean(2).cpu());
    }
    auto w = o.wpmi;
    w.top_k = std::min<int64_t>(w.top_k, d.data->size());
    sim = soft_wpmi(torch::cat(acts), concept_matrix, w);
  }
  const auto units = study::to_int64s(netdissect ? dis.units : unit_index);
  std::map<std::string, int64_t> kind_counts;  // units per concept kind
  for (size_t i = 0; i < units.size(); ++i) {
    const auto u = static_cast<int64_t>(i);
    std::vector<json> row = {units[i]};
    if (netdissect) {
      const auto b = dis.best[u].item<int64_t>();
      ++kind_counts[concepts.kinds[static_cast<size_t>(b)]];
      row.push_back(concepts.names[static_cast<size_t>(b)]);
      row.push_back(dis.best_iou[u].item<double>());
    }
    if (wpmi) {
      const auto b = sim[u].argmax().item<int64_t>();
      row.push_back(concept_names[static_cast<size_t>(b)]);
      row.push_back(sim[u][b].item<double>());
    }
    rows.push_back(row);
  }
  std::vector<std::string> cols = {"unit"};
  if (netdissect) cols.insert(cols.end(), {"NetDissect label", "IoU"});
  if (wpmi) cols.insert(cols.end(), {"soft-WPMI label", "similarity"});
  std::string text;
  if (netdissect) {
    text += "NetDissect: each unit's maps, upsampled and thresholded at its top " +
            study::fixed(100 * o.dissect.quantile, 2) + "% over the data, against each concept's pixels (" +
            std::to_string(concepts.names.size()) + " concepts); units per kind of label:";
    for (const auto& [kind, count] : kind_counts) text += " " + kind + " " + std::to_string(count);
    text += ". ";
  }
  if (wpmi)
    text += "CLIP-Dissect: soft-WPMI of each unit's top images (by mean activation) against the concept matrix " +
            o.concepts_npy.filename().string() + ".";
  r.text(text);
  r.table({"Unit labels", cols, rows});
  r.metric("tap", o.tap);
  r.metric("units", units);
  if (netdissect) {
    r.metric("netdissect.concepts", concepts.names);
    r.metric("netdissect.label", study::to_int64s(dis.best));
    r.metric("netdissect.iou", study::to_doubles(dis.best_iou));
    r.metric("netdissect.thresholds", study::to_doubles(dis.thresholds));
    r.metric("netdissect.units_per_kind", kind_counts);
  }
  if (wpmi) {
    r.metric("wpmi.concepts", concept_names);
    r.metric("wpmi.label", study::to_int64s(sim.argmax(1)));
    r.metric("wpmi.similarity", study::matrix_json(sim));
  }
  r.write(o.out);
  return r;
}

report::Report run_probe_sae(TappedModel& model, const ProbeData& d, const ProbeSaeOptions& o, torch::Device device) {
  auto train = o.train;
  if (train.checkpoint.empty()) train.checkpoint = o.out / "sae.pt";
  auto trained = train_sae(model, o.tap, *d.data, train, device);
  auto& sae = *trained.sae;
  const auto m = evaluate_sae(model, o.tap, sae, *d.data, train.sampling, device);
  const auto top = top_feature_activations(model, o.tap, sae, *d.data, o.k, device);
  const auto freq = m.feature_frequency;
  const int64_t features = sae.spec().features;
  LOUPE_CHECK(o.steer < features, "--steer ", o.steer, ": expected a feature in [0, ", features, ")");
  const auto order = std::get<1>(freq.sort(true, 0, true));
  std::vector<int64_t> shown;
  for (int64_t i = 0; i < std::min(o.dashboards, features); ++i)
    if (freq[order[i]].item<double>() > 0) shown.push_back(order[i].item<int64_t>());
  const auto class_h = row_entropy(d.data->labels().index_select(0, top.indices.flatten()).view(top.indices.sizes()),
                                   d.data->num_classes());
  report::Report r("Sparse autoencoder: " + model.arch() + " · " + o.tap,
                   std::to_string(features) + " features · " + sae_kind_names()[static_cast<size_t>(sae.spec().kind)] +
                       " · " + std::to_string(train.steps) + " steps on " + d.name);
  r.section("Metrics");
  r.table(
      {"On the training images",
       {"MSE", "explained variance", "L0", "dead", "accuracy", "spliced", "zero-ablated", "CE recovered", "resampled"},
       {{m.mse, m.explained_variance, m.l0, m.dead_fraction, m.accuracy, m.accuracy_spliced, m.accuracy_zero,
         m.loss_recovered, trained.resampled}}});
  r.text("Spliced: the classifier with " + o.tap + " replaced by the SAE's reconstruction; zero-ablated: with " +
         o.tap +
         " set to 0. The SAE is in sae.pt (module \"sae\"); metrics.json holds every feature's frequency and "
         "top images, enough to rebuild the dashboards.");
  std::vector<double> record_steps;
  for (const auto& rec : trained.run.history) record_steps.push_back(static_cast<double>(rec.step));
  r.chart("Training: reconstruction error (inputs scaled to E|x|² = d) and L0",
          report::line_chart("step", "value",
                             {{"mse (scaled)", history_series(trained.run.history, "mse")},
                              {"L0", history_series(trained.run.history, "l0")}},
                             record_steps));
  r.section("Features");
  std::vector<std::string> names;
  for (const auto f : shown)
    names.push_back("f" + std::to_string(f) + " " + study::percent(freq[f].item<double>(), 1) + " Hk " +
                    study::fixed(std::fabs(class_h[f].item<double>()), 1));
  if (!shown.empty())
    r.figure("The most frequent features' top images (row: feature, how often it fires, class entropy)",
             top_grid(top, shown, *d.data, names));
  const int64_t steered = o.steer >= 0 ? o.steer : (shown.empty() ? -1 : shown.front());
  if (steered >= 0) {
    const double typical = top.scores[steered].mean().item<double>();
    std::vector<double> scaled;
    for (const double a : o.alphas) scaled.push_back(a * typical);
    const auto images = d.data->get(torch::arange(std::min<int64_t>(256, d.data->size()), torch::kLong)).images;
    const auto p = steer(model, o.tap, sae, steered, scaled, images.to(device));
    std::vector<std::pair<std::string, std::vector<double>>> series;
    for (int64_t c = 0; c < p.size(1); ++c)
      series.push_back({d.data->class_names()[static_cast<size_t>(c)], study::to_doubles(p.select(1, c))});
    r.chart("Steering with feature " + std::to_string(steered) +
                ": mean class probability as α × its typical "
                "activation is added at " +
                o.tap,
            report::line_chart("α", "mean probability", series, o.alphas));
    r.metric("steering.feature", steered);
    r.metric("steering.alphas", o.alphas);
    r.metric("steering.probabilities", study::matrix_json(p));
  }
  r.metric("tap", o.tap);
  r.metric("spec", nlohmann::json::parse(sae_spec_json(sae.spec())));
  r.metric("mse", m.mse);
  r.metric("explained_variance", m.explained_variance);
  r.metric("l0", m.l0);
  r.metric("dead_fraction", m.dead_fraction);
  r.metric("accuracy", m.accuracy);
  r.metric("accuracy_spliced", m.accuracy_spliced);
  r.metric("accuracy_zero", m.accuracy_zero);
  r.metric("loss_recovered", m.loss_recovered);
  r.metric("feature_frequency", study::to_doubles(freq));
  r.metric("top_indices", study::matrix_json(top.indices));
  r.metric("class_entropy", study::to_doubles(class_h));
  int64_t per_image = 1;
  {
    torch::NoGradGuard no_grad;
    per_image =
        activation_vectors(model, d.data->get(torch::zeros({1}, torch::kLong)).images.to(device), o.tap, train.sampling)
            .size(0);
  }
  const double images_per_second =
      trained.run.train_seconds > 0 ? static_cast<double>(trained.run.images_seen) / trained.run.train_seconds : 0.0;
  r.metric("training.images_per_second", images_per_second);
  r.metric("training.activations_per_second", images_per_second * static_cast<double>(per_image));
  r.text("Training throughput: " + std::to_string(static_cast<int64_t>(images_per_second * per_image)) +
         " activation vectors/s (" + std::to_string(per_image) + " per image) on " + device.str() + ".");
  r.write(o.out);
  return r;
}

}  // namespace loupe
