#include "loupe/studies/disentangle.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/data/shapes3d.h"
#include "loupe/explain/latent_traversal.h"
#include "loupe/metrics/disentanglement.h"
#include "loupe/metrics/ssim.h"
#include "loupe/models/checkpoint.h"
#include "loupe/studies/toolkit.h"
#include "loupe/train/vae_trainer.h"

namespace loupe {

DisentangleStudySettings resolve(const DisentangleStudyOptions& o) {
  const bool paper = o.common.preset == Preset::kPaper;
  const auto preset = vae_preset(o.common.preset);
  DisentangleStudySettings s;
  s.objective = o.objective.value_or(objective_name(preset.objective.kind));
  try {
    parse_objective(s.objective);
  } catch (const Error& e) {
    fail("--objective ", s.objective, ": ", e.what());
  }
  s.beta = o.beta.value_or(preset.objective.beta);
  s.latents = o.latents.value_or(preset.spec.latents);
  s.steps = o.steps.value_or(preset.train.max_steps);
  s.batch_size = preset.train.batch_size;
  // quick: 3000 images rendered once (~13 epochs of 1200 steps at batch 32); paper renders every batch.
  s.pool = o.pool.value_or(paper ? 0 : 3000);
  s.eval_images = o.eval_images.value_or(paper ? 10000 : 1000);
  s.supersample = paper ? 2 : 1;
  check_real("--beta", s.beta, 0, 1e6);
  check_count("--latents", s.latents, 2, 1024, "MIG compares the two best latents");
  check_count("--steps", s.steps, 0, 100000000, "0 = the preset's epochs");
  LOUPE_CHECK(s.pool == 0 || s.pool >= 2, "--pool ", s.pool,
              ": expected 0 (render every batch) or at least 2 training images");
  LOUPE_CHECK(s.eval_images >= 20, "--eval-images ", s.eval_images, ": expected at least 20 held-out images");
  LOUPE_CHECK(s.pool + s.eval_images <= 480000, "--pool ", s.pool, " and --eval-images ", s.eval_images,
              ": together at most the 480000 Shapes3D samples");
  LOUPE_CHECK(o.traversal_steps >= 2, "traversal steps ", o.traversal_steps, ": expected at least 2");
  LOUPE_CHECK(o.model.empty() || !o.resume, "--resume continues training and --model skips it; give one of them");
  LOUPE_CHECK(o.model.empty() || fs::exists(o.model), "--model ", o.model.string(),
              ": no such file; expected a VAE checkpoint written by loupe (e.g. models/vae.pt of an earlier run)");
  return s;
}

namespace {

using report::json;

// Disjoint random samples of the procedural Shapes3D: the training pool, then the
// held-out evaluation set (rendered once). Without a pool, training renders every other
// sample as it goes.
struct DisentangleData {
  Shapes3D shapes;
  torch::Tensor train_idx, eval_idx;
  TensorDataset eval;
  torch::Tensor eval_factors;  // int64 [N,6]
  Batch samples;               // the first 16 evaluation images, for the data figure
  double render_seconds = 0;
};

DisentangleData render_evaluation_set(const DisentangleStudyOptions& o, const DisentangleStudySettings& s) {
  const auto started = std::chrono::steady_clock::now();
  Shapes3D shapes{Shapes3DOptions().set_supersample(s.supersample).set_device(o.common.device)};
  auto gen = at::detail::createCPUGenerator(o.common.seed);
  const auto perm = torch::randperm(shapes.size(), gen, torch::kLong);
  const auto eval_idx = perm.slice(0, s.pool, s.pool + s.eval_images);
  const auto train_idx = s.pool > 0 ? perm.slice(0, 0, s.pool) : perm.slice(0, s.eval_images);
  auto eval = to_tensor_dataset(shapes, eval_idx);
  auto factors = shapes.factors(eval_idx);
  auto samples = eval.get(torch::arange(std::min<int64_t>(16, s.eval_images), torch::kLong));
  return {std::move(shapes), train_idx, eval_idx, std::move(eval), factors, samples, seconds_since(started)};
}

// The VAE under study: loaded from --model, or trained here on the pool (or on a lazy
// view of every sample but the evaluation set).
struct DisentangleModel {
  Vae vae{nullptr};
  TrainResult run;
  std::string source;        // for the report's subtitle and settings
  bool trained_here = true;  // false: nothing is known of its training set
};

DisentangleModel load_or_train_vae(const DisentangleStudyOptions& o, const DisentangleStudySettings& s,
                                   const DisentangleData& data) {
  DisentangleModel m;
  if (!o.model.empty()) {
    CheckpointInfo info;
    m.vae = load_vae(o.model, &info);
    LOUPE_CHECK(m.vae->spec().channels == 3, "--model ", o.model.string(), ": ", describe(m.vae->spec()),
                "; expected a 3-channel VAE for Shapes3D");
    m.vae->to(o.common.device);
    try {
      m.run.history = history_from_json(info.state.history_json);
    } catch (const Error&) {
      m.run.history.clear();  // a checkpoint without a loss history: the report says so
    }
    m.run.step = info.state.step;
    m.source = "loaded from " + o.model.string();
    m.trained_here = false;
    return m;
  }
  auto preset = vae_preset(o.common.preset);
  preset.spec.set_latents(s.latents);
  auto objective = preset.objective;
  objective.set_kind(parse_objective(s.objective)).set_beta(s.beta).set_dataset_size(data.train_idx.size(0));
  auto t = preset.train;
  t.set_max_steps(s.steps).set_seed(o.common.seed).set_checkpoint(o.common.out / "models" / "vae.pt").set_resume(o.resume);
  torch::manual_seed(o.common.seed);
  m.vae = Vae(preset.spec);
  if (s.pool > 0)
    m.run = train_vae(*m.vae, to_tensor_dataset(data.shapes, data.train_idx), objective, t, o.common.device);
  else
    m.run = train_vae(*m.vae, DatasetView(data.shapes, data.train_idx), objective, t, o.common.device);
  m.source = "trained here (" + s.objective + ", beta " + study::fixed(s.beta, 1) + ", " + std::to_string(m.run.step) +
             " steps)";
  return m;
}

// The scores of the codes of the evaluation set.
struct DisentangleScores {
  study::LatentCodes codes;
  MigResult mig;
  DciResult dci;
  double sap = 0, ssim_mean = 0;
  LatentUsage usage;
  torch::Tensor normalised_mi;  // I(z; v) / H(v): the fraction of a factor a latent pins down
};

DisentangleScores score_codes(VaeImpl& vae, const DisentangleData& data, const DisentangleStudySettings& s,
                              torch::Device device) {
  DisentangleScores r;
  r.codes = study::encode_dataset(vae, data.eval, device, /*reconstruct=*/true);
  r.mig = mutual_information_gap(r.codes.mu, data.eval_factors);
  r.dci = dci(r.codes.mu, data.eval_factors);
  r.sap = sap_score(r.codes.mu, data.eval_factors);
  r.ssim_mean = ssim(data.eval.get(torch::arange(s.eval_images, torch::kLong)).images, r.codes.recon).mean().item<double>();
  r.usage = latent_usage(r.codes.mu, r.codes.logvar);
  r.normalised_mi = r.mig.mutual_information / r.mig.entropies.unsqueeze(0);
  return r;
}

std::vector<std::string> latent_names(int64_t latents) {
  std::vector<std::string> names;
  for (int64_t l = 0; l < latents; ++l) names.push_back("z" + std::to_string(l));
  return names;
}

// "held-out" when trained here; with --model nothing is known of its training set.
std::string scored_images(const DisentangleModel& m) { return m.trained_here ? "held-out" : "evaluation"; }

void add_summary(report::Report& r, const DisentangleStudyOptions& o, const DisentangleStudySettings& s,
                 const DisentangleModel& m, const DisentangleScores& sc) {
  const int64_t latents = m.vae->spec().latents;
  const std::string scored = scored_images(m);
  r.section("Summary");
  r.text("MIG " + study::fixed(sc.mig.mig, 3) + " (0 = entangled, 1 = each factor in exactly one latent), DCI "
         "disentanglement " + study::fixed(sc.dci.disentanglement, 3) + ", completeness " +
         study::fixed(sc.dci.completeness, 3) + ", SAP " + study::fixed(sc.sap, 3) +
         "; reconstructions reach a mean SSIM of " + study::fixed(sc.ssim_mean, 3) + " on " +
         std::to_string(s.eval_images) + " " + scored + " images. " +
         std::to_string(std::count(sc.usage.dead.begin(), sc.usage.dead.end(), true)) + " of " +
         std::to_string(latents) + " latent dimensions are dead (mean KL below 0.01 nats).");
  r.table({"Scores (" + scored + " images)",
           {"metric", "value"},
           {{"MIG (mean over factors)", sc.mig.mig},
            {"DCI disentanglement", sc.dci.disentanglement},
            {"DCI completeness", sc.dci.completeness},
            {"SAP", sc.sap},
            {"SSIM (reconstruction vs input, mean)", sc.ssim_mean}}});
  // A loaded checkpoint records its steps but not how it was trained: only what is known is shown.
  std::vector<std::vector<json>> settings = {{"model", m.source}};
  if (m.trained_here) settings.push_back({"objective", s.objective});
  if (m.trained_here) settings.push_back({"beta", s.beta});
  settings.push_back({"latents", latents});
  settings.push_back({"optimiser steps", m.run.step});
  if (m.trained_here) settings.push_back({"batch size", s.batch_size});
  if (m.trained_here) settings.push_back({"training pool", s.pool > 0 ? json(s.pool) : json("rendered per batch")});
  settings.push_back({scored + " images", s.eval_images});
  settings.push_back({"supersample (evaluation renders)", s.supersample});
  settings.push_back({"seed", static_cast<int64_t>(o.common.seed)});
  settings.push_back({"device", o.common.device.str()});
  r.table({"Settings", {"setting", "value"}, settings});
}

void add_data_section(report::Report& r, const DisentangleData& data) {
  r.section("Data");
  std::vector<std::string> labels;
  for (int64_t i = 0; i < data.samples.images.size(0); ++i) {
    const auto f = data.eval_factors[i];
    labels.push_back(shapes3d_value_names(4)[f[4].item<int64_t>()] + " " +
                     shapes3d_value_names(2)[f[2].item<int64_t>()]);
  }
  r.text(
      "Evaluation samples of the procedural Shapes3D (floor, wall and object hue, scale, shape and orientation; "
      "labels: shape and object hue).");
  r.figure("Dataset samples", image_grid(std::vector<torch::Tensor>(data.samples.images.unbind(0)), labels,
                                         GridOptions(8).cell_size(96)));
}

void add_training_section(report::Report& r, const DisentangleModel& m) {
  r.section("Training");
  if (m.run.history.empty()) {
    r.text("The checkpoint holds no loss history.");
    return;
  }
  std::vector<double> x;
  for (const auto& h : m.run.history) x.push_back(static_cast<double>(h.step));
  const auto series = [&](const char* name) { return history_series(m.run.history, name); };
  r.text(
      "Loss components (nats per image, means over each logging window). For beta-TCVAE the KL splits into "
      "index-code mutual information, total correlation and dimension-wise KL; the other objectives leave those "
      "gaps.");
  r.chart("Reconstruction loss per step",
          report::line_chart("step", "nats per image", {{"reconstruction", series("reconstruction")}}, x));
  r.chart("KL and its decomposition per step",
          report::line_chart("step", "nats per image",
                             {{"KL", series("kl")},
                              {"mutual information", series("mutual_information")},
                              {"total correlation", series("total_correlation")},
                              {"dimension-wise KL", series("dimension_kl")}},
                             x));
  r.chart("Annealed weight per step", report::line_chart("step", "weight", {{"weight", series("weight")}}, x));
}

// Which latent encodes which factor: the best and runner-up latent by normalised MI, as
// the report's table rows and as metrics.json records.
struct FactorAssignment {
  std::vector<std::vector<json>> rows;
  json records = json::array();
};

FactorAssignment factor_assignment(const DisentangleScores& sc, const std::vector<std::string>& factors,
                                   const std::vector<std::string>& latents) {
  FactorAssignment out;
  for (int64_t f = 0; f < static_cast<int64_t>(factors.size()); ++f) {
    const auto [top, idx] = sc.normalised_mi.select(1, f).topk(2);
    const int64_t best = idx[0].item<int64_t>(), second = idx[1].item<int64_t>();
    const double gap = sc.mig.per_factor[f].item<double>();
    out.rows.push_back(
        {factors[f], latents[best], top[0].item<double>(), latents[second], top[1].item<double>(), gap});
    out.records.push_back({{"factor", factors[f]},
                   {"latent", best},
                   {"normalised_mi", top[0].item<double>()},
                   {"second_latent", second},
                   {"second_normalised_mi", top[1].item<double>()},
                   {"gap", gap}});
  }
  return out;
}

void add_disentanglement_section(report::Report& r, const DisentangleScores& sc, const FactorAssignment& assignment,
                                 const std::vector<std::string>& factors, const std::vector<std::string>& latents) {
  r.section("Disentanglement");
  r.text(
      "Mutual information between each latent (encoder mean, 20 bins) and each factor, divided by the factor's "
      "entropy: 1 means the latent determines the factor. MIG per factor is the gap between its two best latents.");
  r.chart("Normalised mutual information I(z; v) / H(v)",
          report::heatmap("latent", "factor", latents, factors, sc.normalised_mi, "I/H"));
  r.chart("MIG per factor", report::bar_chart("factor", "MIG", factors, {{"MIG", study::to_doubles(sc.mig.per_factor)}}));
  r.table({"Which latent encodes which factor",
           {"factor", "latent", "I/H", "runner-up", "its I/H", "gap (MIG)"},
           assignment.rows});
}

void add_reconstructions(report::Report& r, const DisentangleData& data, const DisentangleScores& sc,
                         const DisentangleStudySettings& s, const std::string& scored) {
  r.section("Reconstructions");
  const int64_t shown = std::min<int64_t>(8, s.eval_images);
  std::vector<torch::Tensor> cells;
  for (int64_t i = 0; i < shown; ++i) cells.push_back(data.samples.images[i]);
  for (int64_t i = 0; i < shown; ++i) cells.push_back(sc.codes.recon[i]);
  std::string caption = scored + " inputs (top) and reconstructions from the encoder mean (bottom)";
  caption[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(caption[0])));
  r.figure(caption, image_grid(cells, std::vector<std::string>(cells.size()), GridOptions(shown).cell_size(96),
                               {"input", "recon"}));
}

// Cells of decoded grids [R,S,C,H,W] in row order.
std::vector<torch::Tensor> grid_cells(const torch::Tensor& grid) {
  std::vector<torch::Tensor> cells;
  for (int64_t row = 0; row < grid.size(0); ++row)
    for (int64_t col = 0; col < grid.size(1); ++col) cells.push_back(grid[row][col]);
  return cells;
}

void add_traversals(report::Report& r, VaeImpl& vae, const DisentangleStudyOptions& o, const DisentangleScores& sc,
                    const std::vector<std::string>& latents, const std::string& scored) {
  r.section("Latent traversals");
  const auto decode = vae_image_decoder(vae);
  const auto options = TraversalOptions().set_steps(o.traversal_steps);
  const auto offsets = traversal_offsets(options);
  const auto base = sc.codes.mu[0];
  std::vector<std::string> offset_labels, row_labels;
  for (int64_t j = 0; j < o.traversal_steps; ++j) offset_labels.push_back(study::fixed(offsets[j].item<double>(), 1));
  for (const int64_t d : sc.usage.order)
    row_labels.push_back(latents[d] + (sc.usage.dead[d] ? " dead" : " " + study::fixed(sc.usage.kl[d].item<double>(), 1)));
  std::vector<std::string> traversal_labels(latents.size() * static_cast<size_t>(o.traversal_steps));
  std::copy(offset_labels.begin(), offset_labels.end(), traversal_labels.begin());
  r.text("Each row moves one latent from " + offset_labels.front() + " to " + offset_labels.back() +
         " around the first " + scored +
         " image's code (the middle column is its reconstruction). Rows are ordered by the latent's mean KL from "
         "the prior (nats, in the row label); 'dead' marks latents below 0.01 nats, which the decoder ignores.");
  r.figure("Traversals ordered by KL",
           image_grid(grid_cells(latent_traversal(decode, base, sc.usage.order, options)), traversal_labels,
                      GridOptions(o.traversal_steps).cell_size(80), row_labels));
  const int64_t row_dim = sc.usage.order[0], col_dim = sc.usage.order[1];
  std::vector<std::string> plane_labels(static_cast<size_t>(o.traversal_steps * o.traversal_steps)), plane_rows;
  std::copy(offset_labels.begin(), offset_labels.end(), plane_labels.begin());
  for (const auto& v : offset_labels) plane_rows.push_back(latents[row_dim] + " " + v);
  r.text("The plane of the two latents with the largest KL: " + latents[row_dim] + " down the rows, " +
         latents[col_dim] + " across the columns (offsets above the first row).");
  r.figure("Latent plane " + latents[row_dim] + " x " + latents[col_dim],
           image_grid(grid_cells(latent_plane(decode, base, row_dim, col_dim, options)), plane_labels,
                      GridOptions(o.traversal_steps).cell_size(80), plane_rows));
}

void add_metrics(report::Report& r, const DisentangleStudyOptions& o, const DisentangleStudySettings& s,
                 const DisentangleData& data, const DisentangleModel& m, const DisentangleScores& sc,
                 const FactorAssignment& assignment, const std::vector<std::string>& factors, double seconds) {
  json per_factor = json::object();
  const auto gaps = study::to_doubles(sc.mig.per_factor);
  for (size_t f = 0; f < factors.size(); ++f) per_factor[factors[f]] = gaps[f];
  r.metric("study", "disentangle");
  r.metric("settings", {{"preset", preset_name(o.common.preset)},
                        {"objective", s.objective},
                        {"beta", s.beta},
                        {"latents", m.vae->spec().latents},
                        {"steps", m.run.step},
                        {"batch_size", s.batch_size},
                        {"pool", s.pool},
                        {"eval_images", s.eval_images},
                        {"supersample", s.supersample},
                        {"model", o.model.string()},
                        {"seed", o.common.seed},
                        {"device", o.common.device.str()}});
  r.metric("mig.mean", sc.mig.mig);
  r.metric("mig.per_factor", per_factor);
  r.metric("mig.mutual_information", study::matrix_json(sc.mig.mutual_information));
  r.metric("mig.entropies", study::to_doubles(sc.mig.entropies));
  r.metric("dci.disentanglement", sc.dci.disentanglement);
  r.metric("dci.completeness", sc.dci.completeness);
  r.metric("dci.importance", study::matrix_json(sc.dci.importance));
  r.metric("sap", sc.sap);
  r.metric("ssim.mean", sc.ssim_mean);
  r.metric("latents.kl", study::to_doubles(sc.usage.kl));
  r.metric("latents.order", sc.usage.order);
  r.metric("latents.dead", std::vector<bool>(sc.usage.dead));
  r.metric("latents.plane", {sc.usage.order[0], sc.usage.order[1]});
  r.metric("assignment", assignment.records);
  r.metric("factors", factors);
  r.metric("history", json::parse(history_to_json(m.run.history)));
  r.metric("timing.seconds", seconds);
  r.metric("timing.render_seconds", data.render_seconds);
  r.metric("timing.train_seconds", m.run.seconds);
}

}  // namespace

report::Report run_disentangle_study(const DisentangleStudyOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  const auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models"}));
  const auto data = render_evaluation_set(o, s);
  auto model = load_or_train_vae(o, s, data);
  const auto scores = score_codes(*model.vae, data, s, o.common.device);
  const auto factors = shapes3d_factor_names();
  const auto latents = latent_names(model.vae->spec().latents);
  const std::string scored = scored_images(model);

  report::Report r("Disentanglement study: procedural Shapes3D",
                   "preset " + preset_name(o.common.preset) + " · " + describe(model.vae->spec()) + " · " + model.source);
  add_summary(r, o, s, model, scores);
  add_data_section(r, data);
  add_training_section(r, model);
  const auto assignment = factor_assignment(scores, factors, latents);
  add_disentanglement_section(r, scores, assignment, factors, latents);
  add_reconstructions(r, data, scores, s, scored);
  add_traversals(r, *model.vae, o, scores, latents, scored);
  add_metrics(r, o, s, data, model, scores, assignment, factors, seconds_since(started));
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
