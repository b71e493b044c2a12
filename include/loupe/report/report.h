// Report: what a study shows, as sections of text, tables, PNG figures and
// Vega-Lite charts. Written as one self-contained report.html (images embedded,
// the Vega libraries inlined when the build had npm; otherwise each chart's data
// is shown as a table) plus metrics.json holding every number. Both files are
// written atomically.
#pragma once

#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "loupe/core/fs.h"

namespace loupe::report {

using nlohmann::json;

struct Table {
  std::string caption;
  std::vector<std::string> columns;
  std::vector<std::vector<json>> rows;  // numbers are shown with 4 significant digits
};

struct Figure {
  std::string caption;
  std::string png;  // encoded PNG bytes
};

struct Chart {
  std::string caption;
  // A Vega-Lite spec with inline data ("data": {"values": [...]}). The builders below also
  // put a wide table in usermeta.loupe.table ({columns, rows}), shown under the chart.
  json spec;
};

struct Item {
  enum class Kind { text, table, figure, chart, link } kind;
  std::string text;  // text paragraph; for links: the label
  std::string href;  // links only: relative URL
  Table table;
  Figure figure;
  Chart chart;
};

struct Section {
  std::string title;
  std::vector<Item> items;
};

class Report {
 public:
  explicit Report(std::string title, std::string subtitle = "");

  // Starts a new section; later items go into it.
  Report& section(const std::string& title);
  Report& text(const std::string& paragraph);
  Report& table(Table t);
  // image: float [C,H,W] (C = 1 or 3) or [H,W] in [0,1], or uint8; any device.
  Report& figure(const std::string& caption, const torch::Tensor& image);
  Report& figure_png(const std::string& caption, std::string png_bytes);
  Report& chart(const std::string& caption, json vega_lite_spec);
  Report& link(const std::string& label, const std::string& href);

  // Sets metrics[key] (a dotted key "lazy.val_accuracy" makes nested objects).
  Report& metric(const std::string& key, json value);

  const std::string& title() const { return title_; }
  const std::vector<Section>& sections() const { return sections_; }
  const json& metrics() const { return metrics_; }

  std::string html() const;
  // Writes dir/report.html and dir/metrics.json (atomically; creates dir).
  void write(const fs::path& dir) const;

 private:
  Section& current();
  std::string title_, subtitle_;
  std::vector<Section> sections_;
  json metrics_ = json::object();
};

// Vega-Lite spec builders for the charts studies draw.
// Line chart of several series over a shared x (e.g. loss per epoch); x defaults to 1..n.
// NaN values leave gaps.
json line_chart(const std::string& x_title, const std::string& y_title,
                const std::vector<std::pair<std::string, std::vector<double>>>& series,
                const std::vector<double>& x = {});
// Grouped bars: one group per category, one bar per series.
json bar_chart(const std::string& x_title, const std::string& y_title, const std::vector<std::string>& categories,
               const std::vector<std::pair<std::string, std::vector<double>>>& series);
// Heatmap of a [R,C] matrix with labelled rows and columns (kept in the given order) and
// values printed in cells; a sequential blue scale, or red-blue centred on 0 when the
// matrix has both signs. Labels must be unique. NaN cells are left empty.
struct HeatmapCells {
  // Row-major, one per cell ("" prints nothing): replaces the printed values, e.g. "> 0.2"
  // on a cell coloured at the ceiling of a search. Empty = print the values.
  std::vector<std::string> text;
  // The colour scale's range, so that several heat maps compare by colour; NaN = the
  // matrix's own minimum and maximum (sequential scales only).
  double low = std::numeric_limits<double>::quiet_NaN(), high = std::numeric_limits<double>::quiet_NaN();
};
json heatmap(const std::string& row_title, const std::string& col_title, const std::vector<std::string>& row_labels,
             const std::vector<std::string>& col_labels, const torch::Tensor& matrix,
             const std::string& value_title = "", const HeatmapCells& cells = {});

// True when reports will inline the Vega libraries: the bundle the build made with npm
// (or the file named by $LOUPE_VEGA_BUNDLE) exists and is not empty. Otherwise charts
// appear as data tables.
bool vega_available();

}  // namespace loupe::report
