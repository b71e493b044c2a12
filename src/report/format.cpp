#include "report/format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef LOUPE_VEGA_BUNDLE_PATH
#define LOUPE_VEGA_BUNDLE_PATH ""
#endif
#ifndef LOUPE_VEGA_INSTALLED_PATH
#define LOUPE_VEGA_INSTALLED_PATH ""
#endif

namespace loupe::report::detail {

std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint32_t(uint8_t(bytes[i + 2]));
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "\u221e" : "\u2212\u221e";
  if (x == 0) return "0";
  char buf[64];
  // Round to 4 significant digits first, so 999.96 becomes 1000 (not "1000.0").
  std::snprintf(buf, sizeof buf, "%.3e", x);
  const double r = std::strtod(buf, nullptr);
  const double a = std::fabs(r);
  if (a >= 1e7 || a < 1e-4) return buf;
  const int before_point = static_cast<int>(std::floor(std::log10(a))) + 1;
  const int decimals = before_point >= 4 ? 0 : 4 - before_point;
  // Integer part never rounded away: 12345.6 prints as 12346.
  std::snprintf(buf, sizeof buf, "%.*f", decimals, before_point > 4 ? x : r);
  return buf;
}

std::string format_cell(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "\u2014";
    case nlohmann::json::value_t::string:
      return value.get<std::string>();
    case nlohmann::json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::number_integer:
      return std::to_string(value.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return std::to_string(value.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return format_number(value.get<double>());
    default:
      return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

std::string json_for_script(const nlohmann::json& value) {
  // Invalid UTF-8 in user strings (e.g. Latin-1 file names) becomes U+FFFD instead of throwing.
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    // Outside strings JSON never contains these characters, so escaping every one is valid JSON.
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out;
}

PngSize png_size(std::string_view png) {
  static constexpr char signature[] = "\x89PNG\r\n\x1a\n";
  if (png.size() < 24 || png.substr(0, 8) != std::string_view(signature, 8) || png.substr(12, 4) != "IHDR") return {};
  auto be32 = [&](size_t at) {
    return int((uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
               (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3])));
  };
  return {be32(16), be32(20)};
}

std::string vega_bundle_path() {
  const char* env = std::getenv("LOUPE_VEGA_BUNDLE");
  if (env && *env) return env;
  // The build tree's bundle, else the installed one (cmake --install).
  std::error_code ec;
  if (std::filesystem::exists(LOUPE_VEGA_BUNDLE_PATH, ec)) return LOUPE_VEGA_BUNDLE_PATH;
  return LOUPE_VEGA_INSTALLED_PATH;
}

std::string read_vega_bundle() {
  const std::string path = vega_bundle_path();
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) return "";
  return os.str();
}

}  // namespace loupe::report::detail
