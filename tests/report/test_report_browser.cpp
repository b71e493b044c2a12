// Opens a sample report in headless Chromium and checks that every chart drew and no
// script failed. The page records errors and the count of drawn charts on <body>
// (see html_writer.cpp); --dump-dom prints the DOM after scripts ran.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <regex>

#include "loupe/core/fs.h"
#include "loupe/report/report.h"

namespace loupe::report {
namespace {

fs::path chromium_path() {
  if (const char* env = std::getenv("LOUPE_CHROMIUM"); env && *env) return env;
  return "/usr/bin/chromium";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string attribute(const std::string& tag, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(tag, m, std::regex(" " + name + "=\"([^\"]*)\""))) return "<missing>";
  std::string v = m[1].str();
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"&quot;", "\""}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}}) {
    for (size_t at = v.find(from); at != std::string::npos; at = v.find(from, at + to.size()))
      v.replace(at, from.size(), to);
  }
  return v;
}

// Every kind of item, with the awkward cases: long class names, a 10x10 heatmap, a
// 28x28 image, a signed matrix, NaN in a series.
Report sample_report() {
  Report r("Sample report", "every item kind · FashionMNIST-like labels");
  r.section("Summary");
  r.text("This report exercises every item kind.\n\nA second paragraph with <angle brackets> & ampersands.");
  r.table({"Accuracy by split",
           {"model", "biased validation", "inverted test", "images"},
           {{"lazy (coloured)", 0.9612345, 0.1234, 60000}, {"control (grayscale)", 0.91, 0.8899, 60000}}});
  r.section("Training");
  std::vector<double> train, val, acc;
  for (int e = 0; e < 12; ++e) {
    train.push_back(2.3 * std::exp(-0.3 * e) + 0.05);
    val.push_back(2.3 * std::exp(-0.25 * e) + 0.12);
    acc.push_back(1 - std::exp(-0.4 * (e + 1)));
  }
  val[3] = std::nan("");
  r.chart("Loss per epoch", line_chart("epoch", "cross-entropy", {{"train", train}, {"validation", val}}));
  r.chart("Accuracy per epoch", line_chart("epoch", "accuracy", {{"train", acc}}));
  r.chart("Mean IoU by method", bar_chart("method", "IoU", {"Grad-CAM", "AblationCAM", "ScoreCAM", "LIME"},
                                          {{"mean", {0.52, 0.48, 0.55, 0.31}}, {"median", {0.5, 0.51, 0.57, 0.27}}}));
  r.section("Confusion matrix");
  const std::vector<std::string> classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  auto confusion = torch::zeros({10, 10}, torch::kLong);
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j) confusion[i][j] = i == j ? 900 - 37 * i : (i * 7 + j * 3) % 23;
  r.chart("Confusion on the test split", heatmap("true class", "predicted", classes, classes, confusion, "images"));
  r.chart("Signed correlation",
          heatmap("latent", "factor", {"z0", "z1", "z2"}, {"hue", "scale", "shape", "angle"},
                  torch::tensor({{0.9, -0.1, 0.05, 0.0}, {-0.4, 0.7, 0.1, -0.05}, {0.02, 0.03, -0.8, 0.3}}),
                  "correlation"));
  r.section("Images");
  auto digit = torch::zeros({1, 28, 28});
  digit.index_put_({0, torch::indexing::Slice(4, 24), torch::indexing::Slice(12, 16)}, 1.0);
  digit.index_put_({0, torch::indexing::Slice(4, 8), torch::indexing::Slice(8, 16)}, 1.0);
  r.figure("A hand-drawn \"1\" (28x28, enlarged)", digit);
  auto grad = torch::stack({torch::linspace(0, 1, 64).expand({64, 64}),
                            torch::linspace(0, 1, 64).unsqueeze(1).expand({64, 64}), torch::full({64, 64}, 0.6)});
  r.figure("A 64x64 colour ramp", grad);
  r.link("Another report", "other/report.html");
  r.metric("sample.accuracy", 0.96);
  return r;
}

TEST(ReportBrowser, ChartsRenderWithoutErrorsInHeadlessChromium) {
  const fs::path dir = fs::temp_directory_path() / "loupe_test_report_browser";
  fs::remove_all(dir);
  const Report r = sample_report();
  r.write(dir);
  ASSERT_TRUE(fs::exists(dir / "report.html"));

  const fs::path chromium = chromium_path();
  if (!fs::exists(chromium)) GTEST_SKIP() << chromium << " not found; install chromium to run the browser test";
  if (!vega_available())
    GTEST_SKIP() << "the Vega bundle is not available (build without npm, or npm ci failed): charts are tables";

  const fs::path profile = dir / "profile";
  fs::create_directories(profile);
  const fs::path dom = dir / "dom.html", log = dir / "chromium.log";
  const std::string command =
      "timeout 180 " + shell_quote(chromium.string()) +
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
      " --disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir=" +
      shell_quote(profile.string()) + " --enable-logging=stderr --v=0 --virtual-time-budget=10000 --dump-dom " +
      shell_quote("file://" + fs::absolute(dir / "report.html").string()) + " > " + shell_quote(dom.string()) + " 2> " +
      shell_quote(log.string());
  const int status = std::system(command.c_str());
  ASSERT_EQ(status, 0) << "chromium failed; see " << log << "\n" << command;
  const std::string page = read_file(dom);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(page, m, std::regex("<body[^>]*>"))) << "no <body> in the DOM dump " << dom;
  const std::string body = m[0].str();
  EXPECT_EQ(attribute(body, "data-loupe-errors"), "[]");
  EXPECT_EQ(attribute(body, "data-loupe-warnings"), "[]");
  EXPECT_EQ(attribute(body, "data-loupe-charts"), "5");
  EXPECT_EQ(attribute(body, "data-loupe-charts-rendered"), "5");
  for (int i = 1; i <= 5; ++i) {
    const std::string id = "chart-" + std::to_string(i);
    const size_t open = page.find("id=\"" + id + "\"");
    const size_t spec = page.find("id=\"" + id + "-spec\"");
    ASSERT_NE(open, std::string::npos) << id;
    ASSERT_NE(spec, std::string::npos) << id;
    const std::string inside = page.substr(open, spec - open);
    EXPECT_TRUE(inside.find("<svg") != std::string::npos || inside.find("<canvas") != std::string::npos)
        << id << " drew nothing";
  }
  const std::string stderr_text = read_file(log);
  EXPECT_EQ(stderr_text.find("Uncaught"), std::string::npos) << stderr_text;
}

}  // namespace
}  // namespace loupe::report
