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
#include "loupe/train/vae_trainer.h"

namespace loupe {
namespace {

using report::json;

std::string disentangle_fixed(double v, int digits = 2) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

std::vector<double> disentangle_vector(const torch::Tensor& t) {
  const auto d = t.to(torch::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

json disentangle_matrix_json(const torch::Tensor& m) {
  std::vector<std::vector<double>> rows;
  for (const auto& row : m.unbind(0)) rows.push_back(disentangle_vector(row));
  return rows;
}

struct DisentangleCodes {
  torch::Tensor mu, logvar;  // [N,L], CPU
  torch::Tensor recon;       // [N,3,64,64], CPU
};

// Encoder means, log variances and deterministic reconstructions of every image.
DisentangleCodes encode_and_reconstruct(VaeImpl& vae, const Dataset& data, torch::Device device) {
  torch::NoGradGuard no_grad;
  vae.eval();
  std::vector<torch::Tensor> mus, lvs, recons;
  for (int64_t i = 0; i < data.size(); i += 256) {
    const auto x = data.get(torch::arange(i, std::min(data.size(), i + 256), torch::kLong)).images.to(device);
    const auto [mu, lv] = vae.encode(x);
    mus.push_back(mu.cpu());
    lvs.push_back(lv.cpu());
    recons.push_back(torch::sigmoid(vae.decode(mu)).cpu());
  }
  return {torch::cat(mus), torch::cat(lvs), torch::cat(recons)};
}

// Cells of decoded grids [R,S,C,H,W] in row order.
std::vector<torch::Tensor> disentangle_cells(const torch::Tensor& grid) {
  std::vector<torch::Tensor> cells;
  for (int64_t r = 0; r < grid.size(0); ++r)
    for (int64_t s = 0; s < grid.size(1); ++s) cells.push_back(grid[r][s]);
  return cells;
}

}  // namespace

DisentangleStudySettings resolve(const DisentangleStudyOptions& o) {
  check_preset(o.common.preset);
  const bool paper = o.common.preset == "paper";
  const auto preset = vae_preset(parse_preset(o.common.preset, "--preset"));
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

report::Report run_disentangle_study(const DisentangleStudyOptions& o) {
  const auto s = resolve(o);
  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models"}));
  const auto device = o.common.device;
  const auto started = std::chrono::steady_clock::now();

  // Disjoint random samples: the training pool first, then the held-out evaluation set.
  // Without a pool, training renders every other sample as it goes.
  const Shapes3D shapes{Shapes3DOptions().set_supersample(s.supersample).set_device(device)};
  auto gen = at::detail::createCPUGenerator(o.common.seed);
  const auto perm = torch::randperm(shapes.size(), gen, torch::kLong);
  const auto eval_idx = perm.slice(0, s.pool, s.pool + s.eval_images);
  const auto train_idx = s.pool > 0 ? perm.slice(0, 0, s.pool) : perm.slice(0, s.eval_images);
  const auto eval_data = to_tensor_dataset(shapes, eval_idx);
  const auto eval_factors = shapes.factors(eval_idx);
  const auto sample_images = eval_data.get(torch::arange(std::min<int64_t>(16, s.eval_images), torch::kLong));
  const double render_seconds = seconds_since(started);

  Vae vae{nullptr};
  TrainResult run;
  std::string source;
  bool trained_here = true;
  if (!o.model.empty()) {
    CheckpointInfo info;
    vae = load_vae(o.model, &info);
    LOUPE_CHECK(vae->spec().channels == 3, "--model ", o.model.string(), ": ", describe(vae->spec()),
                "; expected a 3-channel VAE for Shapes3D");
    vae->to(device);
    try {
      run.history = history_from_json(info.state.history_json);
    } catch (const Error&) {
      run.history.clear();  // a checkpoint without a loss history: the report says so
    }
    run.step = info.state.step;
    source = "loaded from " + o.model.string();
    trained_here = false;
  } else {
    auto preset = vae_preset(parse_preset(o.common.preset, "--preset"));
    preset.spec.set_latents(s.latents);
    auto t = preset.train;
    auto objective = preset.objective;
    objective.set_kind(parse_objective(s.objective)).set_beta(s.beta);
    objective.set_dataset_size(train_idx.size(0));
    t.set_max_steps(s.steps)
        .set_seed(o.common.seed)
        .set_checkpoint(o.common.out / "models" / "vae.pt")
        .set_resume(o.resume);
    torch::manual_seed(o.common.seed);
    vae = Vae(preset.spec);
    if (s.pool > 0) {
      run = train_vae(*vae, to_tensor_dataset(shapes, train_idx), objective, t, device);
    } else {
      run = train_vae(*vae, DatasetView(shapes, train_idx), objective, t, device);
    }
    source = "trained here (" + s.objective + ", beta " + disentangle_fixed(s.beta, 1) + ", " +
             std::to_string(run.step) + " steps)";
  }
  const int64_t latents = vae->spec().latents;
  // Images the model never saw when trained here; with --model nothing is known of its training set.
  const std::string scored = trained_here ? "held-out" : "evaluation";

  const auto codes = encode_and_reconstruct(*vae, eval_data, device);
  const auto mig = mutual_information_gap(codes.mu, eval_factors);
  const auto dci_result = dci(codes.mu, eval_factors);
  const double sap = sap_score(codes.mu, eval_factors);
  const auto ssim_per_image = ssim(eval_data.get(torch::arange(s.eval_images, torch::kLong)).images, codes.recon);
  const double ssim_mean = ssim_per_image.mean().item<double>();
  const auto usage = latent_usage(codes.mu, codes.logvar);

  const auto factor_names = shapes3d_factor_names();
  const int64_t k = static_cast<int64_t>(factor_names.size());
  std::vector<std::string> latent_names;
  for (int64_t l = 0; l < latents; ++l) latent_names.push_back("z" + std::to_string(l));
  // MI normalised by the factor's entropy: the fraction of the factor a latent pins down.
  const auto normalised_mi = mig.mutual_information / mig.entropies.unsqueeze(0);

  report::Report r("Disentanglement study: procedural Shapes3D",
                   "preset " + o.common.preset + " · " + describe(vae->spec()) + " · " + source);
  r.section("Summary");
  r.text("MIG " + disentangle_fixed(mig.mig, 3) +
         " (0 = entangled, 1 = each factor in exactly one latent), DCI "
         "disentanglement " +
         disentangle_fixed(dci_result.disentanglement, 3) + ", completeness " +
         disentangle_fixed(dci_result.completeness, 3) + ", SAP " + disentangle_fixed(sap, 3) +
         "; reconstructions reach a mean SSIM of " + disentangle_fixed(ssim_mean, 3) + " on " +
         std::to_string(s.eval_images) + " " + scored + " images. " +
         std::to_string(std::count(usage.dead.begin(), usage.dead.end(), true)) + " of " + std::to_string(latents) +
         " latent dimensions are dead (mean KL below 0.01 nats).");
  r.table({"Scores (" + scored + " images)",
           {"metric", "value"},
           {{"MIG (mean over factors)", mig.mig},
            {"DCI disentanglement", dci_result.disentanglement},
            {"DCI completeness", dci_result.completeness},
            {"SAP", sap},
            {"SSIM (reconstruction vs input, mean)", ssim_mean}}});
  // A loaded checkpoint records its steps but not how it was trained: only what is known is shown.
  std::vector<std::vector<json>> settings = {{"model", source}};
  if (trained_here) settings.push_back({"objective", s.objective});
  if (trained_here) settings.push_back({"beta", s.beta});
  settings.push_back({"latents", latents});
  settings.push_back({"optimiser steps", run.step});
  if (trained_here) settings.push_back({"batch size", s.batch_size});
  if (trained_here) settings.push_back({"training pool", s.pool > 0 ? json(s.pool) : json("rendered per batch")});
  settings.push_back({scored + " images", s.eval_images});
  settings.push_back({"supersample (evaluation renders)", s.supersample});
  settings.push_back({"seed", static_cast<int64_t>(o.common.seed)});
  settings.push_back({"device", device.str()});
  r.table({"Settings", {"setting", "value"}, settings});

  r.section("Data");
  std::vector<std::string> sample_labels;
  for (int64_t i = 0; i < sample_images.images.size(0); ++i) {
    const auto f = eval_factors[i];
    sample_labels.push_back(shapes3d_value_names(4)[f[4].item<int64_t>()] + " " +
                            shapes3d_value_names(2)[f[2].item<int64_t>()]);
  }
  r.text(
      "Evaluation samples of the procedural Shapes3D (floor, wall and object hue, scale, shape and orientation; "
      "labels: shape and object hue).");
  r.figure("Dataset samples", image_grid(std::vector<torch::Tensor>(sample_images.images.unbind(0)), sample_labels,
                                         GridOptions(8).cell_size(96)));

  r.section("Training");
  if (run.history.empty()) {
    r.text("The checkpoint holds no loss history.");
  } else {
    std::vector<double> x, recon, kl, mi, tc, dim_kl, weight;
    for (const auto& h : run.history) {
      x.push_back(static_cast<double>(h.step));
      recon.push_back(h.value("reconstruction")), kl.push_back(h.value("kl"));
      mi.push_back(h.value("mutual_information")), tc.push_back(h.value("total_correlation"));
      dim_kl.push_back(h.value("dimension_kl")), weight.push_back(h.value("weight"));
    }
    r.text(
        "Loss components (nats per image, means over each logging window). For beta-TCVAE the KL splits into "
        "index-code mutual information, total correlation and dimension-wise KL; the other objectives leave those "
        "gaps.");
    r.chart("Reconstruction loss per step",
            report::line_chart("step", "nats per image", {{"reconstruction", recon}}, x));
    r.chart("KL and its decomposition per step",
            report::line_chart(
                "step", "nats per image",
                {{"KL", kl}, {"mutual information", mi}, {"total correlation", tc}, {"dimension-wise KL", dim_kl}}, x));
    r.chart("Annealed weight per step", report::line_chart("step", "weight", {{"weight", weight}}, x));
  }

  r.section("Disentanglement");
  r.text(
      "Mutual information between each latent (encoder mean, 20 bins) and each factor, divided by the factor's "
      "entropy: 1 means the latent determines the factor. MIG per factor is the gap between its two best latents.");
  r.chart("Normalised mutual information I(z; v) / H(v)",
          report::heatmap("latent", "factor", latent_names, factor_names, normalised_mi, "I/H"));
  r.chart("MIG per factor",
          report::bar_chart("factor", "MIG", factor_names, {{"MIG", disentangle_vector(mig.per_factor)}}));
  std::vector<std::vector<json>> assignment;
  json assignment_json = json::array();
  for (int64_t f = 0; f < k; ++f) {
    const auto [top, idx] = normalised_mi.select(1, f).topk(2);
    const int64_t best = idx[0].item<int64_t>(), second = idx[1].item<int64_t>();
    const double gap = mig.per_factor[f].item<double>();
    assignment.push_back(
        {factor_names[f], latent_names[best], top[0].item<double>(), latent_names[second], top[1].item<double>(), gap});
    assignment_json.push_back({{"factor", factor_names[f]},
                               {"latent", best},
                               {"normalised_mi", top[0].item<double>()},
                               {"second_latent", second},
                               {"second_normalised_mi", top[1].item<double>()},
                               {"gap", gap}});
  }
  r.table({"Which latent encodes which factor",
           {"factor", "latent", "I/H", "runner-up", "its I/H", "gap (MIG)"},
           assignment});

  r.section("Reconstructions");
  const int64_t shown = std::min<int64_t>(8, s.eval_images);
  std::vector<torch::Tensor> recon_cells;
  for (int64_t i = 0; i < shown; ++i) recon_cells.push_back(sample_images.images[i]);
  for (int64_t i = 0; i < shown; ++i) recon_cells.push_back(codes.recon[i]);
  std::string inputs_caption = scored + " inputs (top) and reconstructions from the encoder mean (bottom)";
  inputs_caption[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(inputs_caption[0])));
  r.figure(inputs_caption, image_grid(recon_cells, std::vector<std::string>(recon_cells.size()),
                                      GridOptions(shown).cell_size(96), {"input", "recon"}));

  r.section("Latent traversals");
  const auto decode = vae_image_decoder(*vae);
  const auto traversal_options = TraversalOptions().set_steps(o.traversal_steps);
  const auto offsets = traversal_offsets(traversal_options);
  const auto base = codes.mu[0];
  std::vector<std::string> offset_labels, row_labels;
  for (int64_t j = 0; j < o.traversal_steps; ++j)
    offset_labels.push_back(disentangle_fixed(offsets[j].item<double>(), 1));
  for (const int64_t d : usage.order)
    row_labels.push_back(latent_names[d] +
                         (usage.dead[d] ? " dead" : " " + disentangle_fixed(usage.kl[d].item<double>(), 1)));
  std::vector<std::string> traversal_labels(static_cast<size_t>(latents * o.traversal_steps));
  std::copy(offset_labels.begin(), offset_labels.end(), traversal_labels.begin());
  r.text("Each row moves one latent from " + offset_labels.front() + " to " + offset_labels.back() +
         " around the first " + scored +
         " image's code (the middle column is its reconstruction). Rows are ordered by the latent's mean KL from "
         "the prior (nats, in the row label); 'dead' marks latents below 0.01 nats, which the decoder ignores.");
  r.figure("Traversals ordered by KL",
           image_grid(disentangle_cells(latent_traversal(decode, base, usage.order, traversal_options)),
                      traversal_labels, GridOptions(o.traversal_steps).cell_size(80), row_labels));
  const int64_t row_dim = usage.order[0], col_dim = usage.order[1];
  std::vector<std::string> plane_labels(static_cast<size_t>(o.traversal_steps * o.traversal_steps)), plane_rows;
  std::copy(offset_labels.begin(), offset_labels.end(), plane_labels.begin());
  for (const auto& v : offset_labels) plane_rows.push_back(latent_names[row_dim] + " " + v);
  r.text("The plane of the two latents with the largest KL: " + latent_names[row_dim] + " down the rows, " +
         latent_names[col_dim] + " across the columns (offsets above the first row).");
  r.figure("Latent plane " + latent_names[row_dim] + " x " + latent_names[col_dim],
           image_grid(disentangle_cells(latent_plane(decode, base, row_dim, col_dim, traversal_options)), plane_labels,
                      GridOptions(o.traversal_steps).cell_size(80), plane_rows));

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json per_factor = json::object();
  for (int64_t f = 0; f < k; ++f) per_factor[factor_names[f]] = mig.per_factor[f].item<double>();
  json history = json::array();
  for (const auto& h : run.history) history.push_back(json::parse(history_to_json({h})).at(0));
  r.metric("study", "disentangle");
  r.metric("settings", {{"preset", o.common.preset},
                        {"objective", s.objective},
                        {"beta", s.beta},
                        {"latents", latents},
                        {"steps", run.step},
                        {"batch_size", s.batch_size},
                        {"pool", s.pool},
                        {"eval_images", s.eval_images},
                        {"supersample", s.supersample},
                        {"model", o.model.string()},
                        {"seed", o.common.seed},
                        {"device", device.str()}});
  r.metric("mig.mean", mig.mig);
  r.metric("mig.per_factor", per_factor);
  r.metric("mig.mutual_information", disentangle_matrix_json(mig.mutual_information));
  r.metric("mig.entropies", disentangle_vector(mig.entropies));
  r.metric("dci.disentanglement", dci_result.disentanglement);
  r.metric("dci.completeness", dci_result.completeness);
  r.metric("dci.importance", disentangle_matrix_json(dci_result.importance));
  r.metric("sap", sap);
  r.metric("ssim.mean", ssim_mean);
  r.metric("latents.kl", disentangle_vector(usage.kl));
  r.metric("latents.order", usage.order);
  r.metric("latents.dead", std::vector<bool>(usage.dead));
  r.metric("latents.plane", {row_dim, col_dim});
  r.metric("assignment", assignment_json);
  r.metric("factors", factor_names);
  r.metric("history", history);
  r.metric("timing.seconds", seconds);
  r.metric("timing.render_seconds", render_seconds);
  r.metric("timing.train_seconds", run.seconds);
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
