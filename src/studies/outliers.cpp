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
#include "loupe/train/vae_trainer.h"

namespace loupe {
namespace {

using report::json;

std::string outliers_fixed(double v, int decimals) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(decimals) << v;
  return os.str();
}

std::string outliers_signed(double v, int decimals) { return (v >= 0 ? "+" : "") + outliers_fixed(v, decimals); }

std::vector<double> outliers_to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

std::vector<int64_t> outliers_to_indices(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

torch::Tensor outliers_encode_means(VaeImpl& vae, const torch::Tensor& images, torch::Device device) {
  torch::NoGradGuard no_grad;
  vae.eval();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < images.size(0); i += 256)
    out.push_back(vae.encode(images.slice(0, i, std::min(images.size(0), i + 256)).to(device)).first.cpu());
  return torch::cat(out);
}

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
    std::string label = outliers_fixed(hi * static_cast<double>(b) / static_cast<double>(bins), decimals) + "-" +
                        outliers_fixed(hi * static_cast<double>(b + 1) / static_cast<double>(bins), decimals);
    if (!seen.insert(label).second) label += " #" + std::to_string(b);
    labels.push_back(label);
  }
  return report::bar_chart("Mahalanobis distance", "samples", labels, {{"normal", normal}, {"outlier", outlier}});
}

struct OutliersScores {
  GaussianFit fit;
  torch::Tensor md;  // double [N]
  double auroc = 0;
};

}  // namespace

OutliersStudySettings resolve(const OutliersStudyOptions& o) {
  check_preset(o.common.preset);
  const bool paper = o.common.preset == "paper";
  OutliersStudySettings s;
  s.latents = o.latents.value_or(12);
  s.steps = o.steps.value_or(paper ? 0 : vae_preset(Preset::kQuick).train.max_steps);
  s.pool = o.pool.value_or(paper ? 30000 : 3000);
  // Quick: one ray per pixel (rendering would otherwise rival training on 2 cores).
  s.supersample = paper ? 2 : 1;
  LOUPE_CHECK(o.threshold == "gap" || o.threshold == "percentile" || o.threshold == "fpr", "--threshold ", o.threshold,
              ": expected gap, percentile or fpr");
  s.threshold_value = o.threshold_value.value_or(o.threshold == "gap" ? 0.5 : o.threshold == "percentile" ? 95 : 0.05);
  LOUPE_CHECK(o.threshold != "fpr" || o.reference > 0,
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
  if (o.threshold == "gap")
    LOUPE_CHECK(std::isfinite(s.threshold_value) && s.threshold_value > 0 && s.threshold_value < 1,
                "--threshold-value ", s.threshold_value,
                ": expected the fraction assumed normal, between 0 and 1 (exclusive) with --threshold gap");
  if (o.threshold == "percentile")
    check_real("--threshold-value", s.threshold_value, 0, 100, "the percentile q with --threshold percentile");
  if (o.threshold == "fpr")
    LOUPE_CHECK(std::isfinite(s.threshold_value) && s.threshold_value >= 0 && s.threshold_value < 1,
                "--threshold-value ", s.threshold_value,
                ": expected the target false-positive rate in [0, 1) with --threshold fpr");
  return s;
}

report::Report run_outliers_study(const OutliersStudyOptions& o) {
  auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models"}));
  const auto device = o.common.device;
  const auto started = std::chrono::steady_clock::now();

  // 1. The curated sample first: a bad criterion fails before any rendering or training.
  Shapes3D data(Shapes3DOptions().set_supersample(s.supersample).set_device(device));
  const auto criterion = parse_criterion(o.criterion, data);
  const auto sample = curated_sample(
      data, criterion,
      CuratedOptions().set_normals(o.normals + o.reference).set_outliers(o.outliers).set_seed(o.common.seed));
  // The first `reference` normals (in the shuffled order) are the reference set; the rest is scored.
  std::vector<int64_t> scored_pos, reference_pos;
  {
    const auto truth = outliers_to_indices(sample.is_outlier);
    for (size_t i = 0; i < truth.size(); ++i)
      (!truth[i] && static_cast<int64_t>(reference_pos.size()) < o.reference ? reference_pos : scored_pos)
          .push_back(static_cast<int64_t>(i));
  }
  const auto scored = torch::tensor(scored_pos, torch::kLong);
  const auto indices = sample.indices.index_select(0, scored);
  const auto factors = sample.factors.index_select(0, scored);
  const auto is_outlier = sample.is_outlier.index_select(0, scored);
  const auto truth = outliers_to_indices(is_outlier);
  const int64_t n = indices.size(0);

  // 2. The VAE: loaded, or trained on a pool of random renders.
  Vae vae{nullptr};
  TrainResult training;
  double render_seconds = 0;
  if (!o.model.empty()) {
    CheckpointInfo info;
    vae = load_vae(o.model, &info);
    const VaeSpec& spec = vae->spec();
    LOUPE_CHECK(!o.latents || *o.latents == spec.latents, "--latents ", *o.latents, ": the checkpoint ",
                o.model.string(), " holds a ", describe(spec), "; drop --latents or pass a matching value");
    LOUPE_CHECK(spec.channels == 3, "--model ", o.model.string(), ": holds a ", describe(spec),
                "; Shapes3D needs 3 channels");
    s.latents = spec.latents;
    training.step = info.state.step;
    vae->to(device);
  } else {
    auto preset = vae_preset(parse_preset(o.common.preset, "--preset"), 3);
    preset.spec.set_latents(s.latents);
    auto gen = make_generator(o.common.seed + 1);
    const auto pool_idx = torch::randint(data.size(), {s.pool}, gen, torch::kLong);
    const auto render_start = std::chrono::steady_clock::now();
    const auto pool = to_tensor_dataset(data, pool_idx);
    render_seconds = seconds_since(render_start);
    auto t = preset.train;
    t.set_seed(o.common.seed).set_checkpoint(o.common.out / "models" / "vae.pt");
    auto objective = preset.objective;
    objective.set_dataset_size(s.pool);
    if (s.steps > 0) t.set_max_steps(s.steps);
    torch::manual_seed(o.common.seed);
    vae = Vae(preset.spec);
    training = train_vae(*vae, pool, objective, t, device);
  }
  vae->eval();
  const int64_t L = s.latents;

  // 3. Encoder means of the sample; distances to the batch and, if given, to the reference set.
  const auto images = data.get(indices).images;
  const auto mu = outliers_encode_means(*vae, images, device);
  // The batch is always scored with the classical fit (the original workflow); with
  // `robust` and no reference set, also with the Minimum Covariance Determinant, which
  // the outliers in it cannot inflate.
  const bool use_reference = o.reference > 0;
  OutliersScores batch;
  batch.fit = fit_gaussian(mu, GaussianFitOptions(o.fit).set_robust(false));
  batch.md = mahalanobis_distance(batch.fit, mu);
  batch.auroc = auroc(batch.md, is_outlier);
  OutliersScores robust;
  if (o.fit.robust && !use_reference) {
    robust.fit = fit_gaussian(mu, GaussianFitOptions(o.fit).set_seed(o.common.seed));
    robust.md = mahalanobis_distance(robust.fit, mu);
    robust.auroc = auroc(robust.md, is_outlier);
  }
  OutliersScores reference;
  torch::Tensor reference_md;
  if (use_reference) {
    const auto ref_images = data.get(sample.indices.index_select(0, torch::tensor(reference_pos, torch::kLong))).images;
    const auto ref_mu = outliers_encode_means(*vae, ref_images, device);
    reference.fit = fit_gaussian(ref_mu, GaussianFitOptions(o.fit).set_seed(o.common.seed));
    reference.md = mahalanobis_distance(reference.fit, mu);
    reference.auroc = auroc(reference.md, is_outlier);
    reference_md = mahalanobis_distance(reference.fit, ref_mu);
  }
  const auto& primary = use_reference ? reference : o.fit.robust ? robust : batch;
  const std::string fit_kind = use_reference ? "reference" : o.fit.robust ? "robust" : "batch";
  const int64_t support = primary.fit.support.sum().item<int64_t>(), fitted_on = primary.fit.support.size(0);
  std::string fit_name = use_reference ? "reference normals" : "the scored batch";
  if (o.fit.robust)
    fit_name = "the " + std::to_string(support) + " of " + std::to_string(fitted_on) + " " +
               (use_reference ? "reference normals" : "scored samples") +
               " kept by a robust fit (Minimum Covariance Determinant)";
  const auto md = outliers_to_vector(primary.md);

  // 4. Threshold, flags, ROC.
  double threshold = 0;
  if (o.threshold == "gap")
    threshold = largest_gap_threshold(primary.md, s.threshold_value);
  else if (o.threshold == "percentile")
    threshold = percentile_threshold(primary.md, s.threshold_value);
  else
    threshold = fpr_threshold(reference_md, s.threshold_value);
  const auto flagged = primary.md.gt(threshold);
  const int64_t n_flagged = flagged.sum().item<int64_t>();
  const int64_t tp = (flagged & is_outlier).sum().item<int64_t>();
  const int64_t fp = n_flagged - tp;
  const int64_t n_out = is_outlier.sum().item<int64_t>(), n_norm = n - n_out;
  const double tpr = static_cast<double>(tp) / static_cast<double>(n_out);
  const double fpr = static_cast<double>(fp) / static_cast<double>(n_norm);
  const auto roc = roc_curve(primary.md, is_outlier);

  // 5. Z-scores against the fit, the most deviant dimension, counterfactual morphs.
  const auto z = latent_z_scores(primary.fit, mu);
  const auto deviant = most_deviant_dimension(z);
  const auto per_dim_true = outliers_per_dimension(deviant.masked_select(is_outlier), L);
  const auto per_dim_flagged = outliers_per_dimension(deviant.masked_select(flagged), L);
  const auto by_md = std::get<1>(primary.md.sort(0, /*descending=*/true));
  const int64_t n_cf = std::min(o.counterfactuals, n);
  json cf_metrics = json::array();
  torch::Tensor morph_grid;
  if (n_cf > 0) {
    const auto top = by_md.slice(0, 0, n_cf);
    const auto top_mu = mu.index_select(0, top);
    const auto dims = deviant.index_select(0, top);
    const auto target = counterfactual_latents(primary.fit, top_mu, dims);
    const auto frames = morph_latents(top_mu, target, o.morph_steps);
    torch::Tensor decoded;
    {
      torch::NoGradGuard no_grad;
      decoded = torch::sigmoid(vae->decode(frames.view({-1, L}).to(device, torch::kFloat))).cpu();
    }
    std::vector<torch::Tensor> cells;
    std::vector<std::string> captions, row_labels;
    for (int64_t r = 0; r < n_cf; ++r) {
      const int64_t pos = top[r].item<int64_t>(), d = dims[r].item<int64_t>();
      const double zd = z[pos][d].item<double>();
      cells.push_back(images[pos]);
      captions.push_back(truth[static_cast<size_t>(pos)] ? "input (out)" : "input (norm)");
      for (int64_t k = 0; k < o.morph_steps; ++k) {
        cells.push_back(decoded[r * o.morph_steps + k]);
        captions.push_back(k == 0 ? "decoded" : k == o.morph_steps - 1 ? "z" + std::to_string(d) + "=mean" : "");
      }
      row_labels.push_back("#" + std::to_string(pos) + " z" + std::to_string(d) + " " + outliers_signed(zd, 1) + "sd");
      cf_metrics.push_back({{"position", pos},
                            {"dataset_index", indices[pos].item<int64_t>()},
                            {"md", md[static_cast<size_t>(pos)]},
                            {"outlier", truth[static_cast<size_t>(pos)] == 1},
                            {"dimension", d},
                            {"z_score", zd},
                            {"from", mu[pos][d].item<double>()},
                            {"to", primary.fit.mean[d].item<double>()}});
    }
    morph_grid = image_grid(cells, captions, GridOptions(o.morph_steps + 1).cell_size(72).padding(4), row_labels);
  }

  // 6. Signed latent Grad-CAM for the dims outliers deviate in most, on normals and top outliers.
  std::vector<int64_t> cam_dims;
  {
    std::vector<int64_t> order(static_cast<size_t>(L));
    std::iota(order.begin(), order.end(), 0);
    const auto counts = outliers_to_indices(per_dim_true);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return counts[static_cast<size_t>(a)] > counts[static_cast<size_t>(b)];
    });
    for (int64_t i = 0; i < std::min(o.gradcam_dims, L); ++i) cam_dims.push_back(order[static_cast<size_t>(i)]);
  }
  std::vector<int64_t> cam_inputs;
  for (int64_t i = 0; i < n && static_cast<int64_t>(cam_inputs.size()) < o.gradcam_inputs / 2; ++i)
    if (!truth[static_cast<size_t>(i)]) cam_inputs.push_back(i);
  for (int64_t i = 0; i < n && static_cast<int64_t>(cam_inputs.size()) < o.gradcam_inputs; ++i) {
    const int64_t pos = by_md[i].item<int64_t>();
    if (truth[static_cast<size_t>(pos)]) cam_inputs.push_back(pos);
  }
  std::vector<std::pair<int64_t, torch::Tensor>> cam_panels;
  if (!cam_inputs.empty()) {
    const auto cam_images = images.index_select(0, torch::tensor(cam_inputs, torch::kLong));
    for (const int64_t d : cam_dims) {
      const auto maps = latent_gradcam(*vae->encoder, cam_images, d, LatentGradCamOptions().set_tap(o.gradcam_tap));
      std::vector<torch::Tensor> cells;
      std::vector<std::string> captions;
      const int64_t k = cam_images.size(0);
      for (int64_t i = 0; i < k; ++i) {
        cells.push_back(cam_images[i]);
        captions.push_back((truth[static_cast<size_t>(cam_inputs[static_cast<size_t>(i)])] ? "out " : "norm ") +
                           outliers_signed(maps.latent[i].item<double>(), 2));
      }
      // Diverging map read on [0,1]: 0.5 is white, 1 red (raises mu_d), 0 blue (lowers it).
      for (int64_t i = 0; i < k; ++i) {
        cells.push_back(overlay_heatmap(cam_images[i], 0.5 + 0.5 * maps.positive[i], 0.6, Colormap::diverging));
        captions.push_back("");
      }
      for (int64_t i = 0; i < k; ++i) {
        cells.push_back(overlay_heatmap(cam_images[i], 0.5 - 0.5 * maps.negative[i], 0.6, Colormap::diverging));
        captions.push_back("");
      }
      cam_panels.emplace_back(
          d, image_grid(cells, captions, GridOptions(k).cell_size(80).padding(4), {"input", "+ raises", "- lowers"}));
    }
  }

  // 7. Sample grids (real images).
  auto sample_grid = [&](bool outliers, int64_t limit) {
    std::vector<torch::Tensor> cells;
    std::vector<std::string> captions;
    for (int64_t i = 0; i < n && static_cast<int64_t>(cells.size()) < limit; ++i) {
      if (truth[static_cast<size_t>(i)] != static_cast<int64_t>(outliers)) continue;
      cells.push_back(images[i]);
      captions.push_back(outliers ? outliers_violation(criterion, data, factors[i]) : "#" + std::to_string(i));
    }
    return image_grid(cells, captions, GridOptions(8).cell_size(72).padding(4));
  };
  const auto normal_grid = sample_grid(false, 16), outlier_grid = sample_grid(true, 16);

  const double seconds = seconds_since(started);

  // The report.
  report::Report r("Latent outliers: procedural Shapes3D",
                   (o.model.empty() ? "preset " + o.common.preset
                                    : o.model.filename().string() + " (" + std::to_string(training.step) + " steps)") +
                       " · " + describe(vae->spec()) + " · criterion " + criterion.text);
  r.section("Summary");
  std::ostringstream head;
  head << "Normal means " << criterion.text << ". " << n_norm << " normals and " << n_out
       << " outliers (samples violating the criterion) are encoded by the VAE; each encoder mean is scored by its "
          "Mahalanobis distance (MD) to a Gaussian fitted on "
       << fit_name << ". AUROC " << outliers_fixed(primary.auroc, 4) << ". The " << o.threshold << " threshold "
       << outliers_fixed(threshold, 2) << " flags " << n_flagged << " samples: " << tp << " of " << n_out
       << " outliers (TPR " << outliers_fixed(tpr, 3) << ") and " << fp << " of " << n_norm << " normals (FPR "
       << outliers_fixed(fpr, 3) << ").";
  r.text(head.str());
  std::vector<std::vector<json>> fit_rows = {{"batch (the original workflow)", outliers_fixed(batch.auroc, 4)}};
  if (o.fit.robust && !use_reference)
    fit_rows.push_back(
        {"batch, robust: " + std::to_string(support) + " of " + std::to_string(fitted_on) + " samples kept (MCD)",
         outliers_fixed(robust.auroc, 4)});
  if (use_reference)
    fit_rows.push_back(
        {"reference (" + std::to_string(o.reference) + " other normals)", outliers_fixed(reference.auroc, 4)});
  r.table({"AUROC by fit", {"Gaussian fitted on", "AUROC"}, fit_rows});
  r.table({"Settings",
           {"setting", "value"},
           {{"criterion", criterion.text},
            {"normals scored", n_norm},
            {"outliers scored", n_out},
            {"reference normals", o.reference},
            {"VAE", describe(vae->spec())},
            {"VAE source", o.model.empty() ? "trained here (" + o.common.preset + " preset)" : o.model.string()},
            {"training images (random renders)", o.model.empty() ? json(s.pool) : json("-")},
            {"training steps", training.step},
            {"training time (s)", o.model.empty() ? json(training.seconds) : json("-")},
            {"render time (s)", o.model.empty() ? json(render_seconds) : json("-")},
            {"shrinkage", primary.fit.shrinkage},
            {"robust fit (MCD)", o.fit.robust ? "yes" : "no"},
            {"threshold", o.threshold + " (" + outliers_fixed(s.threshold_value, 3) + ")"},
            {"seed", static_cast<int64_t>(o.common.seed)},
            {"device", device.str()},
            {"run time (s)", seconds}}});

  r.section("Samples");
  r.text("Real renders from the scored batch. Outliers are labelled with the criterion term they break (+n: more).");
  r.figure("Normals (satisfy " + criterion.text + ")", normal_grid);
  r.figure("Outliers (violate it)", outlier_grid);

  r.section("Mahalanobis distances");
  r.chart("MD by sample index (colour: ground truth; diamonds: flagged; dashed: threshold " +
              outliers_fixed(threshold, 2) + ")",
          outliers_index_chart(md, truth, threshold));
  r.chart("Distribution of MD, normals vs outliers", outliers_density_chart(md, truth, 20));
  r.text("AUROC " + outliers_fixed(primary.auroc, 4) +
         ": the probability that a random outlier lies farther than a "
         "random normal. At the threshold: TPR " +
         outliers_fixed(tpr, 3) + ", FPR " + outliers_fixed(fpr, 3) + ".");
  {
    const auto f = outliers_to_vector(roc.fpr), t = outliers_to_vector(roc.tpr);
    r.chart("ROC curve (AUROC " + outliers_fixed(primary.auroc, 4) + ")",
            report::line_chart("false-positive rate", "true-positive rate", {{"ROC", t}, {"chance", f}}, f));
  }

  r.section("Flagged samples");
  {
    std::vector<std::string> columns = {"position", "dataset index", "MD", "truth", "most deviant dim", "z"};
    for (const auto& name : data.factor_names()) columns.push_back(name);
    std::vector<std::vector<json>> rows;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = by_md[i].item<int64_t>();
      if (!flagged[pos].item<bool>()) break;
      const int64_t d = deviant[pos].item<int64_t>();
      std::vector<json> row = {pos,
                               indices[pos].item<int64_t>(),
                               md[static_cast<size_t>(pos)],
                               truth[static_cast<size_t>(pos)] ? "outlier" : "normal",
                               d,
                               z[pos][d].item<double>()};
      for (int64_t f = 0; f < data.num_factors(); ++f)
        row.push_back(data.value_names(f)[static_cast<size_t>(factors[pos][f].item<int64_t>())]);
      rows.push_back(row);
    }
    r.text(std::to_string(n_flagged) + " samples lie above the threshold " + outliers_fixed(threshold, 3) +
           ", by decreasing MD.");
    r.table({"Samples with MD > threshold", columns, rows});
  }

  r.section("Counterfactuals");
  r.text(
      "For the samples with the largest MD: the input, then the decoded frames of a straight line in latent space "
      "from its encoder mean to its counterfactual code, where the most deviant dimension (its z-score against the "
      "normal fit on the left) is reset to the normal mean. What changes along the strip is what that dimension "
      "encodes.");
  if (morph_grid.defined()) r.figure("Morphs from outlier to counterfactual", morph_grid);
  {
    std::vector<std::string> categories;
    for (int64_t d = 0; d < L; ++d) categories.push_back("z" + std::to_string(d));
    r.chart("Samples per most deviant latent dimension",
            report::bar_chart("latent dimension", "samples", categories,
                              {{"true outliers", outliers_to_vector(per_dim_true)},
                               {"flagged", outliers_to_vector(per_dim_flagged)}}));
  }

  r.section("Signed latent Grad-CAM");
  r.text("Grad-CAM of the latent mean mu_d at encoder tap " + o.gradcam_tap +
         " for the dimensions outliers deviate in most, on normals (left) and the top outliers (right). Red: regions "
         "whose activations raise mu_d; blue: regions that lower it; both on one scale per input. Captions give mu_d.");
  for (const auto& [d, grid] : cam_panels) r.figure("Latent z" + std::to_string(d), grid);

  if (!training.history.empty()) {
    r.section("Training");
    std::vector<double> steps, loss, recon, kl;
    for (const auto& h : training.history) {
      steps.push_back(static_cast<double>(h.step));
      loss.push_back(h.value("loss"));
      recon.push_back(h.value("reconstruction"));
      kl.push_back(h.value("kl"));
    }
    r.chart("VAE loss per step", report::line_chart("step", "nats per image",
                                                    {{"loss", loss}, {"reconstruction", recon}, {"KL", kl}}, steps));
    r.text("Trained " + std::to_string(training.step) + " steps in " + outliers_fixed(training.seconds, 1) + " s on " +
           std::to_string(s.pool) + " random renders (rendered in " + outliers_fixed(render_seconds, 1) +
           " s); checkpoint models/vae.pt.");
  }

  r.metric("study", "outliers");
  r.metric("settings", {{"preset", o.common.preset},
                        {"criterion", criterion.text},
                        {"normals", n_norm},
                        {"outliers", n_out},
                        {"reference", o.reference},
                        {"latents", L},
                        {"pool", s.pool},
                        {"steps", s.steps},
                        {"supersample", s.supersample},
                        {"model", o.model.string()},
                        {"threshold", o.threshold},
                        {"threshold_value", s.threshold_value},
                        {"seed", o.common.seed},
                        {"device", device.str()}});
  r.metric("auroc", primary.auroc);
  r.metric("auroc_batch", batch.auroc);
  if (o.fit.robust && !use_reference) r.metric("auroc_robust", robust.auroc);
  if (use_reference) r.metric("auroc_reference", reference.auroc);
  r.metric("fit", fit_kind);
  r.metric("robust", o.fit.robust);
  r.metric("fit_support", support);
  r.metric("shrinkage", primary.fit.shrinkage);
  r.metric("threshold", threshold);
  r.metric("flagged.total", n_flagged);
  r.metric("flagged.true_positives", tp);
  r.metric("flagged.false_positives", fp);
  r.metric("flagged.positions", outliers_to_indices(flagged.nonzero().view(-1)));
  r.metric("tpr_at_threshold", tpr);
  r.metric("fpr_at_threshold", fpr);
  r.metric("roc.fpr", outliers_to_vector(roc.fpr));
  r.metric("roc.tpr", outliers_to_vector(roc.tpr));
  r.metric("scores.md", md);
  r.metric("scores.outlier", truth);
  r.metric("scores.dataset_index", outliers_to_indices(indices));
  r.metric("outliers_per_dimension.true_outliers", outliers_to_indices(per_dim_true));
  r.metric("outliers_per_dimension.flagged", outliers_to_indices(per_dim_flagged));
  r.metric("counterfactuals", cf_metrics);
  r.metric("gradcam.dimensions", cam_dims);
  r.metric("gradcam.positions", cam_inputs);
  r.metric("training.steps", training.step);
  r.metric("training.seconds", training.seconds);
  r.metric("training.render_seconds", render_seconds);
  r.metric("training.final_loss", training.history.empty() ? json(nullptr) : json(training.history.back().value("loss")));
  r.metric("timing.seconds", seconds);
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
