// Internal pieces of the HTML writer, exposed to the tests: base64 (RFC 4648, with
// padding), HTML escaping, number formatting for tables (4 significant digits) and
// JSON that is safe to embed inside <script>.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace loupe::report::detail {

std::string base64_encode(std::string_view bytes);

// Escapes & < > " ' so text is safe in element content and in quoted attributes.
std::string html_escape(std::string_view text);

// 4 significant digits, keeping trailing zeros so a column lines up ("0.5000");
// never drops integer digits (12345.6 -> "12346"); exponent outside [1e-4, 1e7).
std::string format_number(double x);

// One table cell's text: numbers via format_number (integers in full), strings as
// they are, null as an em dash, objects/arrays as compact JSON. Not escaped.
std::string format_cell(const nlohmann::json& value);

// JSON text with <, > and & written as \u escapes, so "</script>" inside a string
// cannot end the enclosing <script> element. Non-finite numbers become null.
std::string json_for_script(const nlohmann::json& value);

// Width and height from a PNG's IHDR chunk; {0, 0} when the bytes are not a PNG.
struct PngSize {
  int width = 0, height = 0;
};
PngSize png_size(std::string_view png);

// The inlined Vega bundle's path: $LOUPE_VEGA_BUNDLE if set, else the build's.
std::string vega_bundle_path();
// The bundle's text, or "" when it is missing, unreadable or empty.
std::string read_vega_bundle();

}  // namespace loupe::report::detail
