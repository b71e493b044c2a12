// Vega-Lite v5 specs for the charts studies draw. Each spec carries its data inline
// and, under usermeta.loupe.table, the same numbers as a wide table (one row per x,
// category or matrix row) that the report shows below the chart.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "loupe/core/error.h"
#include "loupe/report/report.h"

namespace loupe::report {

namespace {

constexpr const char* kSchema = "https://vega.github.io/schema/vega-lite/v5.json";

// JSON has no NaN or infinity; a missing point is null (Vega-Lite leaves a gap).
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// A number for a Vega expression, exact enough for any magnitude (std::to_string is fixed-point).
std::string expr_number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

json names_of(const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  json names = json::array();
  for (const auto& s : series) names.push_back(s.first);
  return names;
}

void check_series(const std::string& chart, const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  LOUPE_CHECK(!series.empty(), chart, ": no series given; expected at least one (name, values) pair");
  std::set<std::string> seen;
  for (const auto& s : series)
    LOUPE_CHECK(seen.insert(s.first).second, chart, ": series name '", s.first,
                "' appears twice; series names must be unique (they are the legend)");
}

size_t longest_label(const std::vector<std::string>& labels) {
  size_t n = 0;
  for (const auto& l : labels) n = std::max(n, l.size());
  return n;
}

json color_encoding(const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  json color = {
      {"field", "series"}, {"type", "nominal"}, {"title", nullptr}, {"scale", {{"domain", names_of(series)}}}};
  // One series needs no legend; the y-axis title says what it is.
  if (series.size() == 1) color["legend"] = nullptr;
  return color;
}

}  // namespace

json line_chart(const std::string& x_title, const std::string& y_title,
                const std::vector<std::pair<std::string, std::vector<double>>>& series, const std::vector<double>& x) {
  check_series("line_chart '" + y_title + "'", series);
  for (const auto& s : series)
    LOUPE_CHECK(x.empty() || s.second.size() == x.size(), "line_chart '", y_title, "': series '", s.first, "' has ",
                s.second.size(), " values but x has ", x.size(), "; expected one value per x");
  json values = json::array();
  // Wide table: x values in order of first appearance, one column per series.
  std::vector<double> xs;
  std::map<double, size_t> x_row;
  std::vector<std::vector<json>> cells;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& [name, ys] = series[k];
    for (size_t i = 0; i < ys.size(); ++i) {
      const double xi = x.empty() ? double(i + 1) : x[i];
      LOUPE_CHECK(std::isfinite(xi), "line_chart '", y_title, "': x[", i, "] is ", xi, "; expected finite x values");
      values.push_back({{"x", xi}, {"value", number(ys[i])}, {"series", name}});
      auto [it, inserted] = x_row.emplace(xi, xs.size());
      if (inserted) {
        xs.push_back(xi);
        cells.emplace_back(series.size(), json(nullptr));
      }
      cells[it->second][k] = number(ys[i]);
    }
  }
  json table_rows = json::array();
  for (size_t r = 0; r < xs.size(); ++r) {
    json row =
        json::array({xs[r] == std::floor(xs[r]) && std::fabs(xs[r]) < 1e15 ? json(int64_t(xs[r])) : json(xs[r])});
    for (auto& c : cells[r]) row.push_back(c);
    table_rows.push_back(row);
  }
  json columns = json::array({x_title});
  for (const auto& s : series) columns.push_back(s.first);

  const bool integer_x = std::all_of(xs.begin(), xs.end(), [](double v) { return v == std::floor(v); });
  // Dots mark each value while they can be told apart; long series (steps) are plain lines.
  json mark = {{"type", "line"}, {"strokeWidth", 2}, {"tooltip", true}};
  if (xs.size() <= 40) mark["point"] = {{"size", 36}};
  json x_axis = {{"grid", false}};
  // Integer x (epochs, steps) gets integer ticks, never "1.5".
  if (integer_x) x_axis["format"] = "d";
  if (integer_x && xs.size() <= 12) x_axis["tickMinStep"] = 1;
  // About one tick per 80 pixels: Vega's default (one per 40) packs "0.95" against the
  // flush "1.00" on a [0, 1] axis.
  x_axis["tickCount"] = {{"expr", "ceil(width / 80)"}};
  return {{"$schema", kSchema},
          {"width", "container"},
          {"height", 260},
          {"data", {{"values", values}}},
          {"mark", mark},
          {"encoding",
           {{"x",
             {{"field", "x"},
              {"type", "quantitative"},
              {"title", x_title},
              {"axis", x_axis},
              {"scale", {{"nice", false}}}}},
            {"y", {{"field", "value"}, {"type", "quantitative"}, {"title", y_title}, {"scale", {{"zero", false}}}}},
            {"color", color_encoding(series)},
            {"tooltip", json::array({{{"field", "series"}, {"title", "series"}},
                                     {{"field", "x"}, {"title", x_title}},
                                     {{"field", "value"}, {"title", y_title}, {"format", ".4~g"}}})}}},
          {"usermeta", {{"loupe", {{"table", {{"columns", columns}, {"rows", table_rows}}}}}}}};
}

json bar_chart(const std::string& x_title, const std::string& y_title, const std::vector<std::string>& categories,
               const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  check_series("bar_chart '" + y_title + "'", series);
  std::set<std::string> seen;
  for (const auto& c : categories)
    LOUPE_CHECK(seen.insert(c).second, "bar_chart '", y_title, "': category '", c,
                "' appears twice; expected unique categories");
  for (const auto& s : series)
    LOUPE_CHECK(s.second.size() == categories.size(), "bar_chart '", y_title, "': series '", s.first, "' has ",
                s.second.size(), " values but there are ", categories.size(), " categories");
  json values = json::array();
  json table_rows = json::array();
  for (size_t i = 0; i < categories.size(); ++i) {
    json row = json::array({categories[i]});
    for (const auto& [name, ys] : series) {
      values.push_back({{"category", categories[i]}, {"value", number(ys[i])}, {"series", name}});
      row.push_back(number(ys[i]));
    }
    table_rows.push_back(row);
  }
  json columns = json::array({x_title});
  for (const auto& s : series) columns.push_back(s.first);
  json x_axis = {{"labelLimit", 160}};
  // Long category names are angled rather than truncated or overlapped.
  x_axis["labelAngle"] = longest_label(categories) * categories.size() > 90 ? -35 : 0;
  json encoding = {{"x",
                    {{"field", "category"},
                     {"type", "nominal"},
                     {"title", x_title},
                     {"sort", categories},
                     {"axis", x_axis},
                     {"scale", {{"paddingInner", 0.3}, {"paddingOuter", 0.15}}}}},
                   {"y", {{"field", "value"}, {"type", "quantitative"}, {"title", y_title}}},
                   {"color", color_encoding(series)},
                   {"tooltip", json::array({{{"field", "category"}, {"title", x_title}},
                                            {{"field", "series"}, {"title", "series"}},
                                            {{"field", "value"}, {"title", y_title}, {"format", ".4~g"}}})}};
  if (series.size() > 1) encoding["xOffset"] = {{"field", "series"}, {"type", "nominal"}, {"sort", names_of(series)}};
  return {{"$schema", kSchema},
          {"width", "container"},
          {"height", 260},
          {"data", {{"values", values}}},
          {"mark", {{"type", "bar"}, {"tooltip", true}, {"cornerRadiusEnd", 2}}},
          {"encoding", encoding},
          {"usermeta", {{"loupe", {{"table", {{"columns", columns}, {"rows", table_rows}}}}}}}};
}

json heatmap(const std::string& row_title, const std::string& col_title, const std::vector<std::string>& row_labels,
             const std::vector<std::string>& col_labels, const torch::Tensor& matrix, const std::string& value_title,
             const HeatmapCells& cells) {
  const auto& cell_text = cells.text;
  const std::string name = "heatmap '" + row_title + " x " + col_title + "'";
  LOUPE_CHECK(matrix.defined() && matrix.dim() == 2, name, ": expected a 2-D [rows, cols] matrix, got ",
              matrix.defined() ? std::to_string(matrix.dim()) + "-D" : std::string("an undefined tensor"));
  const int64_t R = matrix.size(0), C = matrix.size(1);
  LOUPE_CHECK(int64_t(row_labels.size()) == R && int64_t(col_labels.size()) == C, name, ": the matrix is ", R, "x", C,
              " but there are ", row_labels.size(), " row labels and ", col_labels.size(), " column labels");
  // Labels double as sort orders and Vega scale domains, which must not repeat.
  for (const auto* labels : {&row_labels, &col_labels}) {
    std::set<std::string> seen;
    for (const auto& l : *labels)
      LOUPE_CHECK(seen.insert(l).second, name, ": label '", l, "' appears twice; expected unique labels");
  }
  LOUPE_CHECK(cell_text.empty() || int64_t(cell_text.size()) == R * C, name, ": ", cell_text.size(),
              " cell texts for a ", R, "x", C, " matrix; expected none or one per cell");
  const bool labelled = !cell_text.empty();
  const auto m = matrix.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const double* p = m.data_ptr<double>();
  const bool integral = !torch::is_floating_point(matrix);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  bool all_whole = true;
  for (int64_t i = 0; i < R * C; ++i) {
    if (!std::isfinite(p[i])) continue;
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
    all_whole = all_whole && p[i] == std::floor(p[i]) && std::fabs(p[i]) < 1e15;
  }
  if (!(lo <= hi)) lo = 0, hi = 1;  // no finite value at all
  if (std::isfinite(cells.low) && std::isfinite(cells.high) && cells.low < cells.high && lo >= 0) {
    lo = cells.low;
    hi = cells.high;
  }
  const std::string value_name = value_title.empty() ? "value" : value_title;

  json values = json::array();
  json table_rows = json::array();
  for (int64_t r = 0; r < R; ++r) {
    json row = json::array({row_labels[r]});
    for (int64_t c = 0; c < C; ++c) {
      const double v = p[r * C + c];
      const json cell = (integral || all_whole) && std::isfinite(v) ? json(int64_t(v)) : number(v);
      json value = {{"row", row_labels[r]}, {"col", col_labels[c]}, {"value", cell}};
      if (labelled) value["label"] = cell_text[r * C + c];
      values.push_back(value);
      row.push_back(labelled && !cell_text[r * C + c].empty() ? json(cell_text[r * C + c]) : cell);
    }
    table_rows.push_back(row);
  }
  json columns = json::array({row_title + " \\ " + col_title});
  for (const auto& c : col_labels) columns.push_back(c);

  // Signed matrices get a diverging scale centred on 0; others a sequential blue ramp.
  const bool diverging = lo < 0 && hi > 0;
  json scale;
  double dark_above;  // |value| past which cells are dark enough for white text
  if (diverging) {
    const double a = std::max(-lo, hi);
    scale = {{"scheme", "redblue"}, {"reverse", true}, {"domain", {-a, a}}, {"domainMid", 0}};
    dark_above = 0.6 * a;
  } else {
    if (hi == lo) hi = lo + 1;
    // ColorBrewer Blues from near-white, so empty cells of a confusion matrix read as empty.
    scale = {{"range", {"#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"}},
             {"interpolate", "hcl"},
             {"domain", {lo, hi}}};
    dark_above = lo + 0.6 * (hi - lo);
  }
  const std::string dark_test =
      diverging ? "abs(datum.value) > " + expr_number(dark_above) : "datum.value > " + expr_number(dark_above);

  // Square cells sized so a 10x10 confusion matrix with class names fits a report card.
  const int64_t n = std::max<int64_t>(1, std::max(R, C));
  const int cell = int(std::clamp<int64_t>(480 / n, 8, 56));
  const bool show_text = cell >= 26;
  const std::string fmt = (integral || all_whole) ? "d" : ".2~f";
  const bool small_values = std::max(std::fabs(lo), std::fabs(hi)) < 0.01;

  json x_axis = {{"labelLimit", 140}, {"ticks", false}, {"domain", false}, {"labelPadding", 6}};
  // Column labels stay horizontal while they fit their cell (about 6.5 px per character at 11 px).
  x_axis["labelAngle"] = double(longest_label(col_labels)) * 6.5 > cell - 6 ? -40 : 0;
  json y_axis = {{"labelLimit", 160}, {"ticks", false}, {"domain", false}, {"labelPadding", 6}};
  json tooltip = json::array({{{"field", "row"}, {"title", row_title}},
                              {{"field", "col"}, {"title", col_title}},
                              {{"field", "value"}, {"title", value_name}, {"format", ".4~g"}}});
  json layers = json::array();
  layers.push_back({{"mark", {{"type", "rect"}, {"tooltip", true}, {"stroke", "white"}, {"strokeWidth", 1}}},
                    {"encoding",
                     {{"color",
                       {{"field", "value"},
                        {"type", "quantitative"},
                        {"title", value_name},
                        {"scale", scale},
                        {"legend", {{"gradientLength", std::max<int64_t>(120, cell * R - 20)}}}}}}}});
  if (show_text) {
    // Empty cells (NaN, or an empty cell text) print nothing.
    const json text = labelled ? json{{"field", "label"}, {"type", "nominal"}}
                               : json{{"field", "value"}, {"type", "quantitative"}, {"format", small_values ? ".2~e" : fmt}};
    layers.push_back(
        {{"mark", {{"type", "text"}, {"fontSize", cell >= 40 ? 11 : 9}}},
         {"transform", json::array({{{"filter", labelled ? "datum.label != ''" : "isValid(datum.value)"}}})},
         {"encoding",
          {{"text", text},
           {"color", {{"condition", {{"test", dark_test}, {"value", "white"}}}, {"value", "#1f2937"}}}}}});
  }
  return {
      {"$schema", kSchema},
      {"width", cell * C},
      {"height", cell * R},
      {"data", {{"values", values}}},
      {"encoding",
       {{"x", {{"field", "col"}, {"type", "ordinal"}, {"title", col_title}, {"sort", col_labels}, {"axis", x_axis}}},
        {"y", {{"field", "row"}, {"type", "ordinal"}, {"title", row_title}, {"sort", row_labels}, {"axis", y_axis}}},
        {"tooltip", tooltip}}},
      {"layer", layers},
      {"usermeta", {{"loupe", {{"table", {{"columns", columns}, {"rows", table_rows}}}}}}}};
}

}  // namespace loupe::report
