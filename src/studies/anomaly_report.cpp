// loupe study anomaly: the report's sections and metrics.json.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/core/preset.h"
#include "loupe/studies/toolkit.h"
#include "loupe/train/history.h"
#include "studies/anomaly_steps.h"

namespace loupe::anomaly_study {
namespace {

using report::json;
using study::fixed;

const char* const kVegaSchema = "https://vega.github.io/schema/vega-lite/v5.json";

// The mean of the defined J* (NaN where there is none).
double nan_mean(const torch::Tensor& values) { return values.to(torch::kDouble).nanmean().item<double>(); }

// J* as report text: "0.42", or "-" where undefined.
std::string jaccard_text(double j) { return std::isfinite(j) ? fixed(j, 2) : "-"; }

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::vector<json> numbers_or_null(const torch::Tensor& t) {
  std::vector<json> out;
  for (const double v : study::to_doubles(t)) out.push_back(number_or_null(v));
  return out;
}

// The test image's file, relative to the category folder (test/crack/003.png).
std::string test_file(const Data& data, int64_t pos) {
  const auto& file = data.category.test.files[static_cast<size_t>(pos)];
  return (file.parent_path().parent_path().filename() / file.parent_path().filename() / file.filename()).string();
}

std::string kind_of(const Data& data, int64_t pos) {
  return data.kind_names()[static_cast<size_t>(data.category.test.kinds[pos].item<int64_t>())];
}

// The seed's four outcome classes.
std::string outcome(bool anomalous, bool flagged) {
  if (anomalous) return flagged ? "anomaly/ok" : "anomaly/misclassified";
  return flagged ? "good/misclassified" : "good/ok";
}

const json& outcome_scale() {
  static const json scale = {
      {"domain", json::array({"good/ok", "good/misclassified", "anomaly/ok", "anomaly/misclassified"})},
      {"range", json::array({"#4c78a8", "#9ecae9", "#e45756", "#f58518"})}};
  return scale;
}

json threshold_rule(const std::string& field, double value) {
  return {{"data", {{"values", json::array({{{field, value}}})}}},
          {"mark", {{"type", "rule"}, {"strokeDash", {6, 4}}, {"color", "black"}}},
          {"encoding", {{field == "tau" ? "x" : "y", {{"field", field}, {"type", "quantitative"}}}}}};
}

// Counts of good and defective test images per score bin (overlaid, not stacked), with τ*.
json score_histogram(const Results& x) {
  json values = json::array(), rows = json::array();
  const auto alpha = study::to_doubles(x.scores.alpha);
  for (int64_t i = 0; i < x.data.size(); ++i) {
    const bool bad = x.data.anomalous[i].item<bool>();
    const std::string cls = bad ? "defective" : "good";
    values.push_back({{"alpha", alpha[static_cast<size_t>(i)]}, {"class", cls}});
    rows.push_back(json::array({test_file(x.data, i), kind_of(x.data, i), alpha[static_cast<size_t>(i)],
                                x.detection.flagged[i].item<bool>() ? "yes" : "no"}));
  }
  const json bars = {
      {"data", {{"values", values}}},
      {"mark", {{"type", "bar"}, {"opacity", 0.6}, {"tooltip", true}}},
      {"encoding",
       {{"x", {{"field", "alpha"}, {"bin", {{"maxbins", 30}}}, {"type", "quantitative"}, {"title", "anomaly score α"}}},
        {"y", {{"aggregate", "count"}, {"type", "quantitative"}, {"title", "test images"}, {"stack", nullptr}}},
        {"color",
         {{"field", "class"},
          {"type", "nominal"},
          {"title", "ground truth"},
          {"scale", {{"domain", json::array({"good", "defective"})}, {"range", json::array({"#4c78a8", "#e45756"})}}}}}}}};
  return {{"$schema", kVegaSchema},
          {"width", "container"},
          {"height", 240},
          {"layer", json::array({bars, threshold_rule("tau", x.detection.threshold.threshold)})},
          {"usermeta",
           {{"loupe", {{"table", {{"columns", {"test image", "kind", "anomaly score", "flagged"}}, {"rows", rows}}}}}}}};
}

// The seed's scatter: α on x, J* on y for the anomalous samples (coloured by outcome);
// good samples have no mask (J* undefined) and sit on a strip below 0. Dashed: τ* and the
// wrong-reason limit.
json jaccard_scatter(const Results& x, const torch::Tensor& positions, const torch::Tensor& jaccard) {
  json values = json::array(), rows = json::array();
  const auto alpha = study::to_doubles(x.scores.alpha);
  const auto j = study::to_doubles(jaccard);
  const auto pos = study::to_int64s(positions);
  auto add = [&](int64_t p, double y, bool has_mask) {
    const bool bad = x.data.anomalous[p].item<bool>(), flagged = x.detection.flagged[p].item<bool>();
    values.push_back({{"alpha", alpha[static_cast<size_t>(p)]},
                      {"j", y},
                      {"outcome", outcome(bad, flagged)},
                      {"sample", test_file(x.data, p)},
                      {"row", has_mask ? "defective (J*)" : "good (no mask, below 0)"}});
    rows.push_back(json::array({test_file(x.data, p), alpha[static_cast<size_t>(p)], has_mask ? json(y) : json("-"),
                                outcome(bad, flagged)}));
  };
  for (size_t i = 0; i < pos.size(); ++i) add(pos[i], j[i], true);
  for (int64_t p = 0; p < x.data.size(); ++p)
    if (!x.data.anomalous[p].item<bool>()) add(p, -0.06, false);
  const json points = {
      {"data", {{"values", values}}},
      {"mark", {{"type", "point"}, {"filled", true}, {"size", 40}, {"opacity", 0.85}, {"tooltip", true}}},
      {"encoding",
       {{"x", {{"field", "alpha"}, {"type", "quantitative"}, {"title", "anomaly score α"}, {"scale", {{"zero", false}}}}},
        {"y",
         {{"field", "j"},
          {"type", "quantitative"},
          {"title", "optimal Jaccard J*"},
          {"scale", {{"domain", json::array({-0.1, 1})}}},
          {"axis", {{"values", json::array({0, 0.2, 0.4, 0.6, 0.8, 1})}}}}},
        {"color", {{"field", "outcome"}, {"type", "nominal"}, {"title", "class/decision"}, {"scale", outcome_scale()}}},
        {"shape",
         {{"field", "row"},
          {"type", "nominal"},
          {"title", "sample"},
          {"scale",
           {{"domain", json::array({"defective (J*)", "good (no mask, below 0)"})},
            {"range", json::array({"circle", "triangle-up"})}}}}},
        {"tooltip",
         json::array({{{"field", "sample"}, {"type", "nominal"}},
                      {{"field", "alpha"}, {"type", "quantitative"}, {"format", ".4f"}},
                      {{"field", "j"}, {"type", "quantitative"}, {"format", ".3f"}},
                      {{"field", "outcome"}, {"type", "nominal"}}})}}}};
  return {{"$schema", kVegaSchema},
          {"width", "container"},
          {"height", 260},
          {"layer", json::array({points, threshold_rule("tau", x.detection.threshold.threshold),
                                 threshold_rule("limit", x.o.wrong_reason)})},
          {"usermeta",
           {{"loupe", {{"table", {{"columns", {"test image", "anomaly score", "J*", "class/decision"}}, {"rows", rows}}}}}}}};
}

// At most `limit` points of a curve, evenly spaced in index, the last one kept.
std::pair<std::vector<double>, std::vector<double>> thin_curve(const std::vector<double>& xs,
                                                               const std::vector<double>& ys, size_t limit) {
  if (xs.size() <= limit) return {xs, ys};
  std::vector<double> tx, ty;
  for (size_t k = 0; k < limit; ++k) {
    const size_t i = k * (xs.size() - 1) / (limit - 1);
    tx.push_back(xs[i]);
    ty.push_back(ys[i]);
  }
  return {tx, ty};
}

// ---- figures ----------------------------------------------------------------------------

const std::vector<float> kOutline = {1.f, 0.1f, 0.1f};

torch::Tensor magnitude_panel(const torch::Tensor& map) {
  const double hi = std::max(map.max().item<double>(), 1e-12);
  return apply_colormap(map, Colormap::jet, 0.0, hi);
}

// Signed explanation values on the diverging map (white 0, red raises f, blue lowers it).
torch::Tensor signed_panel(const torch::Tensor& map) {
  const double hi = std::max(map.abs().max().item<double>(), 1e-12);
  return apply_colormap(map, Colormap::diverging, -hi, hi);
}

// The input with the best explanation mask (β > θ*) tinted yellow, the ground truth's
// outline in red and J* in the top-left corner.
torch::Tensor jaccard_overlay(const torch::Tensor& image, const torch::Tensor& map, double theta,
                              const torch::Tensor& mask, double j) {
  auto out = image.to(torch::kFloat).clone();
  const auto best = map.gt(theta);
  const auto yellow = torch::tensor({1.f, 0.85f, 0.f}).view({3, 1, 1});
  out = torch::where(best.unsqueeze(0), 0.45 * out + 0.55 * yellow, out);
  out = draw_outline(out, mask, kOutline);
  const std::string label = "J" + jaccard_text(j);
  const int64_t w = std::min<int64_t>(text_width(label) + 2, out.size(2)), h = std::min<int64_t>(text_height(label) + 2, out.size(1));
  out.slice(1, 0, h).slice(2, 0, w).fill_(0);
  draw_text(out, label, 1, 1);
  return out;
}

// One row per sample: input, reconstruction, m, S1-S3 β, and S1's best mask against γ.
torch::Tensor explanation_grid(const Results& x, const std::vector<int64_t>& rows_k) {
  const auto& e = x.explanations;
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions, row_labels;
  for (const int64_t k : rows_k) {
    const int64_t pos = e.positions[k].item<int64_t>();
    const auto image = x.data.test[pos], mask = x.data.masks[pos];
    cells.push_back(image);
    captions.push_back("input");
    cells.push_back(x.scores.reconstructions[pos]);
    captions.push_back("reconstruction");
    cells.push_back(magnitude_panel(x.scores.maps[pos]));
    captions.push_back("m  J" + jaccard_text(e.baseline.jaccard[pos].item<double>()));
    for (const auto& setup : e.setups) {
      cells.push_back(signed_panel(setup.maps[k]));
      captions.push_back(setup.key.substr(0, 1) == "s" ? "S" + setup.key.substr(1) + "  J" +
                                                             jaccard_text(setup.jaccard.jaccard[k].item<double>())
                                                       : setup.key);
    }
    const auto& s1 = e.setups.front();
    cells.push_back(jaccard_overlay(image, s1.maps[k], s1.jaccard.threshold[k].item<double>(), mask,
                                    s1.jaccard.jaccard[k].item<double>()));
    captions.push_back("S1 best vs truth");
    row_labels.push_back(test_file(x.data, pos).substr(5) + "\nscore " + fixed(x.scores.alpha[pos].item<double>(), 3));
  }
  return image_grid(cells, captions, GridOptions(3 + static_cast<int64_t>(e.setups.size()) + 1).cell_size(112).padding(4),
                    row_labels);
}

// Explained samples to show: the first of each defect kind, then the next ones.
std::vector<int64_t> chosen_rows(const Results& x) {
  const auto& e = x.explanations;
  const int64_t k = e.positions.size(0);
  std::vector<int64_t> rows, rest;
  std::vector<bool> seen(x.data.kind_names().size(), false);
  for (int64_t i = 0; i < k; ++i) {
    const auto kind = static_cast<size_t>(x.data.category.test.kinds[e.positions[i].item<int64_t>()].item<int64_t>());
    (seen[kind] ? rest : rows).push_back(i);
    seen[kind] = true;
  }
  rows.insert(rows.end(), rest.begin(), rest.end());
  rows.resize(static_cast<size_t>(std::min<int64_t>(x.o.grid_samples, static_cast<int64_t>(rows.size()))));
  return rows;
}

// The explained samples with the lowest S1 J*, flagged ones first.
std::vector<int64_t> worst_rows(const Results& x) {
  const auto& e = x.explanations;
  const auto j = study::to_doubles(e.setups.front().jaccard.jaccard);
  std::vector<int64_t> rows(j.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
    const bool fa = x.detection.flagged[e.positions[a].item<int64_t>()].item<bool>();
    const bool fb = x.detection.flagged[e.positions[b].item<int64_t>()].item<bool>();
    if (fa != fb) return fa;
    return j[static_cast<size_t>(a)] < j[static_cast<size_t>(b)];
  });
  rows.resize(static_cast<size_t>(std::min<int64_t>(x.o.grid_samples, static_cast<int64_t>(rows.size()))));
  return rows;
}

// Good training images, then up to `per_kind` test images of each kind with γ outlined.
torch::Tensor data_grid(const Data& data, int64_t per_kind) {
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions, row_labels;
  const auto& train = data.category.train;
  for (int64_t i = 0; i < per_kind; ++i) {
    const int64_t idx = i < train.size() ? i * train.size() / per_kind : -1;
    cells.push_back(idx >= 0 ? train.images[idx] : torch::ones({3, 8, 8}));
    captions.push_back(idx >= 0 ? train.files[static_cast<size_t>(idx)].filename().string() : "");
  }
  row_labels.push_back("train good");
  const auto& kinds = data.category.test.kinds;
  for (size_t k = 0; k < data.kind_names().size(); ++k) {
    const auto members = study::to_int64s(kinds.eq(static_cast<int64_t>(k)).nonzero().view(-1));
    for (int64_t i = 0; i < per_kind; ++i) {
      if (i < static_cast<int64_t>(members.size())) {
        const int64_t pos = members[static_cast<size_t>(i)];
        cells.push_back(k == 0 ? data.test[pos] : draw_outline(data.test[pos], data.masks[pos], kOutline));
        captions.push_back(data.category.test.files[static_cast<size_t>(pos)].filename().string());
      } else {
        cells.push_back(torch::ones({3, 8, 8}));
        captions.push_back("");
      }
    }
    row_labels.push_back("test " + data.kind_names()[k]);
  }
  return image_grid(cells, captions, GridOptions(per_kind).cell_size(96).padding(4), row_labels);
}

std::string score_description(const AnomalyScoreOptions& score) {
  switch (score.score) {
    case AnomalyScore::kMax:
      return "α = max(m)";
    case AnomalyScore::kTopK:
      return "α = mean of the top " + fixed(score.top_percent, 2) + "% of m";
    case AnomalyScore::kSsim:
      return "α = max(1 − SSIM(x, x′))";
  }
  return "";
}

std::string target_description(AnomalyExplainTarget t) {
  switch (t) {
    case AnomalyExplainTarget::kError:
      return "the reconstruction error MSE(ξx, g(ξx)) of the perturbed image through the model";
    case AnomalyExplainTarget::kScore:
      return "the anomaly score of the perturbed image against its own reconstruction";
    case AnomalyExplainTarget::kDifference:
      return "the seed paper's literal f(ξx) = MSE(ξ − ξx), which does not use the model";
  }
  return "";
}

std::string calibration_description(const Results& x) {
  return x.o.calibration > 0 ? "chosen on a calibration part of " + std::to_string(x.detection.calibration.size(0)) +
                                   " test images and evaluated on the other " +
                                   std::to_string(x.detection.evaluation.size(0))
                             : "chosen and evaluated on the whole test set, as the seed";
}

}  // namespace

void add_summary(report::Report& r, const Results& x) {
  const auto& d = x.detection;
  const auto& e = x.explanations;
  const int64_t defective = x.data.anomalous.sum().item<int64_t>();
  r.section("Summary");
  std::ostringstream t;
  t << "A " << reconstruction_kind_name(x.model.net->spec().kind) << " trained on "
    << x.data.category.train.size() << " good images of " << x.data.category.name << " (" << x.data.source
    << ") reconstructs each of the " << x.data.size() << " test images (" << x.data.size() - defective << " good, "
    << defective << " defective); the anomaly map m = |g(x) − g(x′)| (g: the maximum over colour channels) gives "
    << score_description(x.o.score) << ". Image AUROC " << fixed(d.auroc, 3) << ". At τ* = "
    << fixed(d.threshold.threshold, 4) << " (G-mean, " << calibration_description(x) << ") it flags "
    << d.confusion.tp + d.confusion.fp << " images: accuracy " << study::percent(d.accuracy) << ", TPR "
    << fixed(d.tpr, 3) << ", FPR " << fixed(d.fpr, 3) << ". Pixel AUROC " << fixed(x.localisation.pixel_auroc, 3)
    << ", AUPRO (to FPR 0.3) " << fixed(x.localisation.aupro, 3) << ". ";
  t << e.positions.size(0) << " defective samples were explained by LIME and Partition SHAP (hidden superpixels "
    << "replaced by the reconstruction); mean optimal Jaccard J* against the true defect mask: ";
  for (const auto& s : e.setups)
    t << s.title.substr(0, 2) << " " << jaccard_text(nan_mean(s.jaccard.jaccard)) << ", ";
  t << "the raw map m " << jaccard_text(nan_mean(e.baseline.jaccard.index_select(0, e.positions))) << ". "
    << x.wrong_reason.size(0) << " flagged sample" << (x.wrong_reason.size(0) == 1 ? " is" : "s are")
    << " right for the wrong reason (J*(S1) < " << fixed(x.o.wrong_reason, 2) << ").";
  r.text(t.str());
}

void add_data_section(report::Report& r, const Results& x) {
  r.section("Data");
  r.text(x.data.source + ": " + std::to_string(x.data.category.train.size()) + " good training images; the test " +
         "set by kind below, each defect's ground-truth mask outlined in red. Images at " +
         std::to_string(x.s.size) + "x" + std::to_string(x.s.size) + ".");
  r.figure("Training images and test images by kind (red: the ground-truth outline)", data_grid(x.data, 8));
}

void add_detection_section(report::Report& r, const Results& x) {
  const auto& d = x.detection;
  r.section("Image-level detection");
  r.chart("Anomaly scores of the test images by class (dashed: τ* = " + fixed(d.threshold.threshold, 4) + ")",
          score_histogram(x));
  const auto f = study::to_doubles(d.roc.fpr), t = study::to_doubles(d.roc.tpr);
  r.chart("ROC curve (AUROC " + fixed(d.auroc, 3) + ")",
          report::line_chart("false-positive rate", "true-positive rate", {{"ROC", t}, {"chance", f}}, f));
  std::vector<std::vector<json>> rows;
  for (const auto& k : d.by_kind) {
    const auto& c = k.confusion;
    const bool good = k.kind == "good";
    const int64_t images = c.total(), flagged = c.tp + c.fp, correct = good ? c.tn : c.tp;
    rows.push_back({k.kind, images, flagged, correct, images ? json(static_cast<double>(correct) / images) : json("-")});
  }
  const auto& c = d.confusion;
  rows.push_back({"all", c.total(), c.tp + c.fp, c.tp + c.tn, d.accuracy});
  r.table({"Decisions at τ* by kind (good: correct = not flagged; defects: correct = flagged)",
           {"kind", "images", "flagged", "correct", "accuracy"},
           rows});
  std::vector<std::vector<json>> compared;
  for (const auto& sc : x.score_comparison)
    compared.push_back({score_description(AnomalyScoreOptions(x.o.score).set_score(sc.score)) +
                            (sc.score == x.o.score.score ? " (this report)" : ""),
                        sc.auroc, sc.threshold, sc.accuracy});
  r.table({"The same reconstructions under every anomaly score, each at its own τ*",
           {"anomaly score", "image AUROC", "τ*", "accuracy at τ*"},
           compared});
  r.text("τ* maximises √(TPR·(1 − FPR)) over the observed scores (" + calibration_description(x) + "); there TPR " +
         fixed(d.threshold.tpr, 3) + ", FPR " + fixed(d.threshold.fpr, 3) + ", criterion " +
         fixed(d.threshold.criterion, 3) + ".");
}

void add_localisation_section(report::Report& r, const Results& x) {
  const auto& l = x.localisation;
  r.section("Pixel-level localisation");
  r.text("Every pixel of every test image is one sample of the map m. Pixel AUROC " + fixed(l.pixel_auroc, 3) +
         "; AUPRO " + fixed(l.aupro, 3) + ": the per-region overlap (" + std::to_string(l.regions) +
         " ground-truth regions, 8-connected) integrated up to a pixel false-positive rate of 0.3 and divided by "
         "0.3, as the MVTec AD evaluation and anomalib report it.");
  std::vector<double> fpr, pro;
  const auto all_f = study::to_doubles(l.pro.fpr), all_p = study::to_doubles(l.pro.pro);
  for (size_t i = 0; i < all_f.size() && all_f[i] <= 0.3; ++i) {
    fpr.push_back(all_f[i]);
    pro.push_back(all_p[i]);
  }
  const auto [tf, tp] = thin_curve(fpr, pro, 300);
  r.chart("PRO curve up to FPR 0.3 (AUPRO " + fixed(l.aupro, 3) + ")",
          report::line_chart("pixel false-positive rate", "per-region overlap", {{"PRO", tp}}, tf));
}

void add_explanation_section(report::Report& r, const Results& x) {
  const auto& e = x.explanations;
  r.section("Explanations checked against the defect masks");
  r.text("For each explained sample, LIME and SHAP explain " + target_description(x.o.explain_target) +
         ", on perturbed copies ξx whose hidden superpixels are replaced by the image's reconstruction ξ′ "
         "(so hiding the defect removes it). S1: LIME (" + std::to_string(x.s.samples) +
         " samples, kernel width 0.25, ridge α 1) on quickshift superpixels, the kernel size chosen per image for "
         "about " + std::to_string(x.o.segments) +
         " of them; S2: LIME on the same superpixels split along the ground-truth mask, a segmentation that knows the "
         "defect (an upper reference for S1); S3: Partition SHAP with " + std::to_string(x.s.samples) +
         " evaluations. J* = max over θ of IoU(γ, β > θ) for the explanation β and the true mask γ (an exact sweep); "
         "m: the same for the raw anomaly map, the baseline.");
  std::vector<std::vector<json>> timing;
  for (const auto& s : e.setups) {
    const auto j = s.jaccard.jaccard;
    timing.push_back({s.title, s.features.defined() ? json(s.features.to(torch::kDouble).mean().item<double>()) : json("-"),
                      s.evaluations_per_image,
                      s.seconds_per_image, nan_mean(j), j.isfinite().any().item<bool>() ? json(j.nanmedian().item<double>()) : json("-")});
  }
  const auto base = e.baseline.jaccard.index_select(0, e.positions);
  timing.push_back({"m: the anomaly map", "-", 0, 0.0, nan_mean(base), base.nanmedian().item<double>()});
  r.table({"Setups on " + std::to_string(e.positions.size(0)) + " explained samples (superpixel search: " +
               fixed(e.segmentation_seconds, 2) + " s per image)",
           {"setup", "features (mean)", "model evaluations / image", "seconds / image", "mean J*", "median J*"},
           timing});

  // J* by defect kind and setup.
  std::vector<std::vector<json>> by_kind;
  const auto explained_kinds = x.data.category.test.kinds.index_select(0, e.positions);
  for (size_t k = 1; k <= x.data.kind_names().size(); ++k) {
    const bool all = k == x.data.kind_names().size();
    const auto in_kind = all ? torch::ones_like(explained_kinds, torch::kBool) : explained_kinds.eq(static_cast<int64_t>(k));
    const auto every = all ? x.data.anomalous : x.data.category.test.kinds.eq(static_cast<int64_t>(k));
    std::vector<json> row = {all ? std::string("all defects") : x.data.kind_names()[k], in_kind.sum().item<int64_t>()};
    for (const auto& s : e.setups) row.push_back(number_or_null(nan_mean(s.jaccard.jaccard.masked_select(in_kind))));
    row.push_back(number_or_null(nan_mean(base.masked_select(in_kind))));
    row.push_back(number_or_null(nan_mean(e.baseline.jaccard.masked_select(every))));
    by_kind.push_back(row);
  }
  r.table({"Mean J* by defect kind",
           {"defect kind", "explained", "S1", "S2", "S3", "m (explained)", "m (every defective test image)"},
           by_kind});

  const auto chosen = chosen_rows(x), worst = worst_rows(x);
  if (!chosen.empty()) {
    r.figure("Chosen samples (one per defect kind first): input, reconstruction, m, β of S1-S3 (red raises f, "
             "blue lowers it), and S1's best mask β > θ* (yellow) against the true defect (red outline)",
             explanation_grid(x, chosen));
    r.figure("Worst samples: flagged first, lowest J*(S1) first", explanation_grid(x, worst));
  }
  for (const auto& s : e.setups)
    r.chart(s.title + ": anomaly score vs J* (dashed: τ* and J* = " + fixed(x.o.wrong_reason, 2) + ")",
            jaccard_scatter(x, e.positions, s.jaccard.jaccard));
  const auto defective = x.data.anomalous.nonzero().view(-1);
  r.chart("m: anomaly score vs J* of the raw map, every defective test image",
          jaccard_scatter(x, defective, e.baseline.jaccard.index_select(0, defective)));

  std::vector<std::vector<json>> wrong;
  const auto pos_in_explained = [&](int64_t pos) {
    return (e.positions == pos).nonzero().view(-1)[0].item<int64_t>();
  };
  for (const int64_t pos : study::to_int64s(x.wrong_reason)) {
    const int64_t k = pos_in_explained(pos);
    std::vector<json> row = {test_file(x.data, pos), kind_of(x.data, pos), x.scores.alpha[pos].item<double>()};
    for (const auto& s : e.setups) row.push_back(number_or_null(s.jaccard.jaccard[k].item<double>()));
    row.push_back(number_or_null(e.baseline.jaccard[pos].item<double>()));
    wrong.push_back(row);
  }
  r.text(std::to_string(x.wrong_reason.size(0)) + " of the explained samples are flagged (α ≥ τ*) while S1's " +
         "explanation barely overlaps the defect (J* < " + fixed(x.o.wrong_reason, 2) +
         "): right for the wrong reason.");
  if (!wrong.empty())
    r.table({"Right for the wrong reason", {"test image", "kind", "α", "J* S1", "J* S2", "J* S3", "J* m"}, wrong});
}

void add_training_section(report::Report& r, const Results& x) {
  const auto& h = x.model.training.history;
  if (!x.model.trained || h.empty()) return;
  r.section("Training");
  std::vector<double> steps;
  for (const auto& record : h) steps.push_back(static_cast<double>(record.step));
  const bool gan = x.model.net->spec().kind == ReconstructionKind::kVaeGan;
  std::vector<std::pair<std::string, std::vector<double>>> terms = {
      {"loss", history_series(h, "loss")}, {"reconstruction (BCE)", history_series(h, "reconstruction")}};
  if (x.model.net->spec().kind != ReconstructionKind::kAe) terms.push_back({"KL", history_series(h, "kl")});
  if (gan) terms.push_back({"generator", history_series(h, "generator")});
  r.chart("Autoencoder loss per step (per image, summed over pixels)", report::line_chart("step", "loss", terms, steps));
  if (gan)
    r.chart("Discriminator: loss and mean outputs on real images (target 0) and reconstructions (target 1)",
            report::line_chart("step", "value",
                               {{"loss", history_series(h, "discriminator")},
                                {"D(real)", history_series(h, "d_real")},
                                {"D(reconstruction)", history_series(h, "d_fake")}},
                               steps));
  r.text("Trained " + std::to_string(x.model.training.step) + " steps in " + fixed(x.model.training.seconds, 1) +
         " s; checkpoint models/" + reconstruction_kind_name(x.model.net->spec().kind) + ".pt.");
}

void add_settings_section(report::Report& r, const Results& x) {
  const auto& o = x.o;
  r.section("Settings");
  r.table({"Settings",
           {"setting", "value"},
           {{"category", x.data.category.name},
            {"data", x.data.source},
            {"model", describe(x.model.net->spec())},
            {"model source", x.model.source},
            {"preset", preset_name(o.common.preset)},
            {"training steps", x.model.training.step},
            {"batch size", x.s.batch},
            {"augmentation flips", x.s.flips ? "yes" : "no"},
            {"anomaly score", score_description(o.score)},
            {"threshold", std::string("G-mean, ") + calibration_description(x)},
            {"explained target", target_description(o.explain_target)},
            {"explained samples", x.explanations.positions.size(0)},
            {"LIME samples / SHAP evaluations", x.s.samples},
            {"quickshift segments wanted", o.segments},
            {"wrong-reason limit (J*)", o.wrong_reason},
            {"seed", static_cast<int64_t>(o.common.seed)},
            {"device", o.common.device.str()},
            {"run time (s)", x.seconds}}});
}

void add_metrics(report::Report& r, const Results& x) {
  const auto& o = x.o;
  const auto& d = x.detection;
  const auto& e = x.explanations;
  r.metric("study", "anomaly");
  r.metric("settings", {{"preset", preset_name(o.common.preset)},
                        {"category", x.data.category.name},
                        {"data", x.data.source},
                        {"model", reconstruction_kind_name(x.model.net->spec().kind)},
                        {"model_source", x.model.source},
                        {"size", x.s.size},
                        {"steps", x.model.training.step},
                        {"batch", x.s.batch},
                        {"flips", x.s.flips},
                        {"score", anomaly_score_name(o.score.score)},
                        {"top_percent", o.score.top_percent},
                        {"calibration", o.calibration},
                        {"explain_target", anomaly_explain_target_name(o.explain_target)},
                        {"explained", e.positions.size(0)},
                        {"samples", x.s.samples},
                        {"segments", o.segments},
                        {"wrong_reason", o.wrong_reason},
                        {"seed", o.common.seed},
                        {"device", o.common.device.str()}});
  std::vector<std::string> files, kinds;
  for (int64_t i = 0; i < x.data.size(); ++i) {
    files.push_back(test_file(x.data, i));
    kinds.push_back(kind_of(x.data, i));
  }
  r.metric("test.files", files);
  r.metric("test.kinds", kinds);
  r.metric("test.anomalous", study::to_int64s(x.data.anomalous));
  r.metric("test.scores", study::to_doubles(x.scores.alpha));
  r.metric("test.flagged", study::to_int64s(d.flagged));
  r.metric("image.auroc", d.auroc);
  r.metric("image.threshold", d.threshold.threshold);
  r.metric("image.threshold_criterion", d.threshold.criterion);
  r.metric("image.calibration_positions", study::to_int64s(d.calibration));
  r.metric("image.evaluation_positions", study::to_int64s(d.evaluation));
  r.metric("image.accuracy", d.accuracy);
  r.metric("image.tpr", d.tpr);
  r.metric("image.fpr", d.fpr);
  r.metric("image.confusion", {{"tp", d.confusion.tp}, {"fp", d.confusion.fp}, {"tn", d.confusion.tn}, {"fn", d.confusion.fn}});
  json by_kind = json::object();
  for (const auto& k : d.by_kind)
    by_kind[k.kind] = {{"tp", k.confusion.tp}, {"fp", k.confusion.fp}, {"tn", k.confusion.tn}, {"fn", k.confusion.fn}};
  r.metric("image.confusion_by_kind", by_kind);
  r.metric("image.roc.fpr", study::to_doubles(d.roc.fpr));
  r.metric("image.roc.tpr", study::to_doubles(d.roc.tpr));
  for (const auto& c : x.score_comparison)
    r.metric("image.by_score." + c.description,
             {{"auroc", c.auroc}, {"threshold", c.threshold}, {"accuracy", c.accuracy}});
  r.metric("pixel.auroc", x.localisation.pixel_auroc);
  r.metric("pixel.aupro", x.localisation.aupro);
  r.metric("pixel.regions", x.localisation.regions);
  r.metric("explained.positions", study::to_int64s(e.positions));
  r.metric("explained.segmentation_seconds_per_image", e.segmentation_seconds);
  for (const auto& s : e.setups) {
    const std::string key = "explained." + s.key;
    r.metric(key + ".title", s.title);
    r.metric(key + ".jaccard", numbers_or_null(s.jaccard.jaccard));
    r.metric(key + ".theta", numbers_or_null(s.jaccard.threshold));
    r.metric(key + ".mask_size", study::to_int64s(s.jaccard.mask_size));
    r.metric(key + ".mean_jaccard", number_or_null(nan_mean(s.jaccard.jaccard)));
    if (s.features.defined()) r.metric(key + ".superpixels", study::to_int64s(s.features));
    r.metric(key + ".evaluations_per_image", s.evaluations_per_image);
    r.metric(key + ".seconds_per_image", s.seconds_per_image);
  }
  r.metric("explained.m.jaccard", numbers_or_null(e.baseline.jaccard.index_select(0, e.positions)));
  r.metric("explained.m.mean_jaccard", number_or_null(nan_mean(e.baseline.jaccard.index_select(0, e.positions))));
  r.metric("baseline.jaccard", numbers_or_null(e.baseline.jaccard));
  r.metric("baseline.theta", numbers_or_null(e.baseline.threshold));
  r.metric("baseline.mean_jaccard", number_or_null(nan_mean(e.baseline.jaccard)));
  r.metric("wrong_reason.limit", o.wrong_reason);
  r.metric("wrong_reason.positions", study::to_int64s(x.wrong_reason));
  const auto& h = x.model.training.history;
  r.metric("training.steps", x.model.training.step);
  r.metric("training.seconds", x.model.training.seconds);
  r.metric("training.final_loss", h.empty() ? json(nullptr) : json(h.back().value("loss")));
  r.metric("timing.seconds", x.seconds);
}

}  // namespace loupe::anomaly_study
