#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <regex>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"
#include "loupe/core/image.h"
#include "loupe/report/report.h"
#include "report/format.h"

namespace loupe::report {
namespace {

// Sets an environment variable for one test and restores the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto v = alphabet.find(c);
    EXPECT_NE(v, std::string::npos) << "bad base64 character " << c;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

// A valid 1x1 RGBA PNG (from the PNG test suite's smallest images).
std::string tiny_png() {
  return base64_decode(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==");
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) ++n;
  return n;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  return dir;
}

TEST(ReportFormat, Base64MatchesRfc4648Vectors) {
  using detail::base64_encode;
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  // High bytes must not sign-extend.
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(ReportFormat, NumbersKeepFourSignificantDigits) {
  using detail::format_number;
  EXPECT_EQ(format_number(0.123456), "0.1235");
  EXPECT_EQ(format_number(0.5), "0.5000");
  EXPECT_EQ(format_number(-2.0 / 3.0), "-0.6667");
  EXPECT_EQ(format_number(1234.5678), "1235");
  EXPECT_EQ(format_number(12345.678), "12346");
  EXPECT_EQ(format_number(999.96), "1000");
  EXPECT_EQ(format_number(0.00012346), "0.0001235");
  EXPECT_EQ(format_number(1.5e-6), "1.500e-06");
  EXPECT_EQ(format_number(2.5e9), "2.500e+09");
  EXPECT_EQ(format_number(0.0), "0");
  EXPECT_EQ(format_number(std::nan("")), "NaN");
  EXPECT_EQ(detail::format_cell(json(60000)), "60000");
  EXPECT_EQ(detail::format_cell(json(nullptr)), "\u2014");
  EXPECT_EQ(detail::format_cell(json(true)), "true");
}

TEST(ReportFormat, ScriptJsonCannotCloseTheScriptElement) {
  const json spec = {{"title", "</script><script>alert(1)</script>"}, {"nan", std::nan("")}};
  const std::string text = detail::json_for_script(spec);
  EXPECT_EQ(text.find('<'), std::string::npos);
  EXPECT_EQ(json::parse(text), json({{"title", "</script><script>alert(1)</script>"}, {"nan", nullptr}}));
}

TEST(ReportHtml, EscapesUserTextEverywhere) {
  const std::string evil = "<script>alert(\"x\")</script> & 'quotes'";
  Report r(evil, evil);
  r.section(evil).text(evil);
  r.table({evil, {evil, "n"}, {{evil, 1.5}}});
  r.figure_png(evil, tiny_png());
  r.link(evil, "other/report.html?a=1&b=\"2\"");
  r.chart(evil, line_chart(evil, evil, {{"</script><script>alert(2)</script>", {1, 2}}}));
  const std::string html = r.html();
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("</script><script>alert(2)"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;"), std::string::npos);
  EXPECT_NE(html.find("href=\"other/report.html?a=1&amp;b=&quot;2&quot;\""), std::string::npos);
  // Title, header, section heading, TOC-less heading, paragraph, table caption, cell, column, figure
  // caption and alt, link label, chart caption and aria label: each escaped copy is there.
  EXPECT_GE(count(html, "&lt;script&gt;alert(&quot;x&quot;)"), 12u);
}

TEST(ReportHtml, FigurePngIsEmbeddedAsDataUri) {
  Report r("figures");
  const std::string png = tiny_png();
  r.figure_png("one pixel", png);
  const std::string html = r.html();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")));
  EXPECT_EQ(base64_decode(m[1].str()), png);
  // 1x1 is enlarged 8x and drawn with hard pixel edges.
  EXPECT_NE(html.find("class=\"pixelated\" width=\"8\" height=\"8\""), std::string::npos);
  EXPECT_NE(html.find("<figcaption>one pixel</figcaption>"), std::string::npos);
}

TEST(ReportHtml, FigureFromTensorEmbedsItsPng) {
  const auto image = torch::rand({3, 28, 28});
  Report r("figures");
  r.figure("digit", image);
  const std::string html = r.html();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")));
  EXPECT_EQ(base64_decode(m[1].str()), encode_png(image));
  EXPECT_NE(html.find("width=\"224\" height=\"224\""), std::string::npos);
  EXPECT_THROW(r.figure("bad", torch::rand({5, 4, 4, 4})), Error);
}

TEST(ReportHtml, FigureRejectsBytesThatAreNotPng) {
  Report r("figures");
  try {
    r.figure_png("holiday photo", "\xff\xd8\xff\xe0 not a png");
    FAIL() << "expected loupe::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holiday photo"), std::string::npos) << e.what();
  }
}

TEST(ReportHtml, TablesRightAlignNumbersWithFourDigits) {
  Report r("tables");
  r.table({"scores",
           {"model", "accuracy", "images", "note"},
           {{"lazy", 0.961234, 60000, nullptr}, {"control", 0.5, 10000, "gray"}}});
  const std::string html = r.html();
  EXPECT_NE(html.find("<th>model</th><th class=\"num\">accuracy</th><th class=\"num\">images</th><th>note</th>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>lazy</td><td class=\"num\">0.9612</td><td class=\"num\">60000</td>"
                      "<td class=\"null\">\u2014</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">0.5000</td>"), std::string::npos);
  EXPECT_THROW(r.table({"short row", {"a", "b"}, {{1}}}), Error);
}

TEST(ReportHtml, ContentsLinkToNumberedSections) {
  Report r("toc");
  r.text("intro before any section");
  r.section("Summary").text("a");
  r.section("Training").text("b");
  const std::string html = r.html();
  EXPECT_NE(html.find("<a href=\"#section-1\"><span class=\"n\">1</span>Summary</a>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#section-2\"><span class=\"n\">2</span>Training</a>"), std::string::npos);
  EXPECT_NE(html.find("id=\"section-2\""), std::string::npos);
  EXPECT_NE(html.find("<p>intro before any section</p>"), std::string::npos);
}

TEST(ReportHtml, LinksRefuseScriptUrls) {
  Report r("links");
  EXPECT_THROW(r.link("x", "JavaScript:alert(1)"), Error);
  EXPECT_NO_THROW(r.link("study", "bias/report.html"));
  EXPECT_NO_THROW(r.link("docs", "https://example.org/a:b"));
}

TEST(ReportHtml, WithoutVegaChartDataIsAnOpenTable) {
  ScopedEnv env("LOUPE_VEGA_BUNDLE", "/nonexistent/vega_bundle.js");
  EXPECT_FALSE(vega_available());
  Report r("no vega");
  r.chart("loss", line_chart("epoch", "loss", {{"train", {0.9, 0.5}}}));
  const std::string html = r.html();
  EXPECT_EQ(html.find("class=\"vega-chart\""), std::string::npos);
  EXPECT_EQ(html.find("vegaEmbed("), std::string::npos);
  EXPECT_NE(html.find("<details class=\"chart-data\" open>"), std::string::npos);
  EXPECT_NE(html.find("charts need a loupe build with npm"), std::string::npos);
  EXPECT_NE(html.find("<th class=\"num\">epoch</th>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">0.9000</td>"), std::string::npos);
}

TEST(ReportHtml, WithVegaBundleIsInlinedAndDataCollapsed) {
  const fs::path dir = fresh_dir("loupe_test_report_bundle");
  write_file_atomic(dir / "bundle.js", "/* fake vega bundle */");
  ScopedEnv env("LOUPE_VEGA_BUNDLE", (dir / "bundle.js").string());
  EXPECT_TRUE(vega_available());
  Report r("vega");
  r.section("Charts");
  r.chart("loss", line_chart("epoch", "loss", {{"train", {0.9, 0.5}}}));
  r.chart("confusion", heatmap("true", "predicted", {"a", "b"}, {"a", "b"}, torch::eye(2)));
  const std::string html = r.html();
  EXPECT_EQ(count(html, "/* fake vega bundle */"), 1u);
  EXPECT_NE(html.find("<div class=\"vega-chart\" id=\"chart-2\""), std::string::npos);
  EXPECT_EQ(count(html, "<details class=\"chart-data\"><summary>Data</summary>"), 2u);
  EXPECT_NE(html.find("data-loupe-charts=\"2\""), std::string::npos);
  // The embedded spec parses back to the chart's spec, less the table the page already shows.
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(html, m, std::regex("<script type=\"application/json\" id=\"chart-1-spec\">([^<]*)</script>")));
  json expected = line_chart("epoch", "loss", {{"train", {0.9, 0.5}}});
  expected.erase("usermeta");
  EXPECT_EQ(json::parse(m[1].str()), expected);
}

TEST(ReportMetrics, DottedKeysNestAndNonFiniteBecomesNull) {
  Report r("metrics");
  r.metric("study", "bias");
  r.metric("lazy.val_accuracy", 0.96);
  r.metric("lazy.test.accuracy", 0.12);
  r.metric("lazy.loss", std::nan(""));
  r.metric("control", json{{"accuracy", 0.9}});
  r.metric("control.inf", std::numeric_limits<double>::infinity());
  EXPECT_THROW(r.metric("study.name", 1), Error);  // "study" already holds a string
  EXPECT_THROW(r.metric("a..b", 1), Error);
  EXPECT_THROW(r.metric("", 1), Error);

  const fs::path dir = fresh_dir("loupe_test_report_metrics");
  r.write(dir);
  const std::string text = read_file(dir / "metrics.json");
  const json back = json::parse(text);
  EXPECT_EQ(back["study"], "bias");
  EXPECT_DOUBLE_EQ(back["lazy"]["val_accuracy"].get<double>(), 0.96);
  EXPECT_DOUBLE_EQ(back["lazy"]["test"]["accuracy"].get<double>(), 0.12);
  EXPECT_TRUE(back["lazy"]["loss"].is_null());
  EXPECT_DOUBLE_EQ(back["control"]["accuracy"].get<double>(), 0.9);
  EXPECT_TRUE(back["control"]["inf"].is_null());
  EXPECT_NE(text.find("\n  \"control\": {\n    \"accuracy\""), std::string::npos) << "expected 2-space indent";
}

TEST(ReportWrite, WritesBothFilesAndNoTemporaries) {
  ScopedEnv date("SOURCE_DATE_EPOCH", "1700000000");
  const fs::path dir = fresh_dir("loupe_test_report_write") / "nested" / "out";
  Report r("write");
  r.section("A").text("hello").metric("x", 1);
  r.write(dir);
  r.write(dir);  // overwriting is fine too
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"metrics.json", "report.html"}));
  EXPECT_EQ(read_file(dir / "report.html"), r.html());
  EXPECT_NE(r.html().find("Generated 2023-11-14 22:13 UTC"), std::string::npos);
}

TEST(ReportCharts, LineChartHasOneRowPerPoint) {
  const json spec = line_chart("epoch", "loss", {{"train", {1.0, 0.5, 0.25}}, {"val", {1.2, 0.7, 0.6, 0.55, 0.5}}});
  const auto& values = spec["data"]["values"];
  ASSERT_EQ(values.size(), 8u);
  EXPECT_EQ(values[0], json({{"x", 1.0}, {"value", 1.0}, {"series", "train"}}));
  EXPECT_EQ(values[7], json({{"x", 5.0}, {"value", 0.5}, {"series", "val"}}));
  EXPECT_EQ(spec["encoding"]["color"]["scale"]["domain"], json({"train", "val"}));
  EXPECT_EQ(spec["$schema"], "https://vega.github.io/schema/vega-lite/v5.json");
  // The wide table: one row per x, a gap where a series has no point.
  const auto& table = spec["usermeta"]["loupe"]["table"];
  EXPECT_EQ(table["columns"], json({"epoch", "train", "val"}));
  ASSERT_EQ(table["rows"].size(), 5u);
  EXPECT_EQ(table["rows"][4], json({5, nullptr, 0.5}));

  const json with_x = line_chart("step", "loss", {{"a", {3, std::nan("")}}}, {10, 20});
  EXPECT_EQ(with_x["data"]["values"][1], json({{"x", 20.0}, {"value", nullptr}, {"series", "a"}}));
  EXPECT_THROW(line_chart("step", "loss", {{"a", {1, 2, 3}}}, {10, 20}), Error);
  EXPECT_THROW(line_chart("step", "loss", {}), Error);
  EXPECT_THROW(line_chart("step", "loss", {{"a", {1}}, {"a", {2}}}), Error);
}

TEST(ReportCharts, BarChartGroupsSeriesWithinCategories) {
  const json spec = bar_chart("method", "IoU", {"Grad-CAM", "LIME", "SHAP"},
                              {{"mean", {0.5, 0.4, 0.3}}, {"median", {0.6, 0.45, 0.2}}});
  const auto& values = spec["data"]["values"];
  ASSERT_EQ(values.size(), 6u);
  EXPECT_EQ(values[1], json({{"category", "Grad-CAM"}, {"value", 0.6}, {"series", "median"}}));
  EXPECT_EQ(spec["encoding"]["x"]["sort"], json({"Grad-CAM", "LIME", "SHAP"}));
  EXPECT_EQ(spec["encoding"]["xOffset"]["field"], "series");
  EXPECT_EQ(spec["usermeta"]["loupe"]["table"]["rows"][2], json({"SHAP", 0.3, 0.2}));
  EXPECT_THROW(bar_chart("m", "v", {"a", "b"}, {{"s", {1}}}), Error);
}

TEST(ReportCharts, HeatmapHoldsValuesRowMajorInLabelOrder) {
  const auto m = torch::tensor({{5, 1, 0}, {2, 7, 3}}, torch::kLong);
  const json spec = heatmap("true", "predicted", {"zebra", "apple"}, {"T-shirt/top", "Ankle boot", "Bag"}, m, "images");
  const auto& values = spec["data"]["values"];
  ASSERT_EQ(values.size(), 6u);
  const std::vector<std::string> rows = {"zebra", "apple"}, cols = {"T-shirt/top", "Ankle boot", "Bag"};
  const std::vector<int> expected = {5, 1, 0, 2, 7, 3};
  for (size_t k = 0; k < 6; ++k) {
    EXPECT_EQ(values[k]["row"], rows[k / 3]);
    EXPECT_EQ(values[k]["col"], cols[k % 3]);
    EXPECT_TRUE(values[k]["value"].is_number_integer());
    EXPECT_EQ(values[k]["value"], expected[k]);
  }
  // Explicit sort arrays keep the given order (not alphabetical).
  EXPECT_EQ(spec["encoding"]["y"]["sort"], json(rows));
  EXPECT_EQ(spec["encoding"]["x"]["sort"], json(cols));
  EXPECT_EQ(spec["layer"][0]["mark"]["type"], "rect");
  EXPECT_EQ(spec["layer"][0]["encoding"]["color"]["scale"]["domain"], json({0.0, 7.0}));
  EXPECT_EQ(spec["layer"][1]["mark"]["type"], "text");
  EXPECT_EQ(spec["layer"][1]["encoding"]["color"]["condition"]["value"], "white");
  EXPECT_EQ(spec["usermeta"]["loupe"]["table"]["rows"][1], json({"apple", 2, 7, 3}));

  const json signed_map = heatmap("r", "c", {"a"}, {"x", "y"}, torch::tensor({{-0.5, 0.25}}));
  EXPECT_EQ(signed_map["layer"][0]["encoding"]["color"]["scale"]["domainMid"], 0);
  EXPECT_DOUBLE_EQ(signed_map["data"]["values"][1]["value"].get<double>(), 0.25);

  EXPECT_THROW(heatmap("r", "c", {"a"}, {"x"}, torch::zeros({2, 2})), Error);
  EXPECT_THROW(heatmap("r", "c", {"a", "a"}, {"x", "y"}, torch::zeros({2, 2})), Error);
  EXPECT_THROW(heatmap("r", "c", {"a"}, {"x"}, torch::zeros({1, 1, 1})), Error);
}

TEST(ReportCharts, HeatmapCellTextReplacesPrintedValuesAndEmptyCellsPrintNothing) {
  const auto nan = std::nan("");
  const json plain = heatmap("r", "c", {"a"}, {"x", "y"}, torch::tensor({{nan, 0.25}}, torch::kDouble));
  EXPECT_TRUE(plain["data"]["values"][0]["value"].is_null());
  EXPECT_EQ(plain["layer"][1]["transform"][0]["filter"], "isValid(datum.value)");
  const json text = heatmap("r", "c", {"a"}, {"x", "y", "z"}, torch::tensor({{nan, 0.2, 0.125}}, torch::kDouble), "ε",
                            {{"", ">0.20", "0.125"}, 0.0, 0.25});
  EXPECT_EQ(text["data"]["values"][1]["label"], ">0.20");
  EXPECT_DOUBLE_EQ(text["data"]["values"][1]["value"].get<double>(), 0.2);  // coloured at the ceiling
  EXPECT_EQ(text["layer"][1]["encoding"]["text"]["field"], "label");
  EXPECT_EQ(text["layer"][1]["transform"][0]["filter"], "datum.label != ''");
  EXPECT_EQ(text["layer"][0]["encoding"]["color"]["scale"]["domain"], json({0.0, 0.25}));  // the given range
  // The data table shows the text where there is one.
  EXPECT_EQ(text["usermeta"]["loupe"]["table"]["rows"][0], json({"a", nullptr, ">0.20", "0.125"}));
  EXPECT_THROW(heatmap("r", "c", {"a"}, {"x", "y"}, torch::zeros({1, 2}), "", {{"one"}}), Error);
}

TEST(ReportCharts, ChartRequiresAnObjectSpec) {
  Report r("charts");
  EXPECT_THROW(r.chart("bad", json::array()), Error);
  r.chart("no schema", json{{"mark", "point"}});
  EXPECT_EQ(r.sections()[0].items[0].chart.spec["$schema"], "https://vega.github.io/schema/vega-lite/v5.json");
}

}  // namespace
}  // namespace loupe::report
