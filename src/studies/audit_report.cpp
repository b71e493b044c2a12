// The report of a dataset audit, built from its results file alone (plus a few images
// re-read for the examples): every aggregate streams over per-image scalars, never maps.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "audit_results.h"
#include "loupe/core/error.h"
#include "loupe/studies/dataset_audit.h"

namespace loupe {
namespace {

using report::json;

constexpr int64_t kExamples = 4;  // images shown at each end of a ranking

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Counts of `values` in `bins` equal bins over [low, high] (the last bin closed).
std::vector<double> histogram(const torch::Tensor& values, double low, double high, int64_t bins) {
  std::vector<double> counts(static_cast<size_t>(bins), 0);
  const auto v = values.to(torch::kDouble).contiguous();
  const double* p = v.data_ptr<double>();
  for (int64_t i = 0; i < v.numel(); ++i) {
    if (!std::isfinite(p[i])) continue;
    auto b = static_cast<int64_t>(std::floor((p[i] - low) / (high - low) * static_cast<double>(bins)));
    counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))] += 1;
  }
  return counts;
}

std::vector<std::string> bin_labels(double low, double high, int64_t bins) {
  std::vector<std::string> labels;
  for (int64_t b = 0; b < bins; ++b) {
    const double a = low + (high - low) * static_cast<double>(b) / static_cast<double>(bins);
    labels.push_back(fixed(a, 1) + "–" + fixed(a + (high - low) / static_cast<double>(bins), 1));
  }
  return labels;
}

double percentile(const torch::Tensor& v, double q) { return torch::quantile(v.to(torch::kDouble), q).item<double>(); }

// The images at both ends of `score` (ascending): `low` first, then `high`.
std::pair<std::vector<int64_t>, std::vector<int64_t>> extremes(const torch::Tensor& score) {
  const auto order = score.argsort();
  const int64_t n = order.numel(), k = std::min<int64_t>(kExamples, n / 2 > 0 ? n / 2 : n);
  std::vector<int64_t> low, high;
  for (int64_t i = 0; i < k; ++i) low.push_back(order[i].item<int64_t>());
  for (int64_t i = 0; i < k && n / 2 > 0; ++i) high.push_back(order[n - 1 - i].item<int64_t>());
  return {low, high};
}

std::unique_ptr<ImageStream> reopen_images(const audit::Header& h) {
  try {
    const auto inputs = json::parse(h.inputs).get<std::vector<std::string>>();
    auto stream = open_image_stream(
        inputs, ImageStreamOptions().set_channels(h.channels).set_size(h.height == h.width ? h.height : 0));
    if (stream->size() != h.total_images) return nullptr;
    return stream;
  } catch (const std::exception&) {
    return nullptr;
  }
}

struct Ranked {
  std::string title, why;
  torch::Tensor score;  // double [n]; ascending = worst first
};

void add_examples(report::Report& r, const h5::File& f, const audit::Header& h, ImageStream* images,
                  const std::vector<Ranked>& rankings) {
  std::unique_ptr<ImageStream> reopened;
  if (!images) {
    reopened = reopen_images(h);
    images = reopened.get();
  }
  if (!images) {
    r.text("The images could not be re-opened from " + h.inputs +
           " (moved, or another machine), so no examples are drawn; results.h5 holds every map.");
    return;
  }
  // Signed maps (--signed) span [-1,1]: the settings say so; else the maps' signs do.
  const auto settings = json::parse(h.settings, nullptr, /*allow_exceptions=*/false);
  const bool signed_maps =
      settings.is_object() && settings.contains("signed")
          ? settings["signed"].get<bool>()
          : f.read("maps/" + h.methods.front(), 0, std::min<int64_t>(f.rows("id"), 64)).min().item<double>() < 0;
  const auto positions = f.read_all("position");
  const auto ids = [&](const std::vector<int64_t>& rows) {
    std::vector<int64_t> out;
    for (const auto row : rows) out.push_back(positions[row].item<int64_t>());
    return out;
  };
  for (const auto& ranking : rankings) {
    const auto [low, high] = extremes(ranking.score);
    const std::vector<std::pair<std::vector<int64_t>, std::string>> ends = {{low, "lowest"}, {high, "highest"}};
    for (const auto& [rows, label] : ends) {
      if (rows.empty()) continue;
      MethodComparison c;
      c.classes = torch::empty({static_cast<int64_t>(rows.size())}, torch::TensorOptions().dtype(torch::kLong));
      std::vector<torch::Tensor> maps(h.methods.size());
      std::vector<std::string> row_labels;
      for (size_t k = 0; k < rows.size(); ++k) {
        const int64_t row = rows[k];
        c.classes[static_cast<int64_t>(k)] = f.read("explained_class", row, 1)[0];
        const auto id = f.read_strings("id", row, 1).front();
        // "#<index>" for images of a dataset file, else the file's name.
        const auto hash = id.rfind('#');
        const auto name = hash != std::string::npos ? id.substr(hash) : fs::path(id).filename().string();
        row_labels.push_back(name.substr(0, 14) + "\nclass " +
                             std::to_string(c.classes[static_cast<int64_t>(k)].item<int64_t>()) + "\n" +
                             fixed(ranking.score[row].item<double>(), 3));
      }
      for (size_t m = 0; m < h.methods.size(); ++m) {
        MethodRun run;
        run.method = h.methods[m];
        std::vector<torch::Tensor> per_row;
        for (const auto row : rows) per_row.push_back(f.read("maps/" + h.methods[m], row, 1));
        run.attribution.maps = torch::cat(per_row);
        c.runs.push_back(std::move(run));
      }
      const auto batch = images->read(ids(rows));
      add_maps_figure(r, ranking.title + ": " + label + " " + ranking.why, batch, row_labels, c, signed_maps,
                      /*legend=*/false);
    }
  }
  add_colour_scale(r, signed_maps);
}

}  // namespace

report::Report audit_report(const fs::path& results_file, ImageStream* images) {
  const auto f = h5::File::open(results_file);
  const auto h = audit::read_header(f);
  const int64_t n = audit::row_count(f, h);
  LOUPE_CHECK(n > 0, results_file.string(), ": no images");
  const auto methods_text = join_names(h.methods);
  report::Report r("Dataset explanations", fs::path(h.model).filename().string() + " · " + std::to_string(n) +
                                               " images · " + methods_text + " · target " + h.target);
  r.section("Run");
  r.table({"",
           {"model", "images", "dataset", "methods", "target", "shard"},
           {{h.model, n, h.source, methods_text, h.target, h.shard.whole() ? "all" : h.shard.str()}}});
  r.text("Every per-image value and map is in " + results_file.filename().string() +
         " (HDF5: maps/<method> float32 [n,H,W], iou, probability, seconds, ...; docs/results-h5.md).");
  r.metric("images", n);
  r.metric("method_names", h.methods);
  r.metric("settings", h.settings);

  // Predictions.
  r.section("Predictions");
  const auto predicted = f.read_all("predicted");
  const auto probability = f.read_all("probability");
  // Every class, or the 30 most predicted of many.
  const auto counts = torch::bincount(predicted, {}, h.num_classes).to(torch::kDouble);
  const int64_t shown = std::min<int64_t>(h.num_classes, 30);
  const auto order = h.num_classes > shown ? counts.argsort(0, true).slice(0, 0, shown) : torch::arange(shown);
  std::vector<std::string> classes;
  std::vector<double> bars;
  for (int64_t k = 0; k < shown; ++k) {
    const int64_t c = order[k].item<int64_t>();
    classes.push_back(std::to_string(c));
    bars.push_back(counts[c].item<double>());
  }
  r.chart(h.num_classes > shown ? "Images per predicted class (the 30 most predicted)" : "Images per predicted class",
          report::bar_chart("class", "images", classes, {{"images", bars}}));
  std::string summary = "Mean probability of the explained class: " + fixed(probability.mean().item<double>(), 3) + ".";
  r.metric("mean_probability", probability.mean().item<double>());
  if (h.labels) {
    const double accuracy = predicted.eq(f.read_all("label")).to(torch::kDouble).mean().item<double>();
    summary += " Accuracy against the dataset's labels: " + fixed(100 * accuracy, 2) + "%.";
    r.metric("accuracy", accuracy);
  }
  r.text(summary);

  std::vector<Ranked> rankings;
  // Agreement.
  if (h.methods.size() >= 2) {
    r.section("Agreement between methods");
    const auto iou = f.read_all("iou");
    const auto pairs = h.iou_pairs();
    report::Table t;
    t.caption = "IoU of the binarised maps per image: distribution over images";
    t.columns = {"methods", "mean", "10th percentile", "median", "90th percentile"};
    std::vector<std::pair<std::string, std::vector<double>>> series;
    for (size_t p = 0; p < pairs.size(); ++p) {
      const auto v = iou.select(1, static_cast<int64_t>(p));
      t.rows.push_back({pairs[p], v.mean().item<double>(), percentile(v, 0.1), percentile(v, 0.5), percentile(v, 0.9)});
      r.metric("iou." + pairs[p] + ".mean", v.mean().item<double>());
      series.emplace_back(pairs[p], histogram(v, 0, 1, 10));
    }
    r.table(t);
    r.chart("IoU between methods: images per bin", report::bar_chart("IoU", "images", bin_labels(0, 1, 10), series));
    rankings.push_back({"Agreement", "mean IoU between methods (the number under each class)", iou.mean(1)});
  }

  // Faithfulness.
  if (h.faithfulness) {
    r.section("Faithfulness");
    report::Table t;
    t.caption = "Deletion AUC (lower is better) and insertion AUC (higher is better) of the class probability";
    t.columns = {"method", "deletion AUC", "insertion AUC", "images with insertion > deletion"};
    std::vector<std::pair<std::string, std::vector<double>>> series;
    for (const auto& m : h.methods) {
      const auto del = f.read_all("deletion_auc/" + m), ins = f.read_all("insertion_auc/" + m);
      const double share = ins.gt(del).to(torch::kDouble).mean().item<double>();
      t.rows.push_back({m, del.mean().item<double>(), ins.mean().item<double>(), fixed(100 * share, 1) + "%"});
      r.metric("methods." + m + ".deletion_auc", del.mean().item<double>());
      r.metric("methods." + m + ".insertion_auc", ins.mean().item<double>());
      series.emplace_back(m, histogram(ins - del, -1, 1, 10));
    }
    r.table(t);
    r.chart("Insertion AUC − deletion AUC per image: images per bin",
            report::bar_chart("insertion − deletion", "images", bin_labels(-1, 1, 10), series));
    const auto& m0 = h.methods.front();
    rankings.push_back({"Faithfulness of " + m0, "insertion − deletion AUC",
                        f.read_all("insertion_auc/" + m0) - f.read_all("deletion_auc/" + m0)});
  }
  if (rankings.empty())
    rankings.push_back({"Confidence", "probability of the explained class", probability.to(torch::kDouble)});

  // Cost.
  r.section("Cost");
  report::Table cost;
  cost.caption = "Time per method (wall clock, per image, batches of the run)";
  cost.columns = {"method", "seconds per image", "model evaluations per image", "total seconds"};
  for (const auto& m : h.methods) {
    const auto s = f.read_all("seconds/" + m), e = f.read_all("evaluations/" + m);
    cost.rows.push_back({m, s.mean().item<double>(), e.mean().item<double>(), s.sum().item<double>()});
    r.metric("methods." + m + ".seconds_per_image", s.mean().item<double>());
    r.metric("methods." + m + ".model_evaluations", e.mean().item<double>());
  }
  r.table(cost);

  r.section("Examples");
  r.text("The images at both ends of each ranking, with every method's map.");
  add_examples(r, f, h, images, rankings);
  return r;
}

}  // namespace loupe
