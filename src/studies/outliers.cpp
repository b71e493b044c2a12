#include "loupe/studies/outliers.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <set>
#include <sstream>

#include "loupe/anomaly/counterfactual.h"
#include "loupe/anomaly/thresholds.h"
#include "loupe/core/colormap.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/data/curated_sampler.h"
#include "loupe/data/shapes3d.h"
#include "loupe/explain/latent_gradcam.h"
#include "loupe/metrics/roc.h"
#include "loupe/models/checkpoint.h"
#include "loupe/studies/toolkit.h"
#include "loupe/train/vae_trainer.h"

namespace loupe {
namespace {

using report::json;

// "wall:red" for the first criterion term the sample violates ("" if none), "+n" for more.
std::string outliers_violation(const NormalcyCriterion& c, const FactorDataset& data, const torch::Tensor& factors) {
  static const std::vector<std::string> short_names = {"floor", "wall", "obj", "scale", "shape", "orient"};
  std::vector<std::string> broken;
  for (int64_t f = 0; f < data.num_factors(); ++f) {
    const auto& allowed = c.allowed[static_cast<size_t>(f)];
    const int64_t v = factors[f].item<int64_t>();
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end()) continue;
    const std::string name = f < 6 ? short_names[static_cast<size_t>(f)] : data.factor_names()[static_cast<size_t>(f)];
    broken.push_back(name + ":" + data.value_names(f)[static_cast<size_t>(v)]);
  }
  if (broken.empty()) return "";
  return broken.front() + (broken.size() > 1 ? " +" + std::to_string(broken.size() - 1) : "");
}

// MD by sample index, coloured by the ground truth, with the threshold as a dashed rule.
json outliers_index_chart(const std::vector<double>& md, const std::vector<int64_t>& truth, double threshold) {
  json points = json::array(), rows = json::array();
  for (size_t i = 0; i < md.size(); ++i) {
    const std::string kind = truth[i] ? "outlier" : "normal";
    const bool flagged = md[i] > threshold;
    points.push_back({{"index", i}, {"md", md[i]}, {"truth", kind}, {"flagged", flagged ? "yes" : "no"}});
    rows.push_back(json::array({i, md[i], kind, flagged ? "yes" : "no"}));
  }
  const json point_layer = {
      {"data", {{"values", points}}},
      {"mark", {{"type", "point"}, {"filled", true}, {"size", 36}, {"tooltip", true}}},
      {"encoding",
       {{"x", {{"field", "index"}, {"type", "quantitative"}, {"title", "sample index"}}},
        {"y", {{"field", "md"}, {"type", "quantitative"}, {"title", "Mahalanobis distance"}}},
        {"color",
         {{"field", "truth"},
          {"type", "nominal"},
          {"title", "ground truth"},
          {"scale", {{"domain", json::array({"normal", "outlier"})}, {"range", json::array({"#4c78a8", "#e45756"})}}}}},
        {"shape",
         {{"field", "flagged"},
          {"type", "nominal"},
          {"title", "flagged"},
          {"scale", {{"domain", json::array({"no", "yes"})}, {"range", json::array({"circle", "diamond"})}}}}}}}};
  const json rule_layer = {{"data", {{"values", json::array({{{"threshold", threshold}}})}}},
                           {"mark", {{"type", "rule"}, {"strokeDash", {6, 4}}, {"color", "black"}}},
                           {"encoding", {{"y", {{"field", "threshold"}, {"type", "quantitative"}}}}}};
  return {{"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
          {"width", "container"},
          {"height", 280},
          {"layer", json::array({point_layer, rule_layer})},
          {"usermeta",
           {{"loupe",
             {{"table",
               {{"columns", {"sample index", "Mahalanobis distance", "ground truth", "flagged"}}, {"rows", rows}}}}}}}};
}

// Counts of normals and outliers per distance bin, as a grouped bar chart.
json outliers_density_chart(const std::vector<double>& md, const std::vector<int64_t>& truth, int64_t bins) {
  const double hi = *std::max_element(md.begin(), md.end()) * 1.0001 + 1e-12;
  std::vector<double> normal(static_cast<size_t>(bins), 0), outlier(static_cast<size_t>(bins), 0);
  for (size_t i = 0; i < md.size(); ++i) {
    const auto b = std::min<int64_t>(bins - 1, static_cast<int64_t>(md[i] / hi * static_cast<double>(bins)));
    (truth[i] ? outlier : normal)[static_cast<size_t>(b)] += 1;
  }
  std::vector<std::string> labels;
  std::set<std::string> seen;
  const int decimals = hi / static_cast<double>(bins) >= 1 ? 1 : 2;
  for (int64_t b = 0; b < bins; ++b) {
    std::string label = study::fixed(hi * static_cast<double>(b) / static_cast<double>(bins), decimals) + "-" +
                        study::fixed(hi * static_cast<double>(b + 1) / static_cast<double>(bins), decimals);
    if (!seen.insert(label).second) label += " #" + std::to_string(b);
    labels.push_back(label);
  }
  return report::bar_chart("Mahalanobis distance", "samples", labels, {{"normal", normal}, {"outlier", outlier}});
}


// The curated sample: normals satisfying the criterion, outliers violating it; the first
// `reference` normals (in the shuffled order) are the reference set, the rest is scored.
struct OutliersSample {
  Shapes3D data;
  NormalcyCriterion criterion;
  CuratedSample curated;
  std::vector<int64_t> reference_pos;  // positions in `curated` of the reference normals
  torch::Tensor indices, factors, is_outlier;  // of the scored samples
  std::vector<int64_t> truth;                   // 1 = outlier, per scored sample
  torch::Tensor images;                         // float [N,3,64,64], the scored renders
  int64_t outliers() const { return static_cast<int64_t>(std::count(truth.begin(), truth.end(), 1)); }
  int64_t normals() const { return static_cast<int64_t>(truth.size()) - outliers(); }
};

// Drawn first: a bad criterion fails before any rendering or training.
OutliersSample draw_sample(const OutliersStudyOptions& o, const OutliersStudySettings& s) {
  Shapes3D data(Shapes3DOptions().set_supersample(s.supersample).set_device(o.common.device));
  auto criterion = parse_criterion(o.criterion, data);
  auto curated = curated_sample(
      data, criterion,
      CuratedOptions().set_normals(o.normals + o.reference).set_outliers(o.outliers).set_seed(o.common.seed));
  std::vector<int64_t> scored_pos, reference_pos;
  const auto all_truth = study::to_int64s(curated.is_outlier);
  for (size_t i = 0; i < all_truth.size(); ++i)
    (!all_truth[i] && static_cast<int64_t>(reference_pos.size()) < o.reference ? reference_pos : scored_pos)
        .push_back(static_cast<int64_t>(i));
  const auto scored = torch::tensor(scored_pos, torch::kLong);
  OutliersSample out{std::move(data), std::move(criterion), std::move(curated), std::move(reference_pos),
                     {}, {}, {}, {}, {}};
  out.indices = out.curated.indices.index_select(0, scored);
  out.factors = out.curated.factors.index_select(0, scored);
  out.is_outlier = out.curated.is_outlier.index_select(0, scored);
  out.truth = study::to_int64s(out.is_outlier);
  return out;
}

// The VAE: loaded from --model, or trained on a pool of random renders.
struct OutliersModel {
  Vae vae{nullptr};
  TrainResult training;
  double render_seconds = 0;
};

OutliersModel load_or_train_vae(const OutliersStudyOptions& o, OutliersStudySettings& s, const Shapes3D& data) {
  OutliersModel m;
  if (!o.model.empty()) {
    CheckpointInfo info;
    m.vae = load_vae(o.model, &info);
    const VaeSpec& spec = m.vae->spec();
    LOUPE_CHECK(!o.latents || *o.latents == spec.latents, "--latents ", *o.latents, ": the checkpoint ",
                o.model.string(), " holds a ", describe(spec), "; drop --latents or pass a matching value");
    LOUPE_CHECK(spec.channels == 3, "--model ", o.model.string(), ": holds a ", describe(spec),
                "; Shapes3D needs 3 channels");
    s.latents = spec.latents;
    m.training.step = info.state.step;
    m.vae->to(o.common.device);
  } else {
    auto preset = vae_preset(o.common.preset, 3);
    preset.spec.set_latents(s.latents);
    auto gen = make_generator(o.common.seed + 1);
    const auto pool_idx = torch::randint(data.size(), {s.pool}, gen, torch::kLong);
    const auto render_start = std::chrono::steady_clock::now();
    const auto pool = to_tensor_dataset(data, pool_idx);
    m.render_seconds = seconds_since(render_start);
    auto t = preset.train;
    t.set_seed(o.common.seed).set_checkpoint(o.common.out / "models" / "vae.pt");
    if (s.steps > 0) t.set_max_steps(s.steps);
    auto objective = preset.objective;
    objective.set_dataset_size(s.pool);
    torch::manual_seed(o.common.seed);
    m.vae = Vae(preset.spec);
    m.training = train_vae(*m.vae, pool, objective, t, o.common.device);
  }
  m.vae->eval();
  return m;
}

struct OutliersScores {
  GaussianFit fit;
  torch::Tensor md;  // double [N]
  double auroc = 0;
};

OutliersScores score_against(const GaussianFit& fit, const torch::Tensor& mu, const torch::Tensor& is_outlier) {
  OutliersScores s{fit, mahalanobis_distance(fit, mu), 0};
  s.auroc = auroc(s.md, is_outlier);
  return s;
}

// Distances of the encoder means to the fitted Gaussians. The batch is always scored with
// the classical fit (the original workflow); with `robust` and no reference set, also
// with the Minimum Covariance Determinant, which the outliers in it cannot inflate; with
// a reference set, against a fit on those normals (the primary score then).
struct OutliersFits {
  torch::Tensor mu;  // [N,L] encoder means of the scored samples
  OutliersScores batch, robust, reference;
  torch::Tensor reference_md;  // the reference normals' own distances (for the FPR threshold)
  bool use_reference = false, use_robust = false;
  const OutliersScores& primary() const { return use_reference ? reference : use_robust ? robust : batch; }
  std::string kind() const { return use_reference ? "reference" : use_robust ? "robust" : "batch"; }
};

OutliersFits fit_and_score(const OutliersStudyOptions& o, const OutliersSample& sample, VaeImpl& vae) {
  const auto device = o.common.device;
  OutliersFits f;
  f.use_reference = o.reference > 0;
  f.use_robust = o.fit.robust && !f.use_reference;
  f.mu = study::encode_images(vae, sample.images, device).mu;
  f.batch = score_against(fit_gaussian(f.mu, GaussianFitOptions(o.fit).set_robust(false)), f.mu, sample.is_outlier);
  if (f.use_robust)
    f.robust = score_against(fit_gaussian(f.mu, GaussianFitOptions(o.fit).set_seed(o.common.seed)), f.mu,
                             sample.is_outlier);
  if (f.use_reference) {
    const auto ref = torch::tensor(sample.reference_pos, torch::kLong);
    const auto ref_mu =
        study::encode_images(vae, sample.data.get(sample.curated.indices.index_select(0, ref)).images, device).mu;
    f.reference = score_against(fit_gaussian(ref_mu, GaussianFitOptions(o.fit).set_seed(o.common.seed)), f.mu,
                                sample.is_outlier);
    f.reference_md = mahalanobis_distance(f.reference.fit, ref_mu);
  }
  return f;
}

// The threshold on the primary distances and what it flags.
struct OutliersFlags {
  double threshold = 0;
  torch::Tensor flagged;  // bool [N]
  int64_t total = 0, true_positives = 0, false_positives = 0;
  double tpr = 0, fpr = 0;
  RocCurve roc;
};

OutliersFlags flag(const OutliersStudyOptions& o, const OutliersStudySettings& s, const OutliersSample& sample,
                   const OutliersFits& fits) {
  const auto& md = fits.primary().md;
  OutliersFlags f;
  switch (o.threshold) {
    case ThresholdRule::kLargestGap:
      f.threshold = largest_gap_threshold(md, s.threshold_value);
      break;
    case ThresholdRule::kPercentile:
      f.threshold = percentile_threshold(md, s.threshold_value);
      break;
    case ThresholdRule::kFpr:
      f.threshold = fpr_threshold(fits.reference_md, s.threshold_value);
      break;
  }
  f.flagged = md.gt(f.threshold);
  f.total = f.flagged.sum().item<int64_t>();
  f.true_positives = (f.flagged & sample.is_outlier).sum().item<int64_t>();
  f.false_positives = f.total - f.true_positives;
  f.tpr = static_cast<double>(f.true_positives) / static_cast<double>(sample.outliers());
  f.fpr = static_cast<double>(f.false_positives) / static_cast<double>(sample.normals());
  f.roc = roc_curve(md, sample.is_outlier);
  return f;
}

// Z-scores against the primary fit, each sample's most deviant dimension, and the
// outliers per dimension.
struct Deviations {
  torch::Tensor z;        // [N,L]
  torch::Tensor deviant;  // int64 [N]
  torch::Tensor per_dim_true, per_dim_flagged;  // int64 [L]
  torch::Tensor by_md;    // positions by decreasing primary MD
};

Deviations deviations(const OutliersSample& sample, const OutliersFits& fits, const OutliersFlags& flags, int64_t latents) {
  Deviations d;
  d.z = latent_z_scores(fits.primary().fit, fits.mu);
  d.deviant = most_deviant_dimension(d.z);
  d.per_dim_true = outliers_per_dimension(d.deviant.masked_select(sample.is_outlier), latents);
  d.per_dim_flagged = outliers_per_dimension(d.deviant.masked_select(flags.flagged), latents);
  d.by_md = std::get<1>(fits.primary().md.sort(0, /*descending=*/true));
  return d;
}

// Morph strips for the samples with the largest MD: the input, then decoded frames from
// its code to the counterfactual where its most deviant dimension is the normal mean.
struct Counterfactuals {
  torch::Tensor grid;  // undefined when none were asked
  json metrics = json::array();
};

Counterfactuals counterfactual_strips(const OutliersStudyOptions& o, VaeImpl& vae, const OutliersSample& sample,
                                      const OutliersFits& fits, const Deviations& dev) {
  Counterfactuals out;
  const int64_t n = static_cast<int64_t>(sample.truth.size()), L = fits.mu.size(1);
  const int64_t count = std::min(o.counterfactuals, n);
  if (count == 0) return out;
  const auto& fit = fits.primary().fit;
  const auto md = study::to_doubles(fits.primary().md);
  const auto top = dev.by_md.slice(0, 0, count);
  const auto top_mu = fits.mu.index_select(0, top);
  const auto dims = dev.deviant.index_select(0, top);
  const auto frames = morph_latents(top_mu, counterfactual_latents(fit, top_mu, dims), o.morph_steps);
  torch::Tensor decoded;
  {
    torch::NoGradGuard no_grad;
    decoded = torch::sigmoid(vae.decode(frames.view({-1, L}).to(o.common.device, torch::kFloat))).cpu();
  }
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions, row_labels;
  for (int64_t r = 0; r < count; ++r) {
    const int64_t pos = top[r].item<int64_t>(), d = dims[r].item<int64_t>();
    const auto p = static_cast<size_t>(pos);
    const double zd = dev.z[pos][d].item<double>();
    cells.push_back(sample.images[pos]);
    captions.push_back(sample.truth[p] ? "input (out)" : "input (norm)");
    for (int64_t k = 0; k < o.morph_steps; ++k) {
      cells.push_back(decoded[r * o.morph_steps + k]);
      captions.push_back(k == 0 ? "decoded" : k == o.morph_steps - 1 ? "z" + std::to_string(d) + "=mean" : "");
    }
    row_labels.push_back("#" + std::to_string(pos) + " z" + std::to_string(d) + " " + study::signed_fixed(zd, 1) + "sd");
    out.metrics.push_back({{"position", pos},
                           {"dataset_index", sample.indices[pos].item<int64_t>()},
                           {"md", md[p]},
                           {"outlier", sample.truth[p] == 1},
                           {"dimension", d},
                           {"z_score", zd},
                           {"from", fits.mu[pos][d].item<double>()},
                           {"to", fit.mean[d].item<double>()}});
  }
  out.grid = image_grid(cells, captions, GridOptions(o.morph_steps + 1).cell_size(72).padding(4), row_labels);
  return out;
}

// Signed latent Grad-CAM for the dimensions outliers deviate in most, on the first
// normals and the top outliers by MD.
struct LatentCamPanels {
  std::vector<int64_t> dims, positions;
  std::vector<std::pair<int64_t, torch::Tensor>> grids;  // (dimension, grid)
};

LatentCamPanels latent_cam_panels(const OutliersStudyOptions& o, VaeImpl& vae, const OutliersSample& sample,
                                  const Deviations& dev, int64_t latents) {
  LatentCamPanels out;
  const int64_t n = static_cast<int64_t>(sample.truth.size());
  std::vector<int64_t> order(static_cast<size_t>(latents));
  std::iota(order.begin(), order.end(), 0);
  const auto counts = study::to_int64s(dev.per_dim_true);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return counts[static_cast<size_t>(a)] > counts[static_cast<size_t>(b)];
  });
  for (int64_t i = 0; i < std::min(o.gradcam_dims, latents); ++i) out.dims.push_back(order[static_cast<size_t>(i)]);
  for (int64_t i = 0; i < n && static_cast<int64_t>(out.positions.size()) < o.gradcam_inputs / 2; ++i)
    if (!sample.truth[static_cast<size_t>(i)]) out.positions.push_back(i);
  for (int64_t i = 0; i < n && static_cast<int64_t>(out.positions.size()) < o.gradcam_inputs; ++i) {
    const int64_t pos = dev.by_md[i].item<int64_t>();
    if (sample.truth[static_cast<size_t>(pos)]) out.positions.push_back(pos);
  }
  if (out.positions.empty()) return out;
  const auto images = sample.images.index_select(0, torch::tensor(out.positions, torch::kLong));
  const int64_t k = images.size(0);
  for (const int64_t d : out.dims) {
    const auto maps = latent_gradcam(*vae.encoder, images, d, LatentGradCamOptions().set_tap(o.gradcam_tap));
    std::vector<torch::Tensor> cells;
    std::vector<std::string> captions;
    for (int64_t i = 0; i < k; ++i) {
      cells.push_back(images[i]);
      captions.push_back((sample.truth[static_cast<size_t>(out.positions[static_cast<size_t>(i)])] ? "out " : "norm ") +
                         study::signed_fixed(maps.latent[i].item<double>(), 2));
    }
    // Diverging map read on [0,1]: 0.5 is white, 1 red (raises mu_d), 0 blue (lowers it).
    for (int64_t i = 0; i < k; ++i) {
      cells.push_back(overlay_heatmap(images[i], 0.5 + 0.5 * maps.positive[i], 0.6, Colormap::diverging));
      captions.push_back("");
    }
    for (int64_t i = 0; i < k; ++i) {
      cells.push_back(overlay_heatmap(images[i], 0.5 - 0.5 * maps.negative[i], 0.6, Colormap::diverging));
      captions.push_back("");
    }
    out.grids.emplace_back(d, image_grid(cells, captions, GridOptions(k).cell_size(80).padding(4),
                                         {"input", "+ raises", "- lowers"}));
  }
  return out;
}

// Up to `limit` real renders of the scored normals (captioned by position) or outliers
// (captioned by the criterion term they break).
torch::Tensor sample_grid(const OutliersSample& sample, bool outliers, int64_t limit) {
  std::vector<torch::Tensor> cells;
  std::vector<std::string> captions;
  for (size_t i = 0; i < sample.truth.size() && static_cast<int64_t>(cells.size()) < limit; ++i) {
    if (sample.truth[i] != static_cast<int64_t>(outliers)) continue;
    const auto pos = static_cast<int64_t>(i);
    cells.push_back(sample.images[pos]);
    captions.push_back(outliers ? outliers_violation(sample.criterion, sample.data, sample.factors[pos])
                                : "#" + std::to_string(pos));
  }
  return image_grid(cells, captions, GridOptions(8).cell_size(72).padding(4));
}

// "the scored batch", or the robust subset it keeps, or the reference normals.
std::string fit_description(const OutliersStudyOptions& o, const OutliersFits& fits) {
  const auto& support = fits.primary().fit.support;
  if (!o.fit.robust) return fits.use_reference ? "reference normals" : "the scored batch";
  return "the " + std::to_string(support.sum().item<int64_t>()) + " of " + std::to_string(support.size(0)) + " " +
         (fits.use_reference ? "reference normals" : "scored samples") +
         " kept by a robust fit (Minimum Covariance Determinant)";
}

void add_summary(report::Report& r, const OutliersStudyOptions& o, const OutliersStudySettings& s,
                 const OutliersSample& sample, const OutliersModel& m, const OutliersFits& fits,
                 const OutliersFlags& flags, double seconds) {
  const auto& primary = fits.primary();
  r.section("Summary");
  std::ostringstream head;
  head << "Normal means " << sample.criterion.text << ". " << sample.normals() << " normals and " << sample.outliers()
       << " outliers (samples violating the criterion) are encoded by the VAE; each encoder mean is scored by its "
          "Mahalanobis distance (MD) to a Gaussian fitted on "
       << fit_description(o, fits) << ". AUROC " << study::fixed(primary.auroc, 4) << ". The " << threshold_rule_name(o.threshold)
       << " threshold " << study::fixed(flags.threshold, 2) << " flags " << flags.total << " samples: "
       << flags.true_positives << " of " << sample.outliers() << " outliers (TPR " << study::fixed(flags.tpr, 3)
       << ") and " << flags.false_positives << " of " << sample.normals() << " normals (FPR "
       << study::fixed(flags.fpr, 3) << ").";
  r.text(head.str());
  const int64_t support = primary.fit.support.sum().item<int64_t>(), fitted_on = primary.fit.support.size(0);
  std::vector<std::vector<json>> fit_rows = {{"batch (the original workflow)", study::fixed(fits.batch.auroc, 4)}};
  if (fits.use_robust)
    fit_rows.push_back({"batch, robust: " + std::to_string(support) + " of " + std::to_string(fitted_on) +
                            " samples kept (MCD)",
                        study::fixed(fits.robust.auroc, 4)});
  if (fits.use_reference)
    fit_rows.push_back({"reference (" + std::to_string(o.reference) + " other normals)",
                        study::fixed(fits.reference.auroc, 4)});
  r.table({"AUROC by fit", {"Gaussian fitted on", "AUROC"}, fit_rows});
  const bool trained = o.model.empty();
  r.table({"Settings",
           {"setting", "value"},
           {{"criterion", sample.criterion.text},
            {"normals scored", sample.normals()},
            {"outliers scored", sample.outliers()},
            {"reference normals", o.reference},
            {"VAE", describe(m.vae->spec())},
            {"VAE source", trained ? "trained here (" + preset_name(o.common.preset) + " preset)" : o.model.string()},
            {"training images (random renders)", trained ? json(s.pool) : json("-")},
            {"training steps", m.training.step},
            {"training time (s)", trained ? json(m.training.seconds) : json("-")},
            {"render time (s)", trained ? json(m.render_seconds) : json("-")},
            {"shrinkage", primary.fit.shrinkage},
            {"robust fit (MCD)", o.fit.robust ? "yes" : "no"},
            {"threshold", threshold_rule_name(o.threshold) + " (" + study::fixed(s.threshold_value, 3) + ")"},
            {"seed", static_cast<int64_t>(o.common.seed)},
            {"device", o.common.device.str()},
            {"run time (s)", seconds}}});
}

void add_samples(report::Report& r, const OutliersSample& sample) {
  r.section("Samples");
  r.text("Real renders from the scored batch. Outliers are labelled with the criterion term they break (+n: more).");
  r.figure("Normals (satisfy " + sample.criterion.text + ")", sample_grid(sample, false, 16));
  r.figure("Outliers (violate it)", sample_grid(sample, true, 16));
}

void add_distances(report::Report& r, const OutliersSample& sample, const OutliersFits& fits,
                   const OutliersFlags& flags) {
  const auto md = study::to_doubles(fits.primary().md);
  const double auc = fits.primary().auroc;
  r.section("Mahalanobis distances");
  r.chart("MD by sample index (colour: ground truth; diamonds: flagged; dashed: threshold " +
              study::fixed(flags.threshold, 2) + ")",
          outliers_index_chart(md, sample.truth, flags.threshold));
  r.chart("Distribution of MD, normals vs outliers", outliers_density_chart(md, sample.truth, 20));
  r.text("AUROC " + study::fixed(auc, 4) +
         ": the probability that a random outlier lies farther than a random normal. At the threshold: TPR " +
         study::fixed(flags.tpr, 3) + ", FPR " + study::fixed(flags.fpr, 3) + ".");
  const auto f = study::to_doubles(flags.roc.fpr), t = study::to_doubles(flags.roc.tpr);
  r.chart("ROC curve (AUROC " + study::fixed(auc, 4) + ")",
          report::line_chart("false-positive rate", "true-positive rate", {{"ROC", t}, {"chance", f}}, f));
}

void add_flagged_table(report::Report& r, const OutliersSample& sample, const OutliersFits& fits,
                       const OutliersFlags& flags, const Deviations& dev) {
  r.section("Flagged samples");
  const auto md = study::to_doubles(fits.primary().md);
  std::vector<std::string> columns = {"position", "dataset index", "MD", "truth", "most deviant dim", "z"};
  for (const auto& name : sample.data.factor_names()) columns.push_back(name);
  std::vector<std::vector<json>> rows;
  for (int64_t i = 0; i < static_cast<int64_t>(sample.truth.size()); ++i) {
    const int64_t pos = dev.by_md[i].item<int64_t>();
    if (!flags.flagged[pos].item<bool>()) break;
    const int64_t d = dev.deviant[pos].item<int64_t>();
    std::vector<json> row = {pos,
                             sample.indices[pos].item<int64_t>(),
                             md[static_cast<size_t>(pos)],
                             sample.truth[static_cast<size_t>(pos)] ? "outlier" : "normal",
                             d,
                             dev.z[pos][d].item<double>()};
    for (int64_t f = 0; f < sample.data.num_factors(); ++f)
      row.push_back(sample.data.value_names(f)[static_cast<size_t>(sample.factors[pos][f].item<int64_t>())]);
    rows.push_back(row);
  }
  r.text(std::to_string(flags.total) + " samples lie above the threshold " + study::fixed(flags.threshold, 3) +
         ", by decreasing MD.");
  r.table({"Samples with MD > threshold", columns, rows});
}

void add_counterfactuals(report::Report& r, const Counterfactuals& cf, const Deviations& dev, int64_t latents) {
  r.section("Counterfactuals");
  r.text(
      "For the samples with the largest MD: the input, then the decoded frames of a straight line in latent space "
      "from its encoder mean to its counterfactual code, where the most deviant dimension (its z-score against the "
      "normal fit on the left) is reset to the normal mean. What changes along the strip is what that dimension "
      "encodes.");
  if (cf.grid.defined()) r.figure("Morphs from outlier to counterfactual", cf.grid);
  std::vector<std::string> categories;
  for (int64_t d = 0; d < latents; ++d) categories.push_back("z" + std::to_string(d));
  r.chart("Samples per most deviant latent dimension",
          report::bar_chart("latent dimension", "samples", categories,
                            {{"true outliers", study::to_doubles(dev.per_dim_true)},
                             {"flagged", study::to_doubles(dev.per_dim_flagged)}}));
}

void add_latent_gradcam(report::Report& r, const OutliersStudyOptions& o, const LatentCamPanels& cams) {
  r.section("Signed latent Grad-CAM");
  r.text("Grad-CAM of the latent mean mu_d at encoder tap " + o.gradcam_tap +
         " for the dimensions outliers deviate in most, on normals (left) and the top outliers (right). Red: regions "
         "whose activations raise mu_d; blue: regions that lower it; both on one scale per input. Captions give mu_d.");
  for (const auto& [d, grid] : cams.grids) r.figure("Latent z" + std::to_string(d), grid);
}

void add_training(report::Report& r, const OutliersStudySettings& s, const OutliersModel& m) {
  if (m.training.history.empty()) return;
  r.section("Training");
  const auto& h = m.training.history;
  std::vector<double> steps;
  for (const auto& record : h) steps.push_back(static_cast<double>(record.step));
  r.chart("VAE loss per step", report::line_chart("step", "nats per image",
                                                  {{"loss", history_series(h, "loss")},
                                                   {"reconstruction", history_series(h, "reconstruction")},
                                                   {"KL", history_series(h, "kl")}},
                                                  steps));
  r.text("Trained " + std::to_string(m.training.step) + " steps in " + study::fixed(m.training.seconds, 1) + " s on " +
         std::to_string(s.pool) + " random renders (rendered in " + study::fixed(m.render_seconds, 1) +
         " s); checkpoint models/vae.pt.");
}

void add_metrics(report::Report& r, const OutliersStudyOptions& o, const OutliersStudySettings& s,
                 const OutliersSample& sample, const OutliersModel& m, const OutliersFits& fits,
                 const OutliersFlags& flags, const Deviations& dev, const Counterfactuals& cf,
                 const LatentCamPanels& cams, double seconds) {
  const auto& primary = fits.primary();
  r.metric("study", "outliers");
  r.metric("settings", {{"preset", preset_name(o.common.preset)},
                        {"criterion", sample.criterion.text},
                        {"normals", sample.normals()},
                        {"outliers", sample.outliers()},
                        {"reference", o.reference},
                        {"latents", s.latents},
                        {"pool", s.pool},
                        {"steps", s.steps},
                        {"supersample", s.supersample},
                        {"model", o.model.string()},
                        {"threshold", threshold_rule_name(o.threshold)},
                        {"threshold_value", s.threshold_value},
                        {"seed", o.common.seed},
                        {"device", o.common.device.str()}});
  r.metric("auroc", primary.auroc);
  r.metric("auroc_batch", fits.batch.auroc);
  if (fits.use_robust) r.metric("auroc_robust", fits.robust.auroc);
  if (fits.use_reference) r.metric("auroc_reference", fits.reference.auroc);
  r.metric("fit", fits.kind());
  r.metric("robust", o.fit.robust);
  r.metric("fit_support", primary.fit.support.sum().item<int64_t>());
  r.metric("shrinkage", primary.fit.shrinkage);
  r.metric("threshold", flags.threshold);
  r.metric("flagged.total", flags.total);
  r.metric("flagged.true_positives", flags.true_positives);
  r.metric("flagged.false_positives", flags.false_positives);
  r.metric("flagged.positions", study::to_int64s(flags.flagged.nonzero().view(-1)));
  r.metric("tpr_at_threshold", flags.tpr);
  r.metric("fpr_at_threshold", flags.fpr);
  r.metric("roc.fpr", study::to_doubles(flags.roc.fpr));
  r.metric("roc.tpr", study::to_doubles(flags.roc.tpr));
  r.metric("scores.md", study::to_doubles(primary.md));
  r.metric("scores.outlier", sample.truth);
  r.metric("scores.dataset_index", study::to_int64s(sample.indices));
  r.metric("outliers_per_dimension.true_outliers", study::to_int64s(dev.per_dim_true));
  r.metric("outliers_per_dimension.flagged", study::to_int64s(dev.per_dim_flagged));
  r.metric("counterfactuals", cf.metrics);
  r.metric("gradcam.dimensions", cams.dims);
  r.metric("gradcam.positions", cams.positions);
  r.metric("training.steps", m.training.step);
  r.metric("training.seconds", m.training.seconds);
  r.metric("training.render_seconds", m.render_seconds);
  r.metric("training.final_loss",
           m.training.history.empty() ? json(nullptr) : json(m.training.history.back().value("loss")));
  r.metric("timing.seconds", seconds);
}

}  // namespace

OutliersStudySettings resolve(const OutliersStudyOptions& o) {
  const bool paper = o.common.preset == Preset::kPaper;
  OutliersStudySettings s;
  s.latents = o.latents.value_or(12);
  s.steps = o.steps.value_or(paper ? 0 : vae_preset(Preset::kQuick).train.max_steps);
  s.pool = o.pool.value_or(paper ? 30000 : 3000);
  // Quick: one ray per pixel (rendering would otherwise rival training on 2 cores).
  s.supersample = paper ? 2 : 1;
  s.threshold_value = o.threshold_value.value_or(o.threshold == ThresholdRule::kLargestGap   ? 0.5
                                                 : o.threshold == ThresholdRule::kPercentile ? 95
                                                                                             : 0.05);
  LOUPE_CHECK(o.threshold != ThresholdRule::kFpr || o.reference > 0,
              "--threshold fpr: needs reference normals to measure the false-positive rate on; give --reference N");
  // Shapes3D has 480000 samples: no count can exceed it.
  check_count("--normals", o.normals, 2, 480000);
  check_count("--outliers", o.outliers, 1, 480000, "AUROC needs both classes");
  LOUPE_CHECK(o.reference == 0 || o.reference >= 2, "--reference ", o.reference,
              ": expected 0 (fit on the batch) or at least 2 normals");
  check_count("--reference", o.reference, 0, 480000, "0 = fit on the scored batch");
  check_count("--latents", s.latents, 1, 1024);
  check_count("--steps", s.steps, 0, 100000000, "0 = all epochs");
  check_count("--pool", s.pool, 2, 480000, "training images");
  check_count("--counterfactuals", o.counterfactuals, 0, 1000);
  check_count("--morph-steps", o.morph_steps, 2, 100, "the two ends and the frames between");
  check_count("--gradcam-dims", o.gradcam_dims, 0, 1024);
  check_count("--gradcam-inputs", o.gradcam_inputs, 0, 1000);
  check_real("--lambda", o.fit.lambda, 0, 1, "weight of the scaled identity with --shrinkage fixed");
  if (o.threshold == ThresholdRule::kLargestGap)
    LOUPE_CHECK(std::isfinite(s.threshold_value) && s.threshold_value > 0 && s.threshold_value < 1,
                "--threshold-value ", s.threshold_value,
                ": expected the fraction assumed normal, between 0 and 1 (exclusive) with --threshold gap");
  if (o.threshold == ThresholdRule::kPercentile)
    check_real("--threshold-value", s.threshold_value, 0, 100, "the percentile q with --threshold percentile");
  if (o.threshold == ThresholdRule::kFpr)
    LOUPE_CHECK(std::isfinite(s.threshold_value) && s.threshold_value >= 0 && s.threshold_value < 1,
                "--threshold-value ", s.threshold_value,
                ": expected the target false-positive rate in [0, 1) with --threshold fpr");
  return s;
}

report::Report run_outliers_study(const OutliersStudyOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models"}));
  auto sample = draw_sample(o, s);
  auto model = load_or_train_vae(o, s, sample.data);
  sample.images = sample.data.get(sample.indices).images;
  const auto fits = fit_and_score(o, sample, *model.vae);
  const auto flags = flag(o, s, sample, fits);
  const auto dev = deviations(sample, fits, flags, s.latents);
  const auto cf = counterfactual_strips(o, *model.vae, sample, fits, dev);
  const auto cams = latent_cam_panels(o, *model.vae, sample, dev, s.latents);
  const double seconds = seconds_since(started);

  report::Report r("Latent outliers: procedural Shapes3D",
                   (o.model.empty() ? "preset " + preset_name(o.common.preset)
                                    : o.model.filename().string() + " (" + std::to_string(model.training.step) +
                                          " steps)") +
                       " · " + describe(model.vae->spec()) + " · criterion " + sample.criterion.text);
  add_summary(r, o, s, sample, model, fits, flags, seconds);
  add_samples(r, sample);
  add_distances(r, sample, fits, flags);
  add_flagged_table(r, sample, fits, flags, dev);
  add_counterfactuals(r, cf, dev, s.latents);
  add_latent_gradcam(r, o, cams);
  add_training(r, s, model);
  add_metrics(r, o, s, sample, model, fits, flags, dev, cf, cams, seconds);
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
