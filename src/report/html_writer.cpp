// Report::html(): one self-contained page. Images are data: URIs, the Vega bundle
// is inlined when the build made one, and every chart's numbers also appear as a
// table, so the page stays useful without scripts.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "loupe/report/report.h"
#include "report/format.h"

namespace loupe::report {

namespace {

using detail::html_escape;

constexpr const char* kCss = R"css(
:root{--bg:#f4f5f7;--card:#fff;--ink:#1f2937;--ink2:#374151;--muted:#6b7280;--line:#e5e7eb;--soft:#f3f4f6;
--accent:#2563eb;--zebra:#f9fafb;--hover:#eef4ff;color-scheme:light}
*{box-sizing:border-box}
html{scroll-behavior:smooth;-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif;-webkit-font-smoothing:antialiased}
.wrap{max-width:1100px;margin:0 auto;padding:0 24px}
header.top{background:#fff;border-bottom:1px solid var(--line)}
header.top .wrap{padding:28px 24px 22px}
.kicker{display:flex;align-items:center;gap:8px;font-size:12px;font-weight:600;letter-spacing:.08em;
text-transform:uppercase;color:var(--accent)}
.kicker svg{width:16px;height:16px}
h1{font-size:28px;line-height:1.25;margin:8px 0 4px;font-weight:650;letter-spacing:-.01em}
.subtitle{color:#4b5563;margin:0;font-size:16px}
.meta{color:var(--muted);font-size:13px;margin:10px 0 0}
nav.toc{position:sticky;top:0;z-index:10;background:rgba(255,255,255,.94);border-bottom:1px solid var(--line);
backdrop-filter:saturate(180%) blur(6px)}
nav.toc ol{list-style:none;margin:0 auto;max-width:1100px;padding:10px 24px;display:flex;flex-wrap:wrap;gap:6px}
nav.toc a{display:inline-block;padding:3px 12px;border-radius:999px;background:var(--soft);color:var(--ink2);
text-decoration:none;font-size:13px;line-height:1.6;white-space:nowrap}
nav.toc a:hover,nav.toc a:focus{background:#e0e7ff;color:#1e3a8a}
nav.toc .n{color:var(--muted);margin-right:6px;font-variant-numeric:tabular-nums}
main{padding:24px 0 8px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:22px 28px 10px;
margin:0 0 20px;box-shadow:0 1px 2px rgba(16,24,40,.04);scroll-margin-top:64px}
section.card>h2{font-size:19px;line-height:1.3;margin:0 0 14px;font-weight:650}
section.card>h2 .n{color:var(--muted);font-weight:500;margin-right:8px}
p{margin:0 0 14px;max-width:80ch}
a{color:var(--accent)}
.caption{font-weight:600;font-size:14px;color:var(--ink);margin:0 0 8px}
.block{margin:6px 0 22px}
.table-scroll{display:inline-block;max-width:100%;max-height:560px;overflow:auto;border:1px solid var(--line);
border-radius:8px;vertical-align:top}
table{border-collapse:separate;border-spacing:0;font-size:13.5px;line-height:1.45}
th,td{padding:6px 14px;text-align:left;border-bottom:1px solid #eef0f3;vertical-align:top}
thead th{position:sticky;top:0;z-index:1;background:#f3f4f6;color:var(--ink2);font-weight:600;white-space:nowrap;
border-bottom:1px solid var(--line)}
tbody tr:nth-child(even) td{background:var(--zebra)}
tbody tr:hover td{background:var(--hover)}
tbody tr:last-child td{border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.null{color:#9ca3af}
.gallery{display:flex;flex-wrap:wrap;gap:18px 22px;align-items:flex-start;margin:6px 0 22px}
figure{margin:0}
figure.img{max-width:100%}
figure.img img{display:block;width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
img.pixelated{image-rendering:pixelated;image-rendering:crisp-edges}
figcaption{font-size:13px;line-height:1.45;color:var(--muted);margin-top:8px}
figure.chart{margin:6px 0 24px}
.vega-chart{width:100%;min-height:40px;overflow-x:auto}
.vega-chart.vega-embed{display:block}
details.chart-data{margin-top:6px}
details.chart-data summary{cursor:pointer;color:var(--accent);font-size:13px;user-select:none;width:max-content}
details.chart-data .table-scroll{margin-top:8px}
.note{font-size:13px;color:#92400e;background:#fffbeb;border:1px solid #fde68a;border-radius:8px;padding:6px 12px;
margin:0 0 8px;max-width:80ch}
p.link{margin:0 0 4px;font-weight:600}
p.link a{text-decoration:none}
p.link a:hover{text-decoration:underline}
p.link a::after{content:" \2192"}
footer{color:var(--muted);font-size:12.5px;padding:4px 24px 40px}
footer code{font-size:12px;background:var(--soft);padding:1px 5px;border-radius:4px}
#vg-tooltip-element{font-family:inherit;font-size:12px}
@media (max-width:640px){.wrap{padding:0 14px}header.top .wrap{padding:20px 14px}h1{font-size:23px}
section.card{padding:18px 16px 6px;border-radius:10px}nav.toc ol{padding:8px 14px}}
@media print{body{background:#fff}nav.toc{display:none}section.card{box-shadow:none;border:0;padding:0}
.table-scroll{max-height:none;overflow:visible}figure,table{break-inside:avoid}}
)css";

// Runs first in <body>: records script errors, rejected promises and console
// errors/warnings as JSON arrays on <body>, so a headless browser's DOM dump shows them.
constexpr const char* kErrorCapture = R"js(
(function(){
  var b=document.body,errors=[],warnings=[];
  function put(){b.setAttribute('data-loupe-errors',JSON.stringify(errors));
    b.setAttribute('data-loupe-warnings',JSON.stringify(warnings));}
  function text(a){return Array.prototype.map.call(a,function(x){return x&&x.message?x.message:String(x);}).join(' ');}
  window.loupeError=function(m){errors.push(String(m));put();};
  window.addEventListener('error',function(e){loupeError((e.message||'script error')+(e.filename?' at '+e.lineno+':'+e.colno:''));});
  window.addEventListener('unhandledrejection',function(e){var r=e.reason;loupeError(r&&r.message?r.message:String(r));});
  var ce=console.error,cw=console.warn;
  console.error=function(){errors.push(text(arguments));put();return ce.apply(console,arguments);};
  console.warn=function(){warnings.push(text(arguments));put();return cw.apply(console,arguments);};
})();
)js";

// Renders every chart with vega-embed; counts the ones that drew an SVG.
constexpr const char* kRender = R"js(
(function(){
  var b=document.body,charts=document.querySelectorAll('div.vega-chart'),drawn=0;
  if(!charts.length)return;
  if(typeof vegaEmbed!=='function'){loupeError('vegaEmbed is not defined: the inlined Vega bundle did not load');return;}
  var font='system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif';
  var config={font:font,view:{stroke:null},padding:{left:4,top:6,right:12,bottom:4},
    axis:{labelColor:'#4b5563',titleColor:'#1f2937',titleFontWeight:600,titleFontSize:12,labelFontSize:11,
      gridColor:'#eceef1',domainColor:'#9ca3af',tickColor:'#9ca3af',titlePadding:10},
    legend:{labelColor:'#374151',titleColor:'#1f2937',titleFontWeight:600,titleFontSize:12,labelFontSize:11,labelLimit:220},
    range:{category:['#2563eb','#f97316','#059669','#dc2626','#7c3aed','#0891b2','#ca8a04','#db2777','#4b5563','#65a30d']},
    line:{strokeWidth:2},bar:{color:'#2563eb'}};
  charts.forEach(function(div){
    var spec;
    try{spec=JSON.parse(document.getElementById(div.id+'-spec').textContent);}
    catch(e){loupeError(div.id+': bad spec: '+e.message);return;}
    vegaEmbed(div,spec,{actions:false,renderer:'svg',mode:'vega-lite',config:config}).then(function(){
      if(div.querySelector('svg,canvas')){drawn++;b.setAttribute('data-loupe-charts-rendered',String(drawn));}
      else loupeError(div.id+': vega-embed finished but drew nothing');
    }).catch(function(e){loupeError(div.id+': '+(e&&e.message?e.message:String(e)));});
  });
})();
)js";

// A small magnifier mark for the header.
constexpr const char* kLogo =
    R"svg(<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><circle cx="10" cy="10" r="6.5"/><path d="M15 15l6 6"/></svg>)svg";

std::string generated_at() {
  // SOURCE_DATE_EPOCH (reproducible-builds.org) pins the date for byte-identical output.
  std::time_t t = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) t = std::time_t(std::atoll(epoch));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// Blank lines separate paragraphs; single newlines are kept as line breaks.
void paragraphs(std::ostream& os, const std::string& text) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    std::string para = text.substr(start, end - start);
    while (!para.empty() && para.front() == '\n') para.erase(0, 1);
    if (!para.empty()) {
      std::string escaped = html_escape(para);
      std::string out;
      for (char c : escaped) out += c == '\n' ? std::string("<br>") : std::string(1, c);
      os << "<p>" << out << "</p>\n";
    }
    start = end + 2;
  }
}

bool is_number(const json& v) { return v.is_number(); }

void table_html(std::ostream& os, const std::vector<std::string>& columns, const std::vector<std::vector<json>>& rows) {
  size_t ncols = columns.size();
  for (const auto& r : rows) ncols = std::max(ncols, r.size());
  // A column is numeric (right-aligned header too) when all its non-null cells are numbers.
  std::vector<bool> numeric(ncols, true);
  for (size_t c = 0; c < ncols; ++c) {
    bool any = false;
    for (const auto& r : rows) {
      if (c >= r.size() || r[c].is_null()) continue;
      any = true;
      numeric[c] = numeric[c] && is_number(r[c]);
    }
    numeric[c] = numeric[c] && any;
  }
  os << "<div class=\"table-scroll\"><table>";
  if (!columns.empty()) {
    os << "<thead><tr>";
    for (size_t c = 0; c < columns.size(); ++c)
      os << (numeric[c] ? "<th class=\"num\">" : "<th>") << html_escape(columns[c]) << "</th>";
    os << "</tr></thead>";
  }
  os << "<tbody>\n";
  for (const auto& r : rows) {
    os << "<tr>";
    for (size_t c = 0; c < r.size(); ++c) {
      const json& cell = r[c];
      const char* cls = cell.is_null()    ? (numeric[c] ? " class=\"num null\"" : " class=\"null\"")
                        : is_number(cell) ? " class=\"num\""
                                          : "";
      os << "<td" << cls << ">" << html_escape(detail::format_cell(cell)) << "</td>";
    }
    os << "</tr>\n";
  }
  os << "</tbody></table></div>\n";
}

// The numbers behind a chart: the builders' wide table if there is one, else the
// inline data rows with one column per field.
bool chart_table(const json& spec, std::vector<std::string>& columns, std::vector<std::vector<json>>& rows) {
  if (const auto um = spec.find("usermeta"); um != spec.end() && um->is_object()) {
    const json* t = nullptr;
    if (auto l = um->find("loupe"); l != um->end() && l->is_object())
      if (auto tt = l->find("table"); tt != l->end() && tt->is_object()) t = &*tt;
    if (t && t->value("columns", json()).is_array() && t->value("rows", json()).is_array()) {
      for (const auto& c : (*t)["columns"]) columns.push_back(c.is_string() ? c.get<std::string>() : c.dump());
      for (const auto& r : (*t)["rows"])
        rows.push_back(r.is_array() ? r.get<std::vector<json>>() : std::vector<json>{r});
      return true;
    }
  }
  const auto data = spec.find("data");
  if (data == spec.end() || !data->is_object() || !data->contains("values") || !(*data)["values"].is_array())
    return false;
  const json& values = (*data)["values"];
  for (const auto& v : values) {
    if (!v.is_object()) continue;
    for (const auto& [k, _] : v.items())
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  }
  for (const auto& v : values) {
    std::vector<json> row;
    for (const auto& c : columns) row.push_back(v.is_object() && v.contains(c) ? v[c] : json(nullptr));
    rows.push_back(std::move(row));
  }
  return !columns.empty();
}

void figure_html(std::ostream& os, const Figure& f) {
  const auto size = detail::png_size(f.png);
  // Small images (28x28 digits, 64x64 renders) are enlarged by a whole factor and drawn
  // with hard pixel edges, so they stay crisp instead of blurry.
  const int longest = std::max(1, std::max(size.width, size.height));
  int scale = std::clamp(int(std::lround(240.0 / longest)), 1, 8);
  if (longest <= 400) scale = std::max(scale, 2);
  const int w = size.width * scale, h = size.height * scale;
  os << "<figure class=\"img\" style=\"width:" << w << "px\"><img" << (scale > 1 ? " class=\"pixelated\"" : "")
     << " width=\"" << w << "\" height=\"" << h << "\" alt=\"" << html_escape(f.caption)
     << "\" src=\"data:image/png;base64," << detail::base64_encode(f.png) << "\">";
  if (!f.caption.empty()) os << "<figcaption>" << html_escape(f.caption) << "</figcaption>";
  os << "</figure>\n";
}

void chart_html(std::ostream& os, const Chart& c, int id, bool with_vega) {
  std::vector<std::string> columns;
  std::vector<std::vector<json>> rows;
  const bool has_table = chart_table(c.spec, columns, rows);
  os << "<figure class=\"chart\">";
  if (!c.caption.empty()) os << "<figcaption class=\"caption\">" << html_escape(c.caption) << "</figcaption>";
  if (with_vega) {
    json spec = c.spec;
    // The wide table is shown as HTML below; the renderer does not need a second copy.
    if (auto um = spec.find("usermeta"); um != spec.end() && um->is_object()) {
      um->erase("loupe");
      if (um->empty()) spec.erase("usermeta");
    }
    os << "<div class=\"vega-chart\" id=\"chart-" << id << "\" role=\"img\" aria-label=\"" << html_escape(c.caption)
       << "\"></div><script type=\"application/json\" id=\"chart-" << id << "-spec\">" << detail::json_for_script(spec)
       << "</script>\n";
    if (has_table) {
      os << "<details class=\"chart-data\"><summary>Data</summary>";
      table_html(os, columns, rows);
      os << "</details>";
    }
  } else {
    os << "<p class=\"note\">Interactive charts need a loupe build with npm, which bundles Vega "
          "(see cmake/vega.cmake)."
       << (has_table ? " The chart's data:" : "") << "</p>";
    if (has_table) {
      os << "<details class=\"chart-data\" open><summary>Data</summary>";
      table_html(os, columns, rows);
      os << "</details>";
    }
  }
  os << "</figure>\n";
}

}  // namespace

std::string Report::html() const {
  const std::string bundle = detail::read_vega_bundle();
  const bool with_vega = !bundle.empty();
  int charts = 0;
  for (const auto& s : sections_)
    for (const auto& item : s.items) charts += item.kind == Item::Kind::chart;

  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<meta name=\"generator\" content=\"loupe\">\n<title>" << html_escape(title_) << "</title>\n<style>" << kCss
     << "</style>\n</head>\n";
  os << "<body data-loupe-errors=\"[]\" data-loupe-warnings=\"[]\" data-loupe-charts=\"" << (with_vega ? charts : 0)
     << "\" data-loupe-charts-rendered=\"0\">\n<script>" << kErrorCapture << "</script>\n";

  os << "<header class=\"top\"><div class=\"wrap\"><div class=\"kicker\">" << kLogo << "loupe report</div><h1>"
     << html_escape(title_) << "</h1>";
  if (!subtitle_.empty()) os << "<p class=\"subtitle\">" << html_escape(subtitle_) << "</p>";
  os << "<p class=\"meta\">Generated " << generated_at() << "</p></div></header>\n";

  // Untitled sections (items added before the first section()) are not listed.
  std::vector<std::pair<int, const Section*>> titled;
  for (size_t i = 0; i < sections_.size(); ++i)
    if (!sections_[i].title.empty()) titled.emplace_back(int(titled.size() + 1), &sections_[i]);
  if (titled.size() >= 2) {
    os << "<nav class=\"toc\" aria-label=\"Contents\"><ol>";
    for (const auto& [n, s] : titled)
      os << "<li><a href=\"#section-" << n << "\"><span class=\"n\">" << n << "</span>" << html_escape(s->title)
         << "</a></li>";
    os << "</ol></nav>\n";
  }

  os << "<main class=\"wrap\">\n";
  int chart_id = 0, section_number = 0;
  for (const auto& s : sections_) {
    if (s.title.empty()) {
      os << "<section class=\"card\">\n";
    } else {
      ++section_number;
      os << "<section class=\"card\" id=\"section-" << section_number << "\">\n<h2>";
      if (titled.size() >= 2) os << "<span class=\"n\">" << section_number << "</span>";
      os << html_escape(s.title) << "</h2>\n";
    }
    for (size_t i = 0; i < s.items.size(); ++i) {
      const Item& item = s.items[i];
      switch (item.kind) {
        case Item::Kind::text:
          paragraphs(os, item.text);
          break;
        case Item::Kind::table:
          os << "<div class=\"block\">";
          if (!item.table.caption.empty())
            os << "<div class=\"caption\">" << html_escape(item.table.caption) << "</div>";
          table_html(os, item.table.columns, item.table.rows);
          os << "</div>\n";
          break;
        case Item::Kind::figure: {
          // Consecutive figures share one wrapping row.
          os << "<div class=\"gallery\">\n";
          for (; i < s.items.size() && s.items[i].kind == Item::Kind::figure; ++i) figure_html(os, s.items[i].figure);
          --i;
          os << "</div>\n";
          break;
        }
        case Item::Kind::chart:
          chart_html(os, item.chart, ++chart_id, with_vega);
          break;
        case Item::Kind::link:
          os << "<p class=\"link\"><a href=\"" << html_escape(item.href) << "\">" << html_escape(item.text)
             << "</a></p>\n";
          break;
      }
    }
    os << "</section>\n";
  }
  os << "</main>\n<footer class=\"wrap\">Every number in this report is also in <code>metrics.json</code> beside "
        "it. Made with loupe.</footer>\n";
  if (with_vega && charts > 0) {
    // The bundle is trusted build output; this guard only keeps a stray "</script" in
    // a string literal from ending the element early.
    std::string safe;
    safe.reserve(bundle.size());
    for (size_t i = 0; i < bundle.size(); ++i) {
      if (bundle[i] == '<' && i + 1 < bundle.size() && bundle[i + 1] == '/' &&
          bundle.compare(i + 2, 6, "script") == 0) {
        safe += "<\\/";
        ++i;
      } else {
        safe += bundle[i];
      }
    }
    os << "<script>\n" << safe << "\n</script>\n<script>" << kRender << "</script>\n";
  }
  os << "</body>\n</html>\n";
  return os.str();
}

}  // namespace loupe::report
