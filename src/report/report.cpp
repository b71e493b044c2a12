#include "loupe/report/report.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "loupe/core/error.h"
#include "loupe/core/image.h"
#include "loupe/core/output_dir.h"
#include "report/format.h"

namespace loupe::report {

Report::Report(std::string title, std::string subtitle) : title_(std::move(title)), subtitle_(std::move(subtitle)) {}

Section& Report::current() {
  // Items added before the first section() land in an untitled introductory section.
  if (sections_.empty()) sections_.push_back(Section{});
  return sections_.back();
}

Report& Report::section(const std::string& title) {
  sections_.push_back(Section{title, {}});
  return *this;
}

Report& Report::text(const std::string& paragraph) {
  Item item{Item::Kind::text, paragraph, "", {}, {}, {}};
  current().items.push_back(std::move(item));
  return *this;
}

Report& Report::table(Table t) {
  for (size_t r = 0; r < t.rows.size(); ++r) {
    LOUPE_CHECK(t.columns.empty() || t.rows[r].size() == t.columns.size(), "report table '", t.caption, "': row ", r,
                " has ", t.rows[r].size(), " cells but the table has ", t.columns.size(), " columns");
  }
  Item item{Item::Kind::table, "", "", std::move(t), {}, {}};
  current().items.push_back(std::move(item));
  return *this;
}

Report& Report::figure(const std::string& caption, const torch::Tensor& image) {
  std::string png;
  try {
    png = encode_png(image);
  } catch (const Error& e) {
    fail("report figure '", caption, "': ", e.what());
  }
  return figure_png(caption, std::move(png));
}

Report& Report::figure_png(const std::string& caption, std::string png_bytes) {
  const auto size = detail::png_size(png_bytes);
  LOUPE_CHECK(size.width > 0 && size.height > 0, "report figure '", caption, "': expected PNG bytes, got ",
              png_bytes.size(), " bytes without a PNG signature and IHDR header");
  Item item{Item::Kind::figure, "", "", {}, Figure{caption, std::move(png_bytes)}, {}};
  current().items.push_back(std::move(item));
  return *this;
}

Report& Report::chart(const std::string& caption, json vega_lite_spec) {
  LOUPE_CHECK(vega_lite_spec.is_object(), "report chart '", caption,
              "': expected a Vega-Lite spec (a JSON object), got ", vega_lite_spec.type_name());
  // vega-embed picks the parser from $schema; without one it would treat the spec as Vega.
  if (!vega_lite_spec.contains("$schema"))
    vega_lite_spec["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json";
  Item item{Item::Kind::chart, "", "", {}, {}, Chart{caption, std::move(vega_lite_spec)}};
  current().items.push_back(std::move(item));
  return *this;
}

Report& Report::link(const std::string& label, const std::string& href) {
  std::string scheme = href.substr(0, href.find(':') == std::string::npos ? 0 : href.find(':'));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  LOUPE_CHECK(scheme != "javascript" && scheme != "data" && scheme != "vbscript", "report link '", label, "': href '",
              href, "' uses the ", scheme, ": scheme; expected a relative path or a web address");
  Item item{Item::Kind::link, label, href, {}, {}, {}};
  current().items.push_back(std::move(item));
  return *this;
}

Report& Report::metric(const std::string& key, json value) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& part : parts)
    LOUPE_CHECK(!part.empty(), "report metric key '", key, "': empty name between dots; expected e.g. 'lazy.accuracy'");
  json* node = &metrics_;
  std::string path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    path += (i ? "." : "") + parts[i];
    json& child = (*node)[parts[i]];
    if (child.is_null()) child = json::object();
    LOUPE_CHECK(child.is_object(), "report metric key '", key, "': '", path, "' already holds a ", child.type_name(),
                ", so it cannot also hold nested metrics");
    node = &child;
  }
  (*node)[parts.back()] = std::move(value);
  return *this;
}

void Report::write(const fs::path& dir) const {
  check_output_path(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  LOUPE_CHECK(!ec, "report folder ", dir.string(), ": cannot create it (", ec.message(), ")");
  // Built in full before anything is written, so a failure leaves no partial report.
  const std::string page = html();
  // nlohmann writes NaN and infinity as null, which keeps metrics.json valid JSON.
  const std::string numbers = metrics_.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  write_file_atomic(dir / "metrics.json", numbers);
  write_file_atomic(dir / "report.html", page);
}

bool vega_available() { return !detail::read_vega_bundle().empty(); }

}  // namespace loupe::report
