// loupe study anomaly: options, the steps from data to explanations, and the run itself.
// The report sections live in anomaly_report.cpp.
#include "loupe/studies/anomaly.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "loupe/core/choices.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/explain/explainer.h"
#include "loupe/explain/segmentation.h"
#include "loupe/explain/target.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/vaegan_objective.h"
#include "studies/anomaly_steps.h"

namespace loupe {

std::vector<std::string> anomaly_explain_target_names() { return {"error", "score", "difference"}; }

std::string anomaly_explain_target_name(AnomalyExplainTarget target) {
  return anomaly_explain_target_names().at(static_cast<size_t>(target));
}

AnomalyExplainTarget parse_anomaly_explain_target(const std::string& text, const std::string& what) {
  return static_cast<AnomalyExplainTarget>(choice_index(text, anomaly_explain_target_names(), what));
}

std::vector<std::string> flip_policy_names() { return {"auto", "on", "off"}; }

FlipPolicy parse_flip_policy(const std::string& text, const std::string& what) {
  return static_cast<FlipPolicy>(choice_index(text, flip_policy_names(), what));
}

bool category_allows_flips(const std::string& category) {
  // MVTec AD's textures, its bottle and hazelnut (seen from above, any orientation), and
  // loupe's built-in categories.
  static const std::set<std::string> symmetric = {"carpet", "grid",  "leather", "tile",  "wood",  "bottle",
                                                  "hazelnut", "brick", "grass", "gravel"};
  return symmetric.count(category) > 0;
}

namespace {

// The category folders found in an MVTec AD root, for the message when one is missing.
std::vector<std::string> category_folders(const fs::path& root) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory(ec) && fs::is_directory(entry.path() / "train", ec))
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

AnomalyStudySettings resolve(const AnomalyStudyOptions& o) {
  const bool paper = o.common.preset == Preset::kPaper;
  const auto preset = reconstruction_preset(o.common.preset, o.model);
  AnomalyStudySettings s;
  s.size = o.size.value_or(preset.spec.size);
  s.steps = o.steps.value_or(preset.train.max_steps);
  s.batch = preset.train.batch_size;
  s.explain = o.explain.value_or(paper ? 0 : 6);  // quick: every hazelnut defect kind, and the demo stays short
  s.samples = o.samples.value_or(paper ? 5000 : 1000);
  s.flips = o.flips == FlipPolicy::kOn || (o.flips == FlipPolicy::kAuto && category_allows_flips(o.category));
  LOUPE_CHECK(s.size >= 32 && s.size <= 512 && s.size % 32 == 0, "--size ", s.size,
              ": expected a multiple of 32 from 32 to 512 (the model halves the image four times)");
  check_count("--steps", s.steps, 1, 100000000);
  check_count("--explain", s.explain, 0, 10000000, "0 = every anomalous test sample");
  check_count("--samples", s.samples, 10, 100000000, "LIME samples and Partition SHAP evaluations per image");
  check_count("--segments", o.segments, 2, 1000000, "quickshift superpixels wanted per image");
  check_count("--grid-samples", o.grid_samples, 0, 1000);
  check_real("--wrong-reason", o.wrong_reason, 0, 1, "the optimal Jaccard below which a flagged sample is listed");
  check_real("--calibration", o.calibration, 0, 0.9, "the fraction of the test set τ* is chosen on; 0 = all of it");
  if (o.score.score == AnomalyScore::kTopK) check_positive("--top-percent", o.score.top_percent, 100);
  LOUPE_CHECK(o.checkpoint.empty() || !o.resume,
              "--resume continues training and --checkpoint skips it; give one of them");
  LOUPE_CHECK(o.checkpoint.empty() || !o.steps, "--steps ", *o.steps,
              ": --checkpoint scores a trained model and trains nothing; drop one of them");
  std::error_code ec;
  LOUPE_CHECK(o.checkpoint.empty() || fs::is_regular_file(o.checkpoint, ec), "--checkpoint ", o.checkpoint.string(),
              ": no such file; expected a model written by loupe study anomaly (models/vaegan.pt of an earlier run)");
  LOUPE_CHECK(!o.category.empty(), "--category: expected a category name");
  if (o.data.empty()) {
    const auto names = anomaly_category_names();
    LOUPE_CHECK(std::find(names.begin(), names.end(), o.category) != names.end(), "--category '", o.category,
                "': the built-in data has ", join_names(names), "; give --data DIR to read an MVTec AD folder");
  } else {
    LOUPE_CHECK(fs::is_directory(o.data, ec), "--data ", o.data.string(),
                ": no such folder; expected an MVTec AD root holding CATEGORY/train/good/*.png");
    const auto found = category_folders(o.data);
    LOUPE_CHECK(fs::is_directory(o.data / o.category, ec), "--category '", o.category, "': no folder ",
                (o.data / o.category).string(), "; ", o.data.string(), " holds ",
                found.empty() ? std::string("no category folders") : join_names(found));
  }
  return s;
}

namespace anomaly_study {

// ---- data -------------------------------------------------------------------------------

std::optional<AnomalySource> builtin_source(const AnomalyStudyOptions& o) {
  if (!o.data.empty()) return std::nullopt;
  return load_anomaly_source(o.category);
}

Data read_data(const fs::path& category_dir, int64_t size, std::string source) {
  Data d;
  d.category = load_mvtec_category(category_dir, MvtecOptions().set_size(size));
  d.source = std::move(source);
  const auto& test = d.category.test;
  d.test = test.images.to(torch::kFloat).div(255);
  d.masks = test.masks.squeeze(1);
  d.anomalous = test.kinds.ne(0);
  const int64_t defective = d.anomalous.sum().item<int64_t>();
  LOUPE_CHECK(defective > 0 && defective < test.size(), category_dir.string(), ": the test set holds ", defective,
              " defective of ", test.size(),
              " images; expected both good and defective images (test/good and test/<defect>)");
  return d;
}

Data builtin_data(const AnomalyStudyOptions& o, int64_t size, const AnomalySource& source) {
  const auto options = AnomalySynthOptions().set_size(size).set_seed(o.common.seed).set_categories({o.category});
  const fs::path root = o.common.out / "data";
  write_anomaly_category(root, source, options);
  return read_data(root / o.category, size,
                   "built-in data, written to data/" + o.category + " in the MVTec AD layout");
}

// ---- model ------------------------------------------------------------------------------

Model load_model(const AnomalyStudyOptions& o) {
  Model m;
  CheckpointInfo info;
  m.net = load_vaegan(o.checkpoint, &info);
  const auto& spec = m.net->spec();
  LOUPE_CHECK(spec.channels == 3, "--checkpoint ", o.checkpoint.string(), ": holds a ", describe(spec),
              "; MVTec images are read as RGB (3 channels)");
  LOUPE_CHECK(!o.size || *o.size == spec.size, "--size ", o.size.value_or(0), ": the checkpoint ",
              o.checkpoint.string(), " holds a ", describe(spec), "; drop --size or pass ", spec.size);
  m.training.step = info.state.step;
  m.source = o.checkpoint.string() + " (" + std::to_string(info.state.step) + " steps)";
  m.net->to(o.common.device);
  m.net->eval();
  return m;
}

Model train_model(const AnomalyStudyOptions& o, const AnomalyStudySettings& s, const Data& data) {
  auto preset = reconstruction_preset(o.common.preset, o.model);
  preset.spec.set_size(s.size);
  preset.augment.set_horizontal_flip(s.flips).set_vertical_flip(s.flips);
  preset.train.set_max_steps(s.steps)
      .set_seed(o.common.seed)
      .set_checkpoint(o.common.out / "models" / (reconstruction_kind_name(o.model) + ".pt"))
      .set_resume(o.resume);
  torch::manual_seed(o.common.seed);
  Model m;
  m.net = VaeGan(preset.spec);
  VaeGanDiscriminator discriminator{nullptr};
  if (o.model == ReconstructionKind::kVaeGan) discriminator = VaeGanDiscriminator(preset.spec);
  const auto train = data.category.train.dataset();
  m.training = train_reconstruction_model(*m.net, discriminator ? discriminator.get() : nullptr, train, preset,
                                          o.common.device);
  m.trained = true;
  m.source = "trained here (" + preset_name(o.common.preset) + " preset, " + std::to_string(m.training.step) +
             " steps of batch " + std::to_string(s.batch) + ")";
  return m;
}

// ---- scores, threshold, localisation ----------------------------------------------------

Scores score_test_set(const AnomalyStudyOptions& o, VaeGanImpl& model, const Data& data) {
  Scores out;
  {
    torch::NoGradGuard no_grad;
    model.eval();
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < data.size(); i += 64)
      parts.push_back(model.forward(data.test.slice(0, i, i + 64).to(o.common.device)).to(torch::kCPU));
    out.reconstructions = torch::cat(parts);
  }
  out.maps = reconstruction_anomaly_map(data.test, out.reconstructions);
  out.alpha = o.score.score == AnomalyScore::kSsim ? anomaly_scores(data.test, out.reconstructions, o.score)
                                                   : anomaly_scores_of_maps(out.maps, o.score);
  return out;
}

namespace {

// Per kind, the first round(f·n) (at least one) of a seeded shuffle of its samples are
// calibration samples; the rest are evaluated. Positions ascending.
std::pair<torch::Tensor, torch::Tensor> calibration_split(const torch::Tensor& kinds, int64_t num_kinds,
                                                           double fraction, uint64_t seed) {
  auto gen = make_generator(seed + 17);
  std::vector<int64_t> calibration, evaluation;
  for (int64_t k = 0; k < num_kinds; ++k) {
    const auto members = kinds.eq(k).nonzero().view(-1);
    const int64_t n = members.size(0);
    if (n == 0) continue;
    const auto shuffled = members.index_select(0, torch::randperm(n, gen, torch::kLong));
    const int64_t take = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n)));
    for (int64_t i = 0; i < n; ++i) (i < take ? calibration : evaluation).push_back(shuffled[i].item<int64_t>());
  }
  std::sort(calibration.begin(), calibration.end());
  std::sort(evaluation.begin(), evaluation.end());
  return {torch::tensor(calibration, torch::kLong), torch::tensor(evaluation, torch::kLong)};
}

double ratio(int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }

}  // namespace

Detection detect(const AnomalyStudyOptions& o, const Data& data, const Scores& scores) {
  Detection d;
  const auto& kinds = data.category.test.kinds;
  if (o.calibration > 0) {
    std::tie(d.calibration, d.evaluation) =
        calibration_split(kinds, static_cast<int64_t>(data.kind_names().size()), o.calibration, o.common.seed);
    for (const auto* part : {&d.calibration, &d.evaluation}) {
      const int64_t defective = data.anomalous.index_select(0, *part).sum().item<int64_t>();
      LOUPE_CHECK(defective > 0 && defective < part->size(0), "--calibration ", o.calibration, ": the ",
                  part == &d.calibration ? "calibration" : "evaluation", " part holds ", defective, " defective of ",
                  part->size(0), " images; expected both classes (choose a fraction that leaves some of each)");
    }
  } else {
    d.calibration = d.evaluation = torch::arange(data.size(), torch::kLong);
  }
  d.threshold = gmean_threshold(scores.alpha.index_select(0, d.calibration),
                                data.anomalous.index_select(0, d.calibration));
  const auto alpha = scores.alpha.index_select(0, d.evaluation);
  const auto truth = data.anomalous.index_select(0, d.evaluation);
  const double tau = d.threshold.threshold;
  d.confusion = confusion_at(alpha, truth, tau);
  const auto& c = d.confusion;
  d.accuracy = ratio(c.tp + c.tn, c.total());
  d.tpr = ratio(c.tp, c.tp + c.fn);
  d.fpr = ratio(c.fp, c.fp + c.tn);
  d.by_kind = confusion_by_kind(alpha, truth, tau, kinds.index_select(0, d.evaluation), data.kind_names());
  d.roc = roc_curve(alpha, truth);
  d.auroc = auroc(alpha, truth);
  d.flagged = scores.alpha.ge(tau);
  return d;
}

std::vector<ScoreComparison> compare_scores(const AnomalyStudyOptions& o, const Data& data, const Scores& scores,
                                            const Detection& detection) {
  std::vector<ScoreComparison> out;
  for (const auto score : {AnomalyScore::kMax, AnomalyScore::kTopK, AnomalyScore::kSsim}) {
    const auto options = AnomalyScoreOptions(o.score).set_score(score);
    // The maps serve max and top-k; only SSIM needs the images again.
    const auto alpha = score == o.score.score       ? scores.alpha
                       : score == AnomalyScore::kSsim ? anomaly_scores(data.test, scores.reconstructions, options)
                                                      : anomaly_scores_of_maps(scores.maps, options);
    const auto tau = gmean_threshold(alpha.index_select(0, detection.calibration),
                                     data.anomalous.index_select(0, detection.calibration))
                         .threshold;
    const auto ev_alpha = alpha.index_select(0, detection.evaluation);
    const auto ev_truth = data.anomalous.index_select(0, detection.evaluation);
    const auto c = confusion_at(ev_alpha, ev_truth, tau);
    out.push_back({score, anomaly_score_name(score), auroc(ev_alpha, ev_truth), tau, ratio(c.tp + c.tn, c.total())});
  }
  return out;
}

Localisation localise(const Data& data, const Scores& scores) {
  Localisation l;
  l.pixel_auroc = pixel_auroc(scores.maps, data.masks);
  l.pro = pro_curve(scores.maps, data.masks);
  l.aupro = aupro(l.pro);
  l.regions = l.pro.regions;
  return l;
}

// ---- explanations -----------------------------------------------------------------------

namespace {

// Up to `count` anomalous test samples (0 = all), taken in turn from each defect kind so
// that every kind is represented; ascending positions.
torch::Tensor explained_positions(const Data& data, int64_t count) {
  const auto& kinds = data.category.test.kinds;
  std::vector<std::vector<int64_t>> by_kind(data.kind_names().size());
  for (int64_t i = 0; i < data.size(); ++i) {
    const int64_t k = kinds[i].item<int64_t>();
    if (k != 0) by_kind[static_cast<size_t>(k)].push_back(i);
  }
  std::vector<int64_t> chosen;
  const int64_t total = data.anomalous.sum().item<int64_t>();
  const int64_t wanted = count == 0 ? total : std::min(count, total);
  for (size_t round = 0; static_cast<int64_t>(chosen.size()) < wanted; ++round)
    for (const auto& members : by_kind)
      if (round < members.size() && static_cast<int64_t>(chosen.size()) < wanted) chosen.push_back(members[round]);
  std::sort(chosen.begin(), chosen.end());
  return torch::tensor(chosen, torch::kLong);
}

Target explain_target(const AnomalyStudyOptions& o, const torch::Tensor& image) {
  switch (o.explain_target) {
    case AnomalyExplainTarget::kError:
      return reconstruction_error();
    case AnomalyExplainTarget::kScore:
      return anomaly_score(o.score);
    case AnomalyExplainTarget::kDifference:
      return input_difference(image);
  }
  fail("unknown explanation target");
}

struct SetupSpec {
  std::string key, title, method;
  torch::Tensor segments;  // [K,S,S] for LIME
};

// One setup on every explained image, one image per call (so per-image time is measured
// and each image's masks come from the seed alike), all on the one perturbation engine.
SetupResult run_setup(const AnomalyStudyOptions& o, const AnomalyStudySettings& s, VaeGanImpl& model,
                      const SetupSpec& spec, const torch::Tensor& images, const torch::Tensor& reconstructions,
                      const torch::Tensor& masks) {
  SetupResult r;
  r.key = spec.key;
  r.title = spec.title;
  r.segments = spec.segments;
  const int64_t k = images.size(0);
  std::vector<torch::Tensor> maps;
  std::vector<int64_t> features;
  int64_t evaluations = 0;
  Progress progress("explain " + spec.key, k, "img");
  const auto started = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < k; ++i) {
    auto p = PerturbationOptions()
                 .set_batch_size(64)
                 .set_samples(s.samples)
                 .set_max_evals(s.samples)
                 .set_seed(o.common.seed)
                 .set_masker(Masker::kReplacement)
                 .set_replacement(reconstructions[i]);
    if (spec.segments.defined()) p.set_segments(spec.segments[i]);
    auto explainer =
        make_explainer(spec.method, ExplainOptions().set_signed(true).set_normalize(false).set_perturbation(p));
    const auto image = images.slice(0, i, i + 1);
    const auto attr = explainer->explain(model, image, explain_target(o, image.to(o.common.device)));
    maps.push_back(attr.maps[0].to(torch::kFloat));
    evaluations += attr.model_evaluations;
    if (spec.segments.defined()) features.push_back(spec.segments[i].max().item<int64_t>() + 1);
    progress.advance(1);
  }
  progress.finish();
  r.seconds_per_image = seconds_since(started) / static_cast<double>(k);
  r.evaluations_per_image = evaluations / k;
  r.maps = torch::stack(maps);
  if (!features.empty()) r.features = torch::tensor(features, torch::kLong);
  r.jaccard = optimal_jaccard(r.maps, masks);
  return r;
}

}  // namespace

Explanations explain_anomalies(const AnomalyStudyOptions& o, const AnomalyStudySettings& s, VaeGanImpl& model,
                               const Data& data, const Scores& scores) {
  Explanations e;
  e.baseline = optimal_jaccard(scores.maps, data.masks);
  e.positions = explained_positions(data, s.explain);
  const int64_t k = e.positions.size(0);
  const auto images = data.test.index_select(0, e.positions);
  const auto reconstructions = scores.reconstructions.index_select(0, e.positions);
  const auto masks = data.masks.index_select(0, e.positions);

  // S1's superpixels (about o.segments per image), and S2's: the same split along the mask.
  std::vector<torch::Tensor> s1, s2;
  const auto started = std::chrono::steady_clock::now();
  {
    Progress progress("superpixels", k, "img");
    for (int64_t i = 0; i < k; ++i) {
      s1.push_back(quickshift_near(images[i], o.segments,
                                   QuickshiftOptions().set_tie_jitter(1e-5).set_seed(o.common.seed).set_connect(true)));
      s2.push_back(respect_mask(s1.back(), masks[i]));
      progress.advance(1);
    }
  }
  e.segmentation_seconds = seconds_since(started) / static_cast<double>(k);
  const std::vector<SetupSpec> setups = {
      {"s1", "S1: LIME on quickshift superpixels", "lime", torch::stack(s1)},
      {"s2", "S2: LIME on superpixels split along the defect mask", "lime", torch::stack(s2)},
      {"s3", "S3: Partition SHAP", "partition", {}},
  };
  for (const auto& setup : setups) e.setups.push_back(run_setup(o, s, model, setup, images, reconstructions, masks));
  return e;
}

}  // namespace anomaly_study

report::Report run_anomaly_study(const AnomalyStudyOptions& o) {
  namespace as = anomaly_study;
  const auto started = std::chrono::steady_clock::now();
  auto s = resolve(o);
  // Everything a bad input can break is read before the output folder exists.
  std::optional<as::Model> loaded;
  if (!o.checkpoint.empty()) {
    loaded = as::load_model(o);
    s.size = loaded->net->spec().size;
  }
  const auto source = as::builtin_source(o);
  std::optional<as::Data> user_data;
  if (!o.data.empty()) user_data = as::read_data(o.data / o.category, s.size, (o.data / o.category).string());

  const OutputDir output_folder(o.common.out, OutputDirOptions().set_subfolders({"models", "data"}));
  const auto data = user_data ? std::move(*user_data) : as::builtin_data(o, s.size, *source);
  auto model = loaded ? std::move(*loaded) : as::train_model(o, s, data);
  const auto scores = as::score_test_set(o, *model.net, data);
  const auto detection = as::detect(o, data, scores);
  const auto score_comparison = as::compare_scores(o, data, scores, detection);
  const auto localisation = as::localise(data, scores);
  const auto explanations = as::explain_anomalies(o, s, *model.net, data, scores);
  const auto& s1 = explanations.setups.front();
  const auto wrong = right_for_wrong_reason(scores.alpha.index_select(0, explanations.positions),
                                            detection.threshold.threshold, s1.jaccard.jaccard, o.wrong_reason);
  const as::Results x{o,
                      s,
                      data,
                      model,
                      scores,
                      detection,
                      score_comparison,
                      localisation,
                      explanations,
                      explanations.positions.index_select(0, wrong),
                      seconds_since(started)};

  report::Report r("Anomaly detection: " + data.category.name,
                   reconstruction_kind_name(model.net->spec().kind) + " · " + std::to_string(s.size) + "x" +
                       std::to_string(s.size) + " · " + model.source);
  as::add_summary(r, x);
  as::add_data_section(r, x);
  as::add_detection_section(r, x);
  as::add_localisation_section(r, x);
  as::add_explanation_section(r, x);
  as::add_training_section(r, x);
  as::add_settings_section(r, x);
  as::add_metrics(r, x);
  r.write(o.common.out);
  return r;
}

}  // namespace loupe
