#include "loupe/studies/attack_images.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "loupe/core/colormap.h"
#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/progress.h"
#include "loupe/explain/explainer.h"
#include "loupe/studies/explain_images.h"
#include "loupe/studies/toolkit.h"

namespace loupe {

AttackRows attack_rows(const std::string& target, const torch::Tensor& predicted, int64_t num_classes) {
  if (target == "all") {
    const auto grid = target_grid(predicted, num_classes);
    return {grid.image, grid.target};
  }
  const bool digits = !target.empty() && target.size() <= 9 &&
                      std::all_of(target.begin(), target.end(), [](unsigned char c) { return std::isdigit(c); });
  const int64_t c = digits ? std::stoll(target) : -1;
  LOUPE_CHECK(digits && c < num_classes, "--target '", target, "': expected all or a class index in [0, ",
              num_classes, ")");
  const int64_t n = predicted.size(0);
  return {torch::arange(n, torch::kLong), torch::full({n}, c, torch::kLong)};
}

namespace {

using report::json;

// δ as an image: 0.5 + δ/(2·scale), so ±scale spans black to white.
torch::Tensor perturbation_image(const torch::Tensor& delta, double scale) {
  return (0.5 + delta / (2.0 * scale)).clamp(0.0, 1.0);
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

report::Report run_attack_images(TappedModel& model, const ModelSpec& spec, const AttackImagesOptions& o) {
  check_attack_options(o.attack);
  const auto images = load_image_batch(o.files, spec.in_channels, o.size);
  const auto names = image_names(o.files);
  const auto device = model_device(model);
  const auto predicted = study::predict_classes(model, images, device, 64);
  const auto rows = attack_rows(o.target, predicted, spec.num_classes);
  const auto x = images.index_select(0, rows.image);
  const int64_t m = x.size(0);

  const auto started = std::chrono::steady_clock::now();
  AttackResult result;
  MinimalEpsilon minimal;
  if (o.minimal) {
    minimal = minimal_epsilon(model, x, rows.target, true, o.attack, o.search);
    result = minimal.at_epsilon;
  } else {
    result = attack(model, x, rows.target, true, o.attack);
  }
  const double seconds = seconds_since(started);
  const auto eps = o.minimal ? minimal.epsilon : torch::full({m}, o.attack.epsilon, torch::kDouble);

  // Files: the adversarial image and its amplified perturbation per row.
  const auto delta = result.adversarial - x;
  const auto image_idx = study::to_int64s(rows.image), targets = study::to_int64s(rows.target);
  const auto eps_v = study::to_doubles(eps);
  const auto linf = study::to_doubles(delta.flatten(1).abs().amax(1));
  std::vector<std::string> row_names;
  for (int64_t r = 0; r < m; ++r) {
    const auto i = static_cast<size_t>(r);
    row_names.push_back(names[static_cast<size_t>(image_idx[i])] + "_to" + std::to_string(targets[i]));
    const double scale = std::isfinite(eps_v[i]) && eps_v[i] > 0 ? eps_v[i] : std::max(linf[i], 1e-12);
    write_png(o.out / "adversarial" / (row_names.back() + ".png"), result.adversarial[r]);
    write_png(o.out / "perturbation" / (row_names.back() + ".png"), perturbation_image(delta[r], scale));
  }

  const auto success = study::to_int64s(result.success), steps = study::to_int64s(result.steps),
             after = study::to_int64s(result.predicted);
  const auto prob = study::to_doubles(result.probability);
  const int64_t wins = std::count(success.begin(), success.end(), 1);
  const std::string method = attack_method_names()[static_cast<size_t>(o.attack.method)];
  report::Report r("Adversarial attacks: " + method,
                   std::to_string(images.size(0)) + " image(s) · " + spec.arch + " · targeted, goal p(target) >= " +
                       study::fixed(o.attack.goal, 2) +
                       (o.minimal ? " · minimal ε up to " + study::fixed(o.search.max_epsilon, 3)
                                  : " · ε " + study::fixed(o.attack.epsilon, 3)));
  r.section("Summary");
  std::ostringstream t;
  t << m << " (image, target) rows; " << wins << " reach p(target) >= " << study::fixed(o.attack.goal, 2) << " ("
    << study::percent(m ? static_cast<double>(wins) / static_cast<double>(m) : 0.0) << ") with " << method
    << (o.minimal ? " at their minimal ε" : " at ε = " + study::fixed(o.attack.epsilon, 3)) << "; median steps "
    << study::fixed(median(std::vector<double>(steps.begin(), steps.end())), 0) << ". ";
  if (o.minimal) {
    const int64_t reached = minimal.reached.sum().item<int64_t>();
    t << reached << " of " << m << " rows are reachable within ε_max = " << study::fixed(o.search.max_epsilon, 3)
      << " (the others are listed with ε = inf); median minimal ε " << study::fixed(median(eps_v), 4) << " over "
      << minimal.rounds << " attack rounds (tolerance " << o.search.tolerance << "). ";
  }
  t << "Time " << study::fixed(seconds, 2) << " s.";
  r.text(t.str());

  r.section("Images");
  r.text("Per image: the input, then each target's adversarial image (caption: target, p(target)) and below it "
         "the perturbation, amplified so that ±ε spans black to white.");
  for (int64_t i = 0; i < images.size(0) && i < 16; ++i) {
    std::vector<torch::Tensor> top, bottom;
    std::vector<std::string> top_caps, bottom_caps;
    top.push_back(images[i]);
    top_caps.push_back("input: " + std::to_string(predicted[i].item<int64_t>()));
    bottom.push_back(torch::ones_like(images[i]));
    bottom_caps.push_back("");
    for (int64_t row = 0; row < m; ++row) {
      const auto k = static_cast<size_t>(row);
      if (image_idx[k] != i) continue;
      top.push_back(result.adversarial[row]);
      top_caps.push_back("to " + std::to_string(targets[k]) + " " + study::fixed(prob[k], 2) + (success[k] ? "" : " x"));
      const double scale = std::isfinite(eps_v[k]) && eps_v[k] > 0 ? eps_v[k] : std::max(linf[k], 1e-12);
      bottom.push_back(perturbation_image(delta[row], scale));
      bottom_caps.push_back(o.minimal ? (std::isfinite(eps_v[k]) ? "eps " + study::fixed(eps_v[k], 3) : "eps inf") : "");
    }
    const auto cols = static_cast<int64_t>(top.size());
    top.insert(top.end(), bottom.begin(), bottom.end());
    top_caps.insert(top_caps.end(), bottom_caps.begin(), bottom_caps.end());
    r.figure(names[static_cast<size_t>(i)], image_grid(top, top_caps, GridOptions(cols).cell_size(96).padding(4),
                                                       {"adversarial", "perturbation"}));
  }

  std::vector<std::string> columns = {"row", "image", "predicted", "target", "reached", "p(target)", "predicted after",
                                      "steps", "L∞ of δ"};
  if (o.minimal) columns.push_back("minimal ε");
  std::vector<std::vector<json>> table;
  for (int64_t row = 0; row < m; ++row) {
    const auto k = static_cast<size_t>(row);
    std::vector<json> line = {row_names[k], names[static_cast<size_t>(image_idx[k])],
                              predicted[image_idx[k]].item<int64_t>(), targets[k], success[k] ? "yes" : "no",
                              prob[k], after[k], steps[k], linf[k]};
    if (o.minimal) line.push_back(std::isfinite(eps_v[k]) ? json(eps_v[k]) : json("inf"));
    table.push_back(line);
  }
  r.table({"Every row", columns, table});

  r.metric("attack", {{"method", method},
                      {"norm", attack_norm_names()[static_cast<size_t>(o.attack.norm)]},
                      {"epsilon", o.attack.epsilon},
                      {"steps", o.attack.steps},
                      {"step_size", o.attack.step_size},
                      {"goal", o.attack.goal},
                      {"minimal", o.minimal},
                      {"max_epsilon", o.search.max_epsilon},
                      {"tolerance", o.search.tolerance}});
  r.metric("images", names);
  r.metric("predicted", study::to_int64s(predicted));
  r.metric("rows.name", row_names);
  r.metric("rows.image", image_idx);
  r.metric("rows.target", targets);
  r.metric("rows.success", success);
  r.metric("rows.probability", prob);
  r.metric("rows.predicted_after", after);
  r.metric("rows.steps", steps);
  r.metric("rows.linf", linf);
  if (o.minimal) {
    std::vector<json> e;
    for (const double v : eps_v) e.push_back(std::isfinite(v) ? json(v) : json(nullptr));
    r.metric("rows.minimal_epsilon", e);
    r.metric("minimal.rounds", minimal.rounds);
    r.metric("minimal.median", median(eps_v));
  }
  r.metric("success_rate", m ? static_cast<double>(wins) / static_cast<double>(m) : 0.0);
  r.metric("seconds", seconds);
  r.write(o.out);
  return r;
}

}  // namespace loupe
