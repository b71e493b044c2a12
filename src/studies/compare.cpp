#include "loupe/studies/compare.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/npy.h"
#include "loupe/core/progress.h"
#include "loupe/studies/toolkit.h"

namespace loupe {
namespace {

using report::json;

// A horizontal colour bar with its end values written beside it: low at the left.
torch::Tensor colour_legend(Colormap cmap, const std::string& low, const std::string& high) {
  const int64_t width = 200, bar = 14, margin = 6;
  const auto strip = colorbar(width, bar, cmap).transpose(1, 2).flip({2});  // [3,bar,width]
  const int64_t left = margin + text_width(low) + margin;
  auto canvas = torch::ones({3, bar + 2 * margin, left + width + margin + text_width(high) + margin});
  canvas.narrow(1, margin, bar).narrow(2, left, width).copy_(strip);
  const int64_t y = margin + (bar - text_height(low)) / 2;
  draw_text(canvas, low, margin, y, 1, {0.f, 0.f, 0.f});
  draw_text(canvas, high, left + width + margin, y, 1, {0.f, 0.f, 0.f});
  return canvas;
}

}  // namespace

MapThreshold parse_map_threshold(const std::string& text) {
  const auto bad = [&] {
    fail("IoU threshold '", text, "': expected top:PERCENT (e.g. top:20), otsu or value:V (e.g. value:0.5)");
  };
  if (text == "otsu") return MapThreshold::otsu();
  const auto colon = text.find(':');
  if (colon == std::string::npos) bad();
  const auto kind = text.substr(0, colon), number = text.substr(colon + 1);
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(number, &used);
    if (used != number.size()) bad();
  } catch (const std::logic_error&) {
    bad();
  }
  if (kind == "top") {
    LOUPE_CHECK(v > 0 && v <= 100, "IoU threshold '", text, "': the percent of pixels kept must be in (0,100]");
    return MapThreshold::top_percent(v);
  }
  if (kind == "value") return MapThreshold::at_value(v);
  bad();
  return {};
}

std::string describe(const MapThreshold& t) {
  switch (t.kind) {
    case MapThreshold::Kind::Otsu:
      return "Otsu's threshold";
    case MapThreshold::Kind::TopPercent:
      return "the top " + study::fixed(t.value, t.value == std::floor(t.value) ? 0 : 1) + "% of pixels";
    case MapThreshold::Kind::Value:
      return "map >= " + study::fixed(t.value, 3);
  }
  return "";
}

MethodComparison compare_methods(TappedModel& model, const torch::Tensor& images, const torch::Tensor& classes,
                                 const CompareOptions& options) {
  check_images(images, "images");
  const int64_t n = images.size(0);
  LOUPE_CHECK(classes.defined() && classes.dim() == 1 && classes.size(0) == n && classes.scalar_type() == torch::kLong,
              "classes: expected int64 [", n, "] (one class per image), got ",
              classes.defined() ? classes.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(!options.methods.empty(),
              "--methods: expected at least one method; known: ", join_names(explainer_names()));
  std::set<std::string> seen;
  const auto known = explainer_names();
  for (const auto& m : options.methods) {
    LOUPE_CHECK(std::find(known.begin(), known.end(), m) != known.end(), "method '", m, "': unknown; expected one of ",
                join_names(known));
    LOUPE_CHECK(seen.insert(m).second, "method '", m, "' is listed twice");
  }
  MethodComparison result;
  result.classes = classes.cpu();
  // One call per method: the target knows each image's class (per-sample targets).
  const Target explained = class_logits(result.classes), probability = class_probabilities(result.classes);
  std::optional<Progress> progress;
  if (options.progress) progress.emplace("explain", static_cast<int64_t>(options.methods.size()), "method");
  for (const auto& method : options.methods) {
    MethodRun run;
    run.method = method;
    auto explainer = make_explainer(method, options.explain);
    const auto start = std::chrono::steady_clock::now();
    run.attribution = explainer->explain(model, images, explained);
    run.seconds = seconds_since(start);
    if (progress) progress->advance(1, method);
    if (options.faithfulness) {
      const auto maps = run.attribution.maps;
      const auto del = deletion_curve(model, images, maps, probability, options.faithfulness_options);
      const auto ins = insertion_curve(model, images, maps, probability, options.faithfulness_options);
      run.deletion_auc = del.auc;
      run.insertion_auc = ins.auc;
      run.deletion_scores = del.scores;
      run.insertion_scores = ins.scores;
      result.fractions = del.fractions;
    }
    result.runs.push_back(std::move(run));
  }
  if (progress) progress->finish();
  const int64_t m = static_cast<int64_t>(result.runs.size());
  result.iou = torch::ones({n, m, m}, torch::kDouble);
  std::vector<torch::Tensor> binary;
  for (const auto& run : result.runs)
    binary.push_back(binarize(run.attribution.maps.to(torch::kFloat), options.threshold));
  for (int64_t a = 0; a < m; ++a)
    for (int64_t b = a + 1; b < m; ++b) {
      const auto v = iou(binary[a], binary[b]).to(torch::kDouble).view({n});
      result.iou.select(1, a).select(1, b).copy_(v);
      result.iou.select(1, b).select(1, a).copy_(v);
    }
  return result;
}

void add_maps_figure(report::Report& r, const std::string& caption, const torch::Tensor& images,
                     const std::vector<std::string>& row_labels, const MethodComparison& c, bool signed_maps,
                     bool legend) {
  const int64_t n = images.size(0), m = static_cast<int64_t>(c.runs.size());
  LOUPE_CHECK(static_cast<int64_t>(row_labels.size()) == n, "row labels: expected ", n, ", got ", row_labels.size());
  const auto cmap = signed_maps ? Colormap::diverging : Colormap::jet;
  // One row per image: the image, then one overlay per method. Large sets are cut into
  // figures of 8 rows so each stays legible.
  const int64_t cell = std::max<int64_t>(96, std::min<int64_t>(160, images.size(3)));
  for (int64_t first = 0; first < n; first += 8) {
    const int64_t last = std::min(n, first + 8);
    std::vector<torch::Tensor> cells;
    std::vector<std::string> labels, rows;
    for (int64_t i = first; i < last; ++i) {
      const auto img = images[i].cpu().to(torch::kFloat);
      const auto rgb = img.size(0) == 1 ? img.expand({3, -1, -1}) : img;
      cells.push_back(rgb);
      labels.push_back(i == first ? "image" : "");
      for (const auto& run : c.runs) {
        const auto map = run.attribution.maps[i];
        cells.push_back(overlay_heatmap(rgb, signed_maps ? (map + 1) / 2 : map, 0.5, cmap));
        labels.push_back(i == first ? run.method : "");
      }
      rows.push_back(row_labels[i]);
    }
    const std::string part =
        n > 8 ? caption + ", images " + std::to_string(first + 1) + "-" + std::to_string(last) : caption;
    r.figure(part, image_grid(cells, labels, GridOptions(m + 1).cell_size(cell), rows));
  }
  if (legend) add_colour_scale(r, signed_maps);
}

void add_colour_scale(report::Report& r, bool signed_maps) {
  const auto cmap = signed_maps ? Colormap::diverging : Colormap::jet;
  r.figure(signed_maps ? "Colour scale: -1 evidence against the class, 0 none (white), +1 evidence for it"
                       : "Colour scale: 0 no evidence, 1 the strongest evidence in the image",
           signed_maps ? colour_legend(cmap, "-1", "+1") : colour_legend(cmap, "0", "1"));
}

void add_comparison_to_report(report::Report& r, const torch::Tensor& images, const std::vector<std::string>& names,
                              const MethodComparison& c, const CompareOptions& options) {
  const int64_t n = images.size(0), m = static_cast<int64_t>(c.runs.size());
  LOUPE_CHECK(static_cast<int64_t>(names.size()) == n, "image names: expected ", n, ", got ", names.size());
  std::vector<std::string> rows;
  for (int64_t i = 0; i < n; ++i)
    rows.push_back(names[i].substr(0, 14) + "\nclass " + std::to_string(c.classes[i].item<int64_t>()));
  add_maps_figure(r, "Maps", images, rows, c, options.explain.signed_maps);

  // Agreement: IoU of every method pair per image.
  if (m >= 2) {
    report::Table t;
    t.caption = "IoU between methods per image (each map binarised to " + describe(options.threshold) + ")";
    t.columns = {"image"};
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (int64_t a = 0; a < m; ++a)
      for (int64_t b = a + 1; b < m; ++b) {
        pairs.emplace_back(a, b);
        t.columns.push_back(c.runs[a].method + " / " + c.runs[b].method);
      }
    json per_image = json::array();
    for (int64_t i = 0; i < n; ++i) {
      std::vector<json> row{names[i]};
      json entry = {{"image", names[i]}};
      for (const auto& [a, b] : pairs) {
        const double v = c.iou[i][a][b].item<double>();
        row.push_back(v);
        entry[c.runs[a].method + "/" + c.runs[b].method] = v;
      }
      t.rows.push_back(row);
      per_image.push_back(entry);
    }
    std::vector<json> mean{"mean"};
    for (const auto& [a, b] : pairs) mean.push_back(c.iou.select(1, a).select(1, b).mean().item<double>());
    t.rows.push_back(mean);
    r.table(t);
    r.metric("iou_threshold", describe(options.threshold));
    r.metric("iou", per_image);
  }

  // Cost: wall time per method, per image and model evaluations.
  report::Table cost;
  cost.caption = "Time per method (wall clock, " + std::to_string(n) + " image(s))";
  cost.columns = {"method", "seconds per image", "model evaluations per image"};
  for (const auto& run : c.runs) {
    cost.rows.push_back({run.method, run.seconds / n, static_cast<double>(run.attribution.model_evaluations) / n});
    r.metric("methods." + run.method + ".seconds", run.seconds);
    r.metric("methods." + run.method + ".seconds_per_image", run.seconds / n);
    r.metric("methods." + run.method + ".model_evaluations", run.attribution.model_evaluations);
  }
  r.table(cost);

  if (c.fractions.defined()) {
    report::Table t;
    t.caption =
        "Faithfulness: deletion AUC (lower is better) and insertion AUC (higher is better) of the class "
        "probability, mean over images";
    t.columns = {"method", "deletion AUC", "insertion AUC"};
    std::vector<std::pair<std::string, std::vector<double>>> del_series, ins_series;
    std::vector<double> x(c.fractions.data_ptr<double>(), c.fractions.data_ptr<double>() + c.fractions.numel());
    for (const auto& run : c.runs) {
      const double d = run.deletion_auc.mean().item<double>(), in = run.insertion_auc.mean().item<double>();
      t.rows.push_back({run.method, d, in});
      r.metric("methods." + run.method + ".deletion_auc", d);
      r.metric("methods." + run.method + ".insertion_auc", in);
      const auto dm = run.deletion_scores.mean(0).to(torch::kDouble).contiguous();
      const auto im = run.insertion_scores.mean(0).to(torch::kDouble).contiguous();
      del_series.emplace_back(run.method,
                              std::vector<double>(dm.data_ptr<double>(), dm.data_ptr<double>() + dm.numel()));
      ins_series.emplace_back(run.method,
                              std::vector<double>(im.data_ptr<double>(), im.data_ptr<double>() + im.numel()));
    }
    r.table(t);
    r.chart("Deletion: class probability as the most important pixels are removed (mean over images)",
            report::line_chart("fraction of pixels removed", "class probability", del_series, x));
    r.chart("Insertion: class probability as the most important pixels are revealed on a blurred copy",
            report::line_chart("fraction of pixels inserted", "class probability", ins_series, x));
  }
}

std::vector<std::string> write_comparison_maps(const fs::path& dir, const std::vector<std::string>& names,
                                               const MethodComparison& c) {
  std::vector<std::string> written;
  for (size_t i = 0; i < names.size(); ++i)
    for (const auto& run : c.runs) {
      const auto rel = fs::path("maps") / names[i] / (run.method + ".npy");
      write_npy(dir / rel, run.attribution.maps[static_cast<int64_t>(i)].to(torch::kFloat).contiguous());
      written.push_back(rel.generic_string());
    }
  return written;
}

}  // namespace loupe
